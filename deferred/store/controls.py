"""`TaskControls`: what a store does to tasks after they are stored (cancel, retry,
progress, delays due, periodic firings, retention), mixed into `SqlTaskStore`. Each method is
one transaction through the store's `_write` / `_read`."""

from __future__ import annotations

import contextlib
import datetime
from collections.abc import Callable, Sequence

import sqlalchemy as sa

from ..access.audit import Actor, AuditAction
from ..errors import StoreRejectedError
from ..records import EmailStatus, TaskRecord, TaskStatus, utcnow
from . import cluster
from .access import audit_values, insert_audit
from .schema import firings, outbox, task_attempts, task_files, tasks

PRIORITY_STEP_S = 60.0
"""Each priority point starts a task as if it had been submitted this much earlier: higher
priorities go first, and a lower one waits at most this long per point of difference."""


class TaskControls:
    """Cancel, retry, progress, firings and retention (needs `SqlTaskStore`'s `_write`,
    `_read`, `get`, `is_shared` and `server_id`)."""

    server_id: str
    is_shared: bool
    _write: Callable[[str], contextlib.AbstractContextManager[sa.Connection]]
    _read: Callable[[str], contextlib.AbstractContextManager[sa.Connection]]
    get: Callable[[int], TaskRecord | None]

    def next_run_at(self) -> datetime.datetime | None:
        """When the earliest delayed queued record becomes due, if any is not yet."""
        with self._read("read the delayed tasks") as conn:
            return conn.execute(sa.select(sa.func.min(tasks.c.run_at)).where(
                tasks.c.status == TaskStatus.QUEUED.value, tasks.c.run_at > utcnow())
            ).scalar_one()

    def cancel(self, task_id: int, actor: Actor | None = None) -> TaskRecord | None:
        """Cancel a queued record at once (CANCELLED, finished now), or mark a running one as
        asked to stop; the record afterwards, None if there is none. With an `actor`, the
        audit entry commits with the change (none when nothing changed)."""
        with self._write("cancel the task") as conn:
            cancelled = conn.execute(
                tasks.update().where(tasks.c.id == task_id,
                                     tasks.c.status == TaskStatus.QUEUED.value)
                .values(status=TaskStatus.CANCELLED.value, finished_at=utcnow())
                .returning(tasks.c.name)).scalar_one_or_none()
            asked = conn.execute(
                tasks.update().where(tasks.c.id == task_id,
                                     tasks.c.status == TaskStatus.RUNNING.value,
                                     tasks.c.cancel_requested.is_(False))
                .values(cancel_requested=True).returning(tasks.c.name)).scalar_one_or_none()
            if actor is not None and (cancelled or asked):
                insert_audit(conn, [audit_values(
                    actor, AuditAction.CANCEL, task_id, cancelled or asked,
                    "cancelled while queued" if cancelled else "asked to stop while running")])
        return self.get(task_id)

    def fire(self, name: str, fire_at: datetime.datetime) -> bool:
        """Submit the firing `fire_at` of the periodic task `name` (params {}), unless some
        server already did: the task and its firing row commit together. True if stored."""
        now = utcnow()
        exists = sa.select(firings.c.task_id).where(firings.c.schedule == name,
                                                    firings.c.fire_at == fire_at)
        try:
            with self._write("fire a periodic task") as conn:
                if conn.execute(exists).first() is not None:
                    return False
                task_id = conn.execute(tasks.insert().returning(tasks.c.id), {
                    "name": name, "params": "{}", "email": None, "created_at": now,
                    "status": TaskStatus.QUEUED.value, "attempts": 0, "priority": 0,
                    "sort_key": now.timestamp(), "cancel_requested": False}).scalar_one()
                conn.execute(firings.insert().values(schedule=name, fire_at=fire_at,
                                                     task_id=task_id))
                if self.is_shared:
                    cluster.notify(conn)
        except StoreRejectedError:  # another server stored this firing in between
            return False
        return True

    def delete_finished(self, finished_before: datetime.datetime, *,
                        names: Sequence[str] | None = None,
                        except_names: Sequence[str] = (), limit: int = 500) -> int:
        """Delete up to `limit` records that finished before `finished_before` (of `names`
        when given, none of `except_names`), with their files and history; a record whose
        email is still to be sent is kept. Returns how many were deleted."""
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
        with self._write("delete old finished tasks") as conn:
            ids = list(conn.execute(doomed).scalars())
            if not ids:
                return 0
            for table in (task_files, task_attempts, outbox):  # not left to the database's
                conn.execute(table.delete().where(table.c.task_id.in_(ids)))  # cascade
            conn.execute(firings.update().where(firings.c.task_id.in_(ids))
                         .values(task_id=None))
            return conn.execute(tasks.delete().where(tasks.c.id.in_(ids))).rowcount

    def last_firing(self, name: str) -> datetime.datetime | None:
        """The time of the latest stored firing of the periodic task `name`."""
        with self._read("read the firings") as conn:
            return conn.execute(sa.select(sa.func.max(firings.c.fire_at))
                                .where(firings.c.schedule == name)).scalar_one()

    def cancel_requests(self, task_ids: Sequence[int]) -> list[int]:
        """Which of these records, running here, were asked to stop."""
        with self._read("read cancel requests") as conn:
            return list(conn.execute(sa.select(tasks.c.id).where(
                tasks.c.id.in_(list(task_ids)), tasks.c.cancel_requested.is_(True),
                tasks.c.status == TaskStatus.RUNNING.value)).scalars())

    def set_progress(self, task_id: int, attempt: int, percent: float,
                     message: str | None) -> bool:
        """Record a running task's progress; False if that attempt no longer runs here."""
        with self._write("record progress") as conn:
            return bool(conn.execute(
                tasks.update().where(tasks.c.id == task_id,
                                     tasks.c.status == TaskStatus.RUNNING.value,
                                     tasks.c.owner == self.server_id,
                                     tasks.c.attempts == attempt)
                .values(progress_percent=percent, progress_message=message)).rowcount)

    def retry(self, task_id: int, actor: Actor | None = None) -> TaskRecord | None:
        """Queue a FAILED, CANCELLED or TIMED_OUT record again, keeping its history; the record
        afterwards (unchanged in any other status), None if there is none. With an `actor`,
        the audit entry commits with the change."""
        now = utcnow()
        with self._write("retry the task") as conn:
            name = conn.execute(tasks.update().where(
                tasks.c.id == task_id, tasks.c.status.in_(
                    [TaskStatus.FAILED.value, TaskStatus.CANCELLED.value,
                     TaskStatus.TIMED_OUT.value]))
                .values(status=TaskStatus.QUEUED.value, owner=None, run_at=None,
                        started_at=None, finished_at=None, cancel_requested=False,
                        sort_key=now.timestamp() - tasks.c.priority * PRIORITY_STEP_S)
                .returning(tasks.c.name)).scalar_one_or_none()
            if actor is not None and name is not None:
                insert_audit(conn, [audit_values(actor, AuditAction.RETRY, task_id, name)])
            if self.is_shared:
                cluster.notify(conn)
        return self.get(task_id)
