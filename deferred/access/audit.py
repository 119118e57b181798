"""The audit log's shapes: who acted (`Actor`) and what the log keeps (`AuditEntry`); and
`StoredToken`, an API token an admin made at run time.

Every launch, cancel, retry, pause and resume that comes over HTTP (the API or the UI) is written in the same
transaction as the change itself, so there is never a change without its entry; logins are
logged too. A bulk action has one entry, written with its first batch and brought up to date
by each later batch's transaction, so it always counts what has committed. Entries outlive the tasks they name (retention does not delete them).
"""

from __future__ import annotations

import dataclasses
import datetime
import enum

MAX_DETAIL_CHARS = 500


class AuditAction(str, enum.Enum):
    """What was done."""

    LAUNCH = "launch"
    CHAIN = "chain"
    CANCEL = "cancel"
    RETRY = "retry"
    LOGIN = "login"
    LOGIN_FAILED = "login_failed"
    LOGOUT = "logout"
    TOKEN_CREATED = "token_created"
    TOKEN_REVOKED = "token_revoked"
    PAUSE = "pause"  # a task type: nothing of it starts until it is resumed
    RESUME = "resume"
    BULK_CANCEL = "bulk_cancel"  # one entry for a whole bulk action (deferred.bulk)
    BULK_RETRY = "bulk_retry"
    BULK_DELETE = "bulk_delete"

    def __str__(self) -> str:
        return self.value


@dataclasses.dataclass(frozen=True)
class Actor:
    """Who asked, and from where: a token's or user's name and role label, and the client's
    address as the server saw it (the proxy's, behind a proxy)."""

    name: str
    role: str
    address: str


@dataclasses.dataclass(frozen=True)
class AuditEntry:
    """One line of the audit log."""

    id: int
    at: datetime.datetime
    actor: Actor
    action: AuditAction
    task_id: int | None
    task_name: str | None
    detail: str


@dataclasses.dataclass(frozen=True)
class StoredToken:
    """An API token kept in the database (by its hash, which is never shown)."""

    name: str
    role: str
    created_at: datetime.datetime
    created_by: str


def clip_detail(text: str) -> str:
    """A detail as the log keeps it: at most `MAX_DETAIL_CHARS` characters."""
    return text if len(text) <= MAX_DETAIL_CHARS else text[:MAX_DETAIL_CHARS - 1] + "…"
