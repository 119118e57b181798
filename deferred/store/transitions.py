"""Every change of a task row's status, each in one named function run in the caller's
transaction.

    new ──insert_tasks──▶ QUEUED ──start──▶ RUNNING ──finish_runs──▶ SUCCEEDED, FAILED,
                            ▲   (or RUNNING at once)      │            CANCELLED, TIMED_OUT
                            ├── finish_runs, a retry left ┤
                            └── (recovery) interrupted ───┘ its server stopped or died; a
                                                            final FAILED when too often
    QUEUED ──cancel──▶ CANCELLED          RUNNING ──cancel──▶ RUNNING, asked to stop
    FAILED, CANCELLED, TIMED_OUT ──queue_again──▶ QUEUED
    finished ──delete_finished──▶ gone (with its files, history and sent email)

A bulk action (`deferred.bulk`) has the same changes for a batch of ids, guarded by the same
statuses: `cancel_ids`, `queue_again_ids`, `delete_finished_ids`; `bulk_applies` is their
guard, for counting ahead what a batch would change.
"""

from __future__ import annotations

import dataclasses
import datetime
import logging
import secrets
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from ..access.audit import Actor, AuditAction
from ..bulk import BulkAction
from ..interfaces import NewTask
from ..jsontext import encode_json
from ..mediatypes import guess_media_type
from ..records import ChainStep, EmailStatus, Outcome, TaskRecord, TaskStatus, utcnow
from .access import audit_values
from .outbox import outcome_email
from .rows import chain_from_json, chain_to_json
from .schema import firings, outbox, task_attempts, task_files, tasks
from .hot_path import CoreHotPath

logger = logging.getLogger(__name__)

PRIORITY_STEP_S = 60.0
"""Each priority point starts a task as if it had been submitted this much earlier: higher
priorities go first, and a lower one waits at most this long per point of difference."""
FILE_TOKEN_BYTES = 32  # 256 bits: a link to a result file is an unguessable capability
QUEUED, RUNNING = TaskStatus.QUEUED.value, TaskStatus.RUNNING.value
_RETRYABLE = (TaskStatus.FAILED.value, TaskStatus.CANCELLED.value, TaskStatus.TIMED_OUT.value)


def new_row(name: str, params_json: str, now: datetime.datetime, *, email: str | None = None,
            run_at: datetime.datetime | None = None, priority: int = 0,
            idempotency_key: str | None = None, timeout_s: float | None = None,
            parent_id: int | None = None, chain_next: Sequence[ChainStep] = ()
            ) -> dict[str, Any]:
    """The row of a new queued task, due at `run_at` (or now), ordered by its priority."""
    return {"name": name, "params": params_json, "email": email, "created_at": now,
            "status": QUEUED, "attempts": 0, "owner": None, "started_at": None,
            "run_at": run_at, "priority": priority, "idempotency_key": idempotency_key,
            "sort_key": (run_at or now).timestamp() - priority * PRIORITY_STEP_S,
            "cancel_requested": False, "timeout_s": timeout_s, "parent_id": parent_id,
            "chain_next": chain_to_json(chain_next)}


def new_task_row(task: NewTask, now: datetime.datetime) -> dict[str, Any]:
    """The row of a submitted task, queued."""
    options = task.options
    return new_row(task.name, encode_json(task.params), now, email=task.email,
                   run_at=options.run_at, priority=options.priority,
                   idempotency_key=options.idempotency_key, timeout_s=options.timeout_s,
                   parent_id=options.parent_id, chain_next=task.chain_next)


def is_delayed_row(row: dict[str, Any], now: datetime.datetime) -> bool:
    """True if the row may not start yet."""
    return row["run_at"] is not None and row["run_at"] > now


def running_row(row: dict[str, Any], owner: str, now: datetime.datetime) -> dict[str, Any]:
    """`row` (a `new_row`) started at once by `owner`, its first attempt."""
    return {**row, "status": RUNNING, "attempts": 1, "owner": owner, "started_at": now}


def new_record(task_id: int, row: dict[str, Any], task: NewTask) -> TaskRecord:
    """The record of `row` as just stored under `task_id` (no read back)."""
    return TaskRecord(id=task_id, name=row["name"], params=task.params,
                      status=TaskStatus(row["status"]), attempts=row["attempts"],
                      owner=row["owner"], email=row["email"], created_at=row["created_at"],
                      started_at=row["started_at"], run_at=row["run_at"],
                      priority=row["priority"], idempotency_key=row["idempotency_key"],
                      timeout_s=row["timeout_s"], parent_id=row["parent_id"],
                      chain_next=task.chain_next)


def launch_audit(actor: Actor | None, record: TaskRecord) -> dict[str, object]:
    """The audit row of a launch (or a chain's) by `actor`."""
    assert actor is not None
    if record.chain_next:
        return audit_values(actor, AuditAction.CHAIN, record.id, record.name,
                            f"a chain of {len(record.chain_next) + 1} tasks")
    return audit_values(actor, AuditAction.LAUNCH, record.id, record.name)


def insert_task_ids(conn: sa.Connection, hot: CoreHotPath,
                    rows: Sequence[dict[str, Any]]) -> list[int]:
    """new → QUEUED (or RUNNING): store `rows`; their ids, in order."""
    return hot.insert_new(conn, list(rows))


def insert_keyed(conn: sa.Connection, hot: CoreHotPath, row: dict[str, Any]) -> int | None:
    """new → QUEUED (or RUNNING) under an idempotency key: its id, None if the key is
    taken."""
    return conn.execute(hot.statements.insert_keyed, row).scalar_one_or_none()


def insert_tasks(conn: sa.Connection, rows: Sequence[dict[str, Any]]) -> list[sa.Row[Any]]:
    """new → QUEUED (or RUNNING): store `rows` and return them, in order, as stored."""
    return list(conn.execute(tasks.insert().returning(*tasks.c, sort_by_parameter_order=True),
                             list(rows)).all())


@dataclasses.dataclass(frozen=True)
class Finished:
    """What `finish_claimed` did: whether it queued a chain's next step, the earliest time a
    retry it queued may start, and the outcomes it dropped (task id and attempt)."""

    queued: bool = False
    next_due: datetime.datetime | None = None
    dropped: frozenset[tuple[int, int]] = frozenset()


def finish_claimed(conn: sa.Connection, hot: CoreHotPath,
                   finished: Sequence[tuple[Outcome, TaskRecord]], owner: str,
                   now: datetime.datetime) -> Finished:
    """RUNNING → a final status, or QUEUED again when a retry is left: each outcome with the
    record its claim returned, written only if that record still runs that attempt for
    `owner`; with its attempt in the history, its files, its email and a chain's next step
    (committed with the success before it). An outcome no longer this run's is dropped and
    logged."""
    if not finished:
        return Finished()
    final = [(outcome, record) for outcome, record in finished if outcome.retry_at is None]
    retried = [(outcome, record) for outcome, record in finished
               if outcome.retry_at is not None]
    written = _write_final(conn, hot, final, owner, now) if final else []
    written_retries = []
    for outcome, record in retried:  # rare: one statement each, for its row count
        assert outcome.retry_at is not None
        if conn.execute(hot.statements.retry_later, {
                **_outcome_values(outcome, owner, now), "b_retry_at": outcome.retry_at,
                "b_retry_ts": outcome.retry_at.timestamp(),
                "b_step": PRIORITY_STEP_S}).rowcount:
            written_retries.append((outcome, record))
        else:
            log_dropped(outcome)
    every = written + written_retries
    dropped = frozenset((outcome.task_id, outcome.attempt) for outcome, _ in finished) - {
        (outcome.task_id, outcome.attempt) for outcome, _ in every}
    if not every:
        return Finished(dropped=dropped)
    hot.insert_attempts(conn, [_attempt_values(outcome, owner, now) for outcome, _ in every])
    _write_results(conn, hot, [(outcome, record.email) for outcome, record in written])
    follow_ups = [new_row(first.task_name, encode_json(first.params), now,
                          priority=record.priority, parent_id=record.id, chain_next=rest)
                  for outcome, record in written
                  if outcome.status is TaskStatus.SUCCEEDED and record.chain_next
                  for first, *rest in [record.chain_next]]
    if follow_ups:
        conn.execute(tasks.insert(), follow_ups)
    return Finished(queued=bool(follow_ups),
                    next_due=min((outcome.retry_at for outcome, _ in written_retries
                                  if outcome.retry_at is not None), default=None),
                    dropped=dropped)


def _write_final(conn: sa.Connection, hot: CoreHotPath,
                 final: list[tuple[Outcome, TaskRecord]], owner: str,
                 now: datetime.datetime) -> list[tuple[Outcome, TaskRecord]]:
    """The guarded UPDATE of every final outcome in one `executemany`; those it wrote."""
    count = hot.write_final(conn, [_outcome_values(outcome, owner, now)
                                   for outcome, _ in final])
    if count == len(final) and conn.dialect.supports_sane_multi_rowcount:
        return final
    # Fewer rows than outcomes: read which rows hold what was just written. Only this
    # owner writes a final status for its own attempt, so a match is this write.
    now_held = {row.id: row for row in conn.execute(
        hot.statements.written_here, {"ids": [outcome.task_id for outcome, _ in final], "owner": owner})}
    written = []
    for outcome, record in final:
        row = now_held.get(outcome.task_id)
        if row is not None and row.attempts == outcome.attempt \
                and row.status == outcome.status.value:
            written.append((outcome, record))
        else:
            log_dropped(outcome)
    return written


def log_dropped(outcome: Outcome) -> None:
    """Say that an outcome was not stored: its record no longer runs that attempt here."""
    logger.warning("task %s attempt %s is no longer running here; its outcome is dropped",
                   outcome.task_id, outcome.attempt)


def _attempt_values(outcome: Outcome, owner: str, now: datetime.datetime) -> dict[str, Any]:
    error = outcome.error
    return {"task_id": outcome.task_id, "number": outcome.attempt,
            "status": outcome.status.value, "owner": owner, "started_at": outcome.started_at,
            "finished_at": outcome.finished_at or now,
            "error_type": error and error.type, "error_message": error and error.message}


def release_unstarted(conn: sa.Connection, hot: CoreHotPath,
                      records: Sequence[TaskRecord], owner: str) -> int:
    """RUNNING → QUEUED: records claimed by `owner` that never started, their attempt not
    counted. How many were still this owner's to release."""
    if not records:
        return 0
    return int(conn.execute(hot.statements.release_unstarted, [
        {"b_id": record.id, "b_owner": owner, "b_attempt": record.attempts}
        for record in records]).rowcount)


def _write_results(conn: sa.Connection, hot: CoreHotPath,
                   current: Sequence[tuple[Outcome, str | None]]) -> None:
    """The files and emails of outcomes just written."""
    files = [{"task_id": outcome.task_id, "position": position,
              "token": secrets.token_urlsafe(FILE_TOKEN_BYTES), "name": item.name,
              "content_type": item.content_type or guess_media_type(item.name),
              "size_bytes": len(item.data), "data": item.data}
             for outcome, _ in current for position, item in enumerate(outcome.files)]
    if files:
        conn.execute(hot.statements.insert_file, files)
    emails = [outcome_email(outcome, email) for outcome, email in current if email]
    if emails:  # the result and its email commit together
        conn.execute(hot.statements.insert_email, emails)


def _outcome_values(outcome: Outcome, owner: str, now: datetime.datetime) -> dict[str, Any]:
    error = outcome.error
    return {"b_id": outcome.task_id, "b_owner": owner, "b_attempt": outcome.attempt,
            "b_status": outcome.status.value, "b_result": outcome.result_json,
            "b_error_type": error and error.type, "b_error_message": error and error.message,
            "b_error_traceback": error and error.traceback,
            "b_started_at": outcome.started_at, "b_finished_at": outcome.finished_at or now}


def cancel(conn: sa.Connection, task_id: int, now: datetime.datetime
           ) -> tuple[str | None, bool]:
    """QUEUED → CANCELLED (finished now), or RUNNING → asked to stop. The task's name if
    either happened (None if neither), and whether it was cancelled while queued."""
    cancelled = conn.execute(
        tasks.update().where(tasks.c.id == task_id, tasks.c.status == QUEUED)
        .values(status=TaskStatus.CANCELLED.value, finished_at=now)
        .returning(tasks.c.name)).scalar_one_or_none()
    if cancelled is not None:
        return cancelled, True
    asked = conn.execute(
        tasks.update().where(tasks.c.id == task_id, tasks.c.status == RUNNING,
                             tasks.c.cancel_requested.is_(False))
        .values(cancel_requested=True).returning(tasks.c.name)).scalar_one_or_none()
    return asked, False


def queue_again(conn: sa.Connection, task_id: int, now: datetime.datetime) -> str | None:
    """FAILED, CANCELLED or TIMED_OUT → QUEUED, due now, its history kept; the task's name,
    None if it is in no such status."""
    return conn.execute(
        tasks.update().where(tasks.c.id == task_id, tasks.c.status.in_(_RETRYABLE))
        .values(status=QUEUED, owner=None, run_at=None, started_at=None, finished_at=None,
                cancel_requested=False, interruptions=0,
                sort_key=now.timestamp() - tasks.c.priority * PRIORITY_STEP_S)
        .returning(tasks.c.name)).scalar_one_or_none()


def delete_finished(conn: sa.Connection, finished_before: datetime.datetime, *,
                    names: Sequence[str] | None, except_names: Sequence[str],
                    limit: int) -> int:
    """finished → gone: up to `limit` records finished before `finished_before` (of `names`
    when given, none of `except_names`), with their files, history and emails; a record
    whose email is still to be sent is kept. How many were deleted."""
    doomed = (sa.select(tasks.c.id)
              .where(_is_finished(), tasks.c.finished_at < finished_before,
                     tasks.c.id.not_in(_mailing()))
              .order_by(tasks.c.id).limit(limit))
    if names is not None:
        doomed = doomed.where(tasks.c.name.in_(list(names)))
    if except_names:
        doomed = doomed.where(tasks.c.name.not_in(list(except_names)))
    ids = list(conn.execute(doomed).scalars())
    return _delete_rows(conn, ids) if ids else 0


def _delete_rows(conn: sa.Connection, ids: Sequence[int]) -> int:
    """Delete the rows of `ids` with their files, history and emails; how many went."""
    for table in (task_files, task_attempts, outbox):  # not left to the database's cascade
        conn.execute(table.delete().where(table.c.task_id.in_(ids)))
    conn.execute(firings.update().where(firings.c.task_id.in_(ids)).values(task_id=None))
    return int(conn.execute(tasks.delete().where(tasks.c.id.in_(ids))).rowcount)


def _mailing() -> sa.Select[Any]:
    """The ids of records whose email is still to be sent (kept until it is)."""
    return sa.select(outbox.c.task_id).where(
        outbox.c.status.in_([EmailStatus.PENDING.value, EmailStatus.SENDING.value]))


def _is_finished() -> sa.ColumnElement[bool]:
    return tasks.c.status.in_([status.value for status in TaskStatus if status.is_terminal])


def _may_ask_to_stop() -> sa.ColumnElement[bool]:
    return sa.and_(tasks.c.status == RUNNING, tasks.c.cancel_requested.is_(False))


def bulk_applies(action: BulkAction) -> sa.ColumnElement[bool]:
    """The rows the transition of `action` changes: the guard of `cancel_ids`,
    `queue_again_ids` or `delete_finished_ids`."""
    if action is BulkAction.CANCEL:
        return sa.or_(tasks.c.status == QUEUED, _may_ask_to_stop())
    if action is BulkAction.RETRY:
        return tasks.c.status.in_(_RETRYABLE)
    return sa.and_(_is_finished(), tasks.c.id.not_in(_mailing()))


def cancel_ids(conn: sa.Connection, ids: Sequence[int], now: datetime.datetime
               ) -> tuple[list[int], list[int]]:
    """QUEUED → CANCELLED (finished now), RUNNING → asked to stop, for those of `ids` in
    either status (and not yet asked): the ids cancelled, and the ids asked to stop."""
    cancelled = conn.execute(
        tasks.update().where(tasks.c.id.in_(ids), tasks.c.status == QUEUED)
        .values(status=TaskStatus.CANCELLED.value, finished_at=now)
        .returning(tasks.c.id)).scalars().all()
    asked = conn.execute(
        tasks.update().where(tasks.c.id.in_(ids), _may_ask_to_stop())
        .values(cancel_requested=True).returning(tasks.c.id)).scalars().all()
    return list(cancelled), list(asked)


def queue_again_ids(conn: sa.Connection, ids: Sequence[int], now: datetime.datetime
                    ) -> list[int]:
    """FAILED, CANCELLED or TIMED_OUT → QUEUED, due now, their history kept, for those of
    `ids` in such a status: their ids."""
    return list(conn.execute(
        tasks.update().where(tasks.c.id.in_(ids), tasks.c.status.in_(_RETRYABLE))
        .values(status=QUEUED, owner=None, run_at=None, started_at=None, finished_at=None,
                cancel_requested=False, interruptions=0,
                sort_key=now.timestamp() - tasks.c.priority * PRIORITY_STEP_S)
        .returning(tasks.c.id)).scalars().all())


def delete_finished_ids(conn: sa.Connection, ids: Sequence[int]) -> int:
    """finished → gone: those of `ids` that finished, with their files, history and emails;
    a record whose email is still to be sent is kept (as retention keeps it). How many
    were deleted."""
    doomed = list(conn.execute(sa.select(tasks.c.id).where(
        tasks.c.id.in_(ids), bulk_applies(BulkAction.DELETE))).scalars())
    return _delete_rows(conn, doomed) if doomed else 0
