"""Runs that a server's stop or death interrupted: RUNNING → QUEUED after a back-off, or
FAILED once a task has been interrupted too often (a task that kills its server).

Each interrupted run is counted on its row, in the guarded `UPDATE` that finds it still
running for the server that is gone, so two servers that find the same orphan count it once.
What follows is an ordinary finish (`transitions.finish_claimed`): a retry with its attempt
in the history, or a final failure with its email.
"""

from __future__ import annotations

import datetime
import random
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa

from ..config import RecoveryConfig
from ..records import Outcome, TaskError, TaskRecord, TaskStatus
from .hot_path import CoreHotPath
from .rows import record_from_row
from .schema import tasks
from .transitions import finish_claimed

INTERRUPTED = "Interrupted"
"""The error type of an interrupted run, in its history and in a final failure."""
JITTER = 0.25  # a back-off is drawn within this fraction either side of its nominal value

RUNNING = TaskStatus.RUNNING.value


def requeue_interrupted(conn: sa.Connection, hot: CoreHotPath, gone: sa.ColumnElement[bool],
                        policy: RecoveryConfig, now: datetime.datetime,
                        draw: Callable[[], float] = random.random) -> list[TaskRecord]:
    """The running rows whose server is `gone` (a condition on the owner), each counted as
    interrupted once more: QUEUED again after a back-off, or FAILED at
    `policy.max_interrupted_runs`. Their records afterwards, by id. `draw` gives the jitter
    (a number in [0, 1))."""
    candidates = conn.execute(sa.select(tasks).where(tasks.c.status == RUNNING, gone)
                              .order_by(tasks.c.id)).all()
    counted = []
    for row in candidates:
        count = conn.execute(
            tasks.update().where(tasks.c.id == row.id, tasks.c.status == RUNNING,
                                 tasks.c.owner == row.owner, tasks.c.attempts == row.attempts)
            .values(interruptions=tasks.c.interruptions + 1)
            .returning(tasks.c.interruptions)).scalar_one_or_none()
        if count is not None:  # else another server found it first
            counted.append((record_from_row(row), count))
    by_owner: dict[str, list[tuple[Outcome, TaskRecord]]] = {}
    for record, count in counted:
        outcome = _outcome(record, count, policy, now, draw)
        by_owner.setdefault(record.owner or "", []).append((outcome, record))
    for owner, finished in by_owner.items():
        finish_claimed(conn, hot, finished, owner, now)
    return _read(conn, [record.id for record, _ in counted])


def _outcome(record: TaskRecord, count: int, policy: RecoveryConfig,
             now: datetime.datetime, draw: Callable[[], float]) -> Outcome:
    """A final failure at the limit, else a retry after the back-off."""
    limit = policy.max_interrupted_runs
    common: dict[str, Any] = {"started_at": record.started_at, "finished_at": now,
                              "email": record.email}
    if record.cancel_requested:  # it was to stop anyway: it did not finish its work
        return Outcome(record.id, record.attempts, TaskStatus.CANCELLED, error=TaskError(
            INTERRUPTED, "the server stopped while running it, after it was asked to stop"),
            **common)
    if count >= limit:
        times = "once" if count == 1 else f"{count} times"
        return Outcome(record.id, record.attempts, TaskStatus.FAILED, error=TaskError(
            INTERRUPTED, f"the server stopped {times} while running it; it is not run again "
                         f"(recovery.max_interrupted_runs is {limit})"), **common)
    delay_s = policy.backoff_after_s(count) * (1.0 + JITTER * (2.0 * draw() - 1.0))
    retry_at = now + datetime.timedelta(seconds=delay_s)
    return Outcome(record.id, record.attempts, TaskStatus.QUEUED, error=TaskError(
        INTERRUPTED, f"the server stopped while running it ({count} of {limit} times); it "
                     f"runs again after {delay_s:.1f}s"), retry_at=retry_at, **common)


def _read(conn: sa.Connection, ids: list[int]) -> list[TaskRecord]:
    if not ids:
        return []
    rows = conn.execute(sa.select(tasks).where(tasks.c.id.in_(ids)).order_by(tasks.c.id))
    return [record_from_row(row) for row in rows]
