"""`SqlOutbox`: the result emails waiting to be sent, claimed by the mailer thread, and their
delivery state shown on task records. An email's row is written with its task's outcome
(`outcome_email`, in the finishing transaction)."""

from __future__ import annotations

import datetime
import logging
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from ..records import EmailDelivery, EmailStatus, Outcome, PendingEmail, StoredFile, utcnow
from .database import Database
from .rows import FILE_COLUMNS, record_from_row, stored_file_from_row
from .schema import outbox, task_files, tasks

logger = logging.getLogger(__name__)


class SqlOutbox:
    """The outbox of `database`, sent from by the server `server_id`."""

    def __init__(self, database: Database, server_id: str) -> None:
        self._db = database
        self._server_id = server_id

    def claim(self, limit: int) -> list[PendingEmail]:
        """Mark up to `limit` due emails as being sent here; return them with their task
        records and file contents."""
        with self._db.read("read the outbox") as conn:
            if not any_due(conn, utcnow()):
                return []
        with self._db.write("claim emails") as conn:
            rows = claim_due(conn, self._server_id, limit, utcnow())
            if not rows:
                return []
            task_ids = [row.task_id for row in rows]
            records = {row.id: row for row in conn.execute(
                sa.select(tasks).where(tasks.c.id.in_(task_ids))).all()}
            file_rows = conn.execute(sa.select(*FILE_COLUMNS, task_files.c.data)
                                     .where(task_files.c.task_id.in_(task_ids))
                                     .order_by(task_files.c.position)).all()
        files: dict[int, list[tuple[StoredFile, bytes]]] = {}
        for row in file_rows:
            files.setdefault(row.task_id, []).append((stored_file_from_row(row), bytes(row.data)))
        return [PendingEmail(outbox_id=row.id, attempt=row.attempts,
                             record=record_from_row(records[row.task_id],
                                                    [f for f, _ in files.get(row.task_id, [])]),
                             files=tuple(files.get(row.task_id, [])))
                for row in rows]

    def finish(self, outbox_id: int, attempt: int, status: EmailStatus, *,
               error: str | None = None, retry_at: datetime.datetime | None = None) -> bool:
        """Record how a try went: SENT, FAILED, or PENDING again at `retry_at`. False if the
        email was no longer being sent here."""
        with self._db.write("record the email's delivery") as conn:
            done = finish_sending(conn, outbox_id, self._server_id, attempt, status=status,
                                  error=error, retry_at=retry_at, now=utcnow())
        if not done:
            logger.warning("email %s try %s is no longer being sent here", outbox_id, attempt)
        return done

    def requeue_interrupted(self) -> int:
        """Put back the emails an earlier run was sending when it stopped. On a shared
        database the task store's `requeue_running` does it, for dead servers only."""
        if self._db.is_shared:
            return 0
        with self._db.write("queue interrupted emails again") as conn:
            return requeue_sending(conn, self._server_id)

    def next_due(self) -> datetime.datetime | None:
        """When the next pending email is due, if any."""
        with self._db.read("read the outbox") as conn:
            return next_due(conn)

    def counts(self) -> dict[str, int]:
        """How many result emails are in each state (PENDING, SENDING, SENT, FAILED)."""
        with self._db.read("count emails") as conn:
            rows = conn.execute(sa.select(outbox.c.status, sa.func.count())
                                .group_by(outbox.c.status)).all()
        return {status: count for status, count in rows}


def outcome_email(outcome: Outcome, recipient: str) -> dict[str, Any]:
    """The outbox row of a finished task's email."""
    finished_at = outcome.finished_at or utcnow()
    return {"task_id": outcome.task_id, "recipient": recipient,
            "status": EmailStatus.PENDING.value, "attempts": 0, "created_at": finished_at,
            "next_attempt_at": finished_at}


def any_due(conn: sa.Connection, now: datetime.datetime) -> bool:
    """True if a pending email is due (a read, to spare the write lock when none is)."""
    return conn.execute(sa.select(outbox.c.id)
                        .where(outbox.c.status == EmailStatus.PENDING.value,
                               outbox.c.next_attempt_at <= now).limit(1)).first() is not None


def claim_due(conn: sa.Connection, owner: str, limit: int,
              now: datetime.datetime) -> list[sa.Row[Any]]:
    """Mark up to `limit` due pending emails as being sent by `owner`; return their rows."""
    due = (sa.select(outbox.c.id)
           .where(outbox.c.status == EmailStatus.PENDING.value, outbox.c.next_attempt_at <= now)
           .order_by(outbox.c.next_attempt_at, outbox.c.id).limit(limit)
           .with_for_update(skip_locked=True))
    ids = list(conn.execute(due).scalars())
    if not ids:
        return []
    rows = conn.execute(
        outbox.update()
        .where(outbox.c.id.in_(ids), outbox.c.status == EmailStatus.PENDING.value)
        .values(status=EmailStatus.SENDING.value, owner=owner, attempts=outbox.c.attempts + 1)
        .returning(*outbox.c)).all()
    return sorted(rows, key=lambda row: row.id)


def finish_sending(conn: sa.Connection, outbox_id: int, owner: str, attempt: int, *,
                   status: EmailStatus, error: str | None, retry_at: datetime.datetime | None,
                   now: datetime.datetime) -> bool:
    """Record how a try went; False if the email is no longer being sent by `owner`."""
    values: dict[str, Any] = {"status": status.value, "owner": None, "last_error": error}
    if status is EmailStatus.SENT:
        values["sent_at"] = now
    if retry_at is not None:
        values["next_attempt_at"] = retry_at
    return conn.execute(
        outbox.update()
        .where(outbox.c.id == outbox_id, outbox.c.status == EmailStatus.SENDING.value,
               outbox.c.owner == owner, outbox.c.attempts == attempt)
        .values(values)).rowcount == 1


def requeue_sending(conn: sa.Connection, owner: str) -> int:
    """Put back emails a gone server was sending (its SMTP hand-off may or may not have
    happened: the one window where an email can be sent twice)."""
    return conn.execute(
        outbox.update()
        .where(outbox.c.status == EmailStatus.SENDING.value, outbox.c.owner != owner)
        .values(status=EmailStatus.PENDING.value, owner=None)).rowcount


def next_due(conn: sa.Connection) -> datetime.datetime | None:
    """When the next pending email is due, if any."""
    return conn.execute(sa.select(sa.func.min(outbox.c.next_attempt_at))
                        .where(outbox.c.status == EmailStatus.PENDING.value)).scalar_one()


def deliveries(conn: sa.Connection, task_ids: Sequence[int]) -> dict[int, EmailDelivery]:
    """The latest email of each task, by task id."""
    if not task_ids:
        return {}
    rows = conn.execute(sa.select(outbox).where(outbox.c.task_id.in_(list(task_ids)))
                        .order_by(outbox.c.id)).all()
    return {row.task_id: EmailDelivery(
        status=EmailStatus(row.status), recipient=row.recipient, attempts=row.attempts,
        last_error=row.last_error, next_attempt_at=row.next_attempt_at, sent_at=row.sent_at)
        for row in rows}
