"""Every change of a task row's status, each in one named function run in the caller's
transaction.

    new ──insert_tasks──▶ QUEUED ──start──▶ RUNNING ──finish_runs──▶ SUCCEEDED, FAILED,
                            ▲   (or RUNNING at once)      │            CANCELLED, TIMED_OUT
                            ├── finish_runs, a retry left ┤
                            └── requeue_interrupted ──────┘ (its server stopped or died)
    QUEUED ──cancel──▶ CANCELLED          RUNNING ──cancel──▶ RUNNING, asked to stop
    FAILED, CANCELLED, TIMED_OUT ──queue_again──▶ QUEUED
    finished ──delete_finished──▶ gone (with its files, history and sent email)
"""

from __future__ import annotations

import datetime
import logging
import secrets
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from ..jsontext import encode_json
from ..mediatypes import guess_media_type
from ..records import ChainStep, EmailStatus, Outcome, TaskStatus, utcnow
from .outbox import outcome_email
from .rows import chain_from_json, chain_to_json
from .schema import firings, outbox, task_attempts, task_files, tasks
from .statements import HotStatements

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


def running_row(row: dict[str, Any], owner: str, now: datetime.datetime) -> dict[str, Any]:
    """`row` (a `new_row`) started at once by `owner`, its first attempt."""
    return {**row, "status": RUNNING, "attempts": 1, "owner": owner, "started_at": now}


def insert_tasks(conn: sa.Connection, rows: Sequence[dict[str, Any]]) -> list[sa.Row[Any]]:
    """new → QUEUED (or RUNNING): store `rows` and return them, in order, as stored."""
    return list(conn.execute(tasks.insert().returning(*tasks.c, sort_by_parameter_order=True),
                             list(rows)).all())


def start(conn: sa.Connection, hot: HotStatements, ids: Sequence[int], owner: str,
          now: datetime.datetime) -> list[sa.Row[Any]]:
    """QUEUED → RUNNING: `ids`, claimed by `owner`, attempt count raised; their rows."""
    return list(conn.execute(hot.mark_running, {"ids": list(ids), "owner": owner, "now": now}))


def finish_runs(conn: sa.Connection, hot: HotStatements, outcomes: Sequence[Outcome],
                owner: str) -> int:
    """RUNNING → a final status, or QUEUED again when a retry is left: each outcome of a run
    by `owner`, with its attempt in the history, its files, its email and a chain's next step
    (committed with the success before it). An outcome whose record no longer runs that
    attempt there is dropped and logged. Returns how many follow-up tasks were queued."""
    if not outcomes:
        return 0
    running = {row.id: row for row in conn.execute(
        hot.running_here, {"ids": [outcome.task_id for outcome in outcomes], "owner": owner})}
    current, follow_ups = [], []
    now = utcnow()
    for outcome in outcomes:
        row = running.get(outcome.task_id)
        if row is None or row.attempts != outcome.attempt:
            logger.warning("task %s attempt %s is no longer running here; its outcome is "
                           "dropped", outcome.task_id, outcome.attempt)
            continue
        current.append((outcome, row.email))
        if outcome.status is TaskStatus.SUCCEEDED and row.chain_next:
            first, *rest = chain_from_json(row.chain_next)
            follow_ups.append(new_row(first.task_name, encode_json(first.params), now,
                                      priority=row.priority, parent_id=row.id,
                                      chain_next=rest))
    if follow_ups:
        conn.execute(tasks.insert(), follow_ups)
    if not current:
        return len(follow_ups)
    conn.execute(hot.insert_attempt, [{
        "task_id": outcome.task_id, "number": outcome.attempt, "status": outcome.status.value,
        "owner": owner, "started_at": outcome.started_at,
        "finished_at": outcome.finished_at or now, "error_type": outcome.error and outcome.error.type,
        "error_message": outcome.error and outcome.error.message} for outcome, _ in current])
    retried = [outcome for outcome, _ in current if outcome.retry_at is not None]
    if retried:
        conn.execute(hot.retry_later, [
            {**_outcome_values(outcome, owner, now), "b_retry_at": outcome.retry_at,
             "b_retry_ts": outcome.retry_at.timestamp(), "b_step": PRIORITY_STEP_S}
            for outcome in retried if outcome.retry_at is not None])
        current = [(outcome, email) for outcome, email in current if outcome.retry_at is None]
    if current:
        _write_outcomes(conn, hot, current, owner, now)
    return len(follow_ups)


def _write_outcomes(conn: sa.Connection, hot: HotStatements,
                    current: Sequence[tuple[Outcome, str | None]], owner: str,
                    now: datetime.datetime) -> None:
    conn.execute(hot.write_outcome, [_outcome_values(outcome, owner, now)
                                     for outcome, _ in current])
    files = [{"task_id": outcome.task_id, "position": position,
              "token": secrets.token_urlsafe(FILE_TOKEN_BYTES), "name": item.name,
              "content_type": item.content_type or guess_media_type(item.name),
              "size_bytes": len(item.data), "data": item.data}
             for outcome, _ in current for position, item in enumerate(outcome.files)]
    if files:
        conn.execute(hot.insert_file, files)
    emails = [outcome_email(outcome, email) for outcome, email in current if email]
    if emails:  # the result and its email commit together
        conn.execute(hot.insert_email, emails)


def _outcome_values(outcome: Outcome, owner: str, now: datetime.datetime) -> dict[str, Any]:
    error = outcome.error
    return {"b_id": outcome.task_id, "b_owner": owner, "b_attempt": outcome.attempt,
            "b_status": outcome.status.value, "b_result": outcome.result_json,
            "b_error_type": error and error.type, "b_error_message": error and error.message,
            "b_error_traceback": error and error.traceback,
            "b_finished_at": outcome.finished_at or now}


def requeue_interrupted(conn: sa.Connection, gone: sa.ColumnElement[bool]
                        ) -> list[sa.Row[Any]]:
    """RUNNING → QUEUED: the running rows whose server is `gone` (a condition on the owner),
    to run again with their attempt count raised; their rows, by id."""
    rows = conn.execute(tasks.update().where(tasks.c.status == RUNNING, gone)
                        .values(status=QUEUED, owner=None, started_at=None)
                        .returning(*tasks.c)).all()
    return sorted(rows, key=lambda row: row.id)


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
                cancel_requested=False,
                sort_key=now.timestamp() - tasks.c.priority * PRIORITY_STEP_S)
        .returning(tasks.c.name)).scalar_one_or_none()


def delete_finished(conn: sa.Connection, finished_before: datetime.datetime, *,
                    names: Sequence[str] | None, except_names: Sequence[str],
                    limit: int) -> int:
    """finished → gone: up to `limit` records finished before `finished_before` (of `names`
    when given, none of `except_names`), with their files, history and emails; a record
    whose email is still to be sent is kept. How many were deleted."""
    terminal = [status.value for status in TaskStatus if status.is_terminal]
    mailing = sa.select(outbox.c.task_id).where(
        outbox.c.status.in_([EmailStatus.PENDING.value, EmailStatus.SENDING.value]))
    doomed = (sa.select(tasks.c.id)
              .where(tasks.c.status.in_(terminal), tasks.c.finished_at < finished_before,
                     tasks.c.id.not_in(mailing))
              .order_by(tasks.c.id).limit(limit))
    if names is not None:
        doomed = doomed.where(tasks.c.name.in_(list(names)))
    if except_names:
        doomed = doomed.where(tasks.c.name.not_in(list(except_names)))
    ids = list(conn.execute(doomed).scalars())
    if not ids:
        return 0
    for table in (task_files, task_attempts, outbox):  # not left to the database's cascade
        conn.execute(table.delete().where(table.c.task_id.in_(ids)))
    conn.execute(firings.update().where(firings.c.task_id.in_(ids)).values(task_id=None))
    return int(conn.execute(tasks.delete().where(tasks.c.id.in_(ids))).rowcount)
