"""The mail seams: the outbox of result emails a store keeps, and what a mailer sends."""

from __future__ import annotations

import dataclasses
import datetime
from typing import Any, Protocol

from ..records import EmailStatus, PendingEmail, TaskError, TaskStatus


class Outbox(Protocol):
    """Result emails waiting to be sent (each written with its task's outcome)."""

    def claim(self, limit: int) -> list[PendingEmail]:
        """Mark up to `limit` due emails as being sent here; return them."""

    def finish(self, outbox_id: int, attempt: int, status: EmailStatus, *,
               error: str | None = None, retry_at: datetime.datetime | None = None) -> bool:
        """Record how a try went; False if the email was no longer being sent here."""

    def requeue_interrupted(self) -> int:
        """Put back the emails an earlier run was sending when it stopped."""

    def next_due(self) -> datetime.datetime | None:
        """When the next pending email is due, if any."""

    def counts(self) -> dict[str, int]:
        """How many result emails are in each state."""


@dataclasses.dataclass(frozen=True)
class MailFile:
    """A result file to attach to an email, or to link to when the attachments are too big."""

    name: str
    content_type: str
    data: bytes
    url: str


@dataclasses.dataclass(frozen=True)
class OutgoingMail:
    """A finished task's result (or failure) to email to `recipient`."""

    task_id: int
    task_name: str
    status: TaskStatus
    recipient: str
    result: Any = None  # the JSON value: a string goes as is, anything else as JSON
    error: TaskError | None = None
    files: tuple[MailFile, ...] = ()
    created_at: datetime.datetime | None = None  # with the id, makes the Message-ID unique


class Mailer(Protocol):
    """Sends one email. Raises `MailDeliveryError` saying whether a retry can help."""

    def send(self, mail: OutgoingMail) -> None:
        """Build the message for `mail` and hand it to the SMTP server."""
