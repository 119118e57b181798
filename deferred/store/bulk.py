"""Bulk actions in batches (see `deferred.bulk`): which rows a selection takes, how many an
action would change, and the action itself, one transaction per batch of ids.

Each batch reads its ids (the next ids of the selection, newest first, below the last batch's)
and changes them in the same write transaction, so its counts are exact; the write lock is
released between batches, and the dispatcher's turns run in between. Rows added while the
action runs are newer than its first batch and are left alone.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import sqlalchemy as sa

from ..access.audit import Actor, AuditAction
from ..bulk import BulkAction, BulkBatch, BulkCounts, TaskSelection
from ..records import MAX_TASK_ID, TaskStatus, utcnow
from . import cluster, transitions
from .access import audit_values
from .database import Database
from .reads import text_matches
from .schema import audit_log, tasks

BATCH_SIZE = 500
POSTGRES_MAX_ID = 2**31 - 1  # the id column is an INTEGER there
BATCH_PAUSE_S = 0.002
"""Between two batches: the write lock is a plain `threading.Lock`, not fair, and a thread
that releases it and asks again at once may win it back before a waiting writer (a
dispatcher's turn) has woken. This pause, 0.4 s over 100,000 rows, lets the waiting writers
go first."""
_AUDIT_ACTIONS = {BulkAction.CANCEL: AuditAction.BULK_CANCEL,
                  BulkAction.RETRY: AuditAction.BULK_RETRY,
                  BulkAction.DELETE: AuditAction.BULK_DELETE}


def storable_ids(ids: Iterable[int], dialect: str) -> list[int]:
    """Of `ids`, those a row can have: PostgreSQL's ids are 32-bit (a larger one names no
    record, and would be refused as out of range)."""
    top = POSTGRES_MAX_ID if dialect == "postgresql" else MAX_TASK_ID
    return [task_id for task_id in ids if 1 <= task_id <= top]


def selection_matches(selection: TaskSelection, *, dialect: str,
                      ignore_case_by_like: bool) -> sa.ColumnElement[bool]:
    """The rows a selection's filters take, as the task list filters them (`reads`)."""
    conditions: list[sa.ColumnElement[bool]] = []
    if selection.ids is not None:
        conditions.append(tasks.c.id.in_(storable_ids(set(selection.ids), dialect)))
    if selection.status is not None:
        conditions.append(tasks.c.status == TaskStatus(selection.status).value)
    elif selection.finished:
        conditions.append(tasks.c.status.not_in(
            [status.value for status in TaskStatus if not status.is_terminal]))
    if selection.name is not None:
        conditions.append(tasks.c.name == selection.name)
    if selection.text:
        conditions.append(text_matches(selection.text, ignore_case_by_like=ignore_case_by_like))
    return sa.and_(sa.true(), *conditions)


def count(conn: sa.Connection, selection: TaskSelection, *, at_most: int | None,
          ignore_case_by_like: bool) -> int:
    """How many rows the selection takes, counting no further than `at_most` when given."""
    rows = sa.select(tasks.c.id).where(selection_matches(
        selection, dialect=conn.dialect.name, ignore_case_by_like=ignore_case_by_like))
    if at_most is not None:
        rows = rows.limit(at_most)
    return int(conn.execute(sa.select(sa.func.count()).select_from(rows.subquery()))
               .scalar_one())


def preview(conn: sa.Connection, action: BulkAction, selection: TaskSelection, *,
            ignore_case_by_like: bool) -> BulkCounts:
    """What `action` would find and change now (`changed`: the rows its guard takes)."""
    applies = transitions.bulk_applies(action)
    matches = selection_matches(selection, dialect=conn.dialect.name,
                                ignore_case_by_like=ignore_case_by_like)
    matched, changed = conn.execute(
        sa.select(sa.func.count(), sa.func.count(sa.case((applies, 1)))).where(matches)).one()
    asked = 0
    if action is BulkAction.CANCEL:
        asked = int(conn.execute(sa.select(sa.func.count()).where(
            matches, tasks.c.status == TaskStatus.RUNNING.value,
            tasks.c.cancel_requested.is_(False))).scalar_one())
    not_found = len(set(selection.ids)) - matched if selection.ids is not None else 0
    return BulkCounts(matched=int(matched), changed=int(changed), asked_to_stop=asked,
                      not_found=not_found)


def run(database: Database, action: BulkAction, selection: TaskSelection,
        actor: Actor | None, *, batch_size: int = BATCH_SIZE,
        ignore_case_by_like: bool) -> Iterator[BulkBatch]:
    """Act on the selection a batch at a time, yielding each batch once it committed. With
    an `actor`, one audit entry is written with the first batch and brought up to date by
    each later batch, so it always counts what has committed (`(in progress)` until the
    last). On a shared database each batch that queued work wakes the other servers."""
    ids = sorted(set(selection.ids), reverse=True) if selection.ids is not None else None
    filters = selection_matches(dataclasses.replace(selection, ids=None),
                                dialect=database.dialect,
                                ignore_case_by_like=ignore_case_by_like)
    total, audit_id, below, done = BulkCounts(), None, None, False
    while not done:
        with database.write(f"{action} tasks") as conn:
            if ids is not None:
                chunk, ids = ids[:batch_size], ids[batch_size:]
                found = _existing(conn, chunk)
                done = not ids
                not_found = len(chunk) - len(found)
            else:
                found = _next_ids(conn, filters, below, batch_size)
                done = len(found) < batch_size
                below = found[-1] if found else below
                not_found = 0
            batch = _apply(conn, action, found, not_found)
            total += batch.counts
            if actor is not None:
                audit_id = _audit(conn, audit_id, actor, action, selection, total, done)
            if database.is_shared and batch.queued:
                cluster.notify(conn)
        yield batch
        if not done:
            time.sleep(BATCH_PAUSE_S)


def _existing(conn: sa.Connection, ids: Sequence[int]) -> list[int]:
    storable = storable_ids(ids, conn.dialect.name)
    if not storable:
        return []
    return list(conn.execute(sa.select(tasks.c.id).where(tasks.c.id.in_(storable))
                             .order_by(tasks.c.id.desc())).scalars())


def _next_ids(conn: sa.Connection, filters: sa.ColumnElement[bool], below: int | None,
              limit: int) -> list[int]:
    query = sa.select(tasks.c.id).where(filters).order_by(tasks.c.id.desc()).limit(limit)
    if below is not None:
        query = query.where(tasks.c.id < below)
    return list(conn.execute(query).scalars())


def _apply(conn: sa.Connection, action: BulkAction, ids: Sequence[int],
           not_found: int) -> BulkBatch:
    """The transition of `action` on `ids` (rows that exist), in the caller's transaction."""
    if not ids:
        return BulkBatch(BulkCounts(not_found=not_found))
    if action is BulkAction.CANCEL:
        cancelled, asked = transitions.cancel_ids(conn, ids, utcnow())
        return BulkBatch(BulkCounts(matched=len(ids), changed=len(cancelled) + len(asked),
                                    asked_to_stop=len(asked), not_found=not_found),
                         cancelled=tuple(cancelled), asked_to_stop=tuple(asked))
    if action is BulkAction.RETRY:
        queued = transitions.queue_again_ids(conn, ids, utcnow())
        return BulkBatch(BulkCounts(matched=len(ids), changed=len(queued),
                                    not_found=not_found), queued=tuple(queued))
    deleted = transitions.delete_finished_ids(conn, ids)
    return BulkBatch(BulkCounts(matched=len(ids), changed=deleted, not_found=not_found))


def audit_detail(action: BulkAction, counts: BulkCounts, selection: TaskSelection, *,
                 done: bool = True) -> str:
    """The audit entry's detail: `retried 10 of 12 matched, 2 skipped; filter
    status=FAILED` (the counts first: a long list of ids is what gets clipped)."""
    parts = [f"{action.done} {counts.changed} of {counts.matched} matched"]
    if counts.asked_to_stop:
        parts.append(f"{counts.asked_to_stop} of them asked to stop while running")
    parts.append(f"{counts.skipped} skipped")
    if counts.not_found:
        parts.append(f"{counts.not_found} not found")
    return (", ".join(parts) + f"; {selection.describe()}"
            + ("" if done else " (in progress)"))


def _audit(conn: sa.Connection, audit_id: int | None, actor: Actor, action: BulkAction,
           selection: TaskSelection, total: BulkCounts, done: bool) -> int:
    name = selection.name if selection.ids is None else None
    values: dict[str, Any] = audit_values(actor, _AUDIT_ACTIONS[action], None,
                                          name and name[:100],
                                          audit_detail(action, total, selection, done=done))
    if audit_id is None:
        return int(conn.execute(audit_log.insert().values(**values)
                                .returning(audit_log.c.id)).scalar_one())
    conn.execute(audit_log.update().where(audit_log.c.id == audit_id)
                 .values(detail=values["detail"]))
    return audit_id
