"""The outbox's statements: emails claimed by the mailer thread, and their delivery state
shown on task records (the rows are written with their task's outcome, in `sql_store`)."""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from ..records import EmailDelivery, EmailStatus
from .schema import outbox


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
