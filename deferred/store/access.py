"""`SqlAccessStore`: the audit log, the UI's login sessions and the API tokens made at run
time.

An audit entry of a change is written by the change's own transaction (`insert_audit`); the
entries of logins and the sessions have transactions of their own here.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence

import sqlalchemy as sa

from ..access.audit import Actor, AuditAction, AuditEntry, StoredToken, clip_detail
from ..records import utcnow
from .database import Database
from .schema import api_tokens, audit_log, sessions

_ADDRESS_CHARS = 64


def audit_values(actor: Actor, action: AuditAction, task_id: int | None,
                 task_name: str | None, detail: str = "") -> dict[str, object]:
    """The row of one audit entry, clipped to the columns."""
    return {"at": utcnow(), "actor": actor.name[:100], "role": actor.role[:16],
            "address": actor.address[:_ADDRESS_CHARS], "action": action.value,
            "task_id": task_id, "task_name": task_name, "detail": clip_detail(detail)}


def insert_audit(conn: sa.Connection, rows: Sequence[dict[str, object]]) -> None:
    """Write audit rows in the caller's transaction."""
    if rows:
        conn.execute(audit_log.insert(), list(rows))


class SqlAccessStore:
    """The audit log, sessions and stored tokens in `database` (an `AccessStore`)."""

    def __init__(self, database: Database) -> None:
        self._db = database

    def record_audit(self, actor: Actor, action: AuditAction, *, task_id: int | None = None,
                     task_name: str | None = None, detail: str = "") -> None:
        """Write one audit entry in a transaction of its own (logins, logouts)."""
        with self._db.write("write the audit log") as conn:
            insert_audit(conn, [audit_values(actor, action, task_id, task_name, detail)])

    def audit_entries(self, *, limit: int, before_id: int | None = None,
                      task_id: int | None = None) -> list[AuditEntry]:
        """Audit entries newest first (older than `before_id`; of one task)."""
        query = sa.select(audit_log).order_by(audit_log.c.id.desc()).limit(limit)
        if before_id is not None:
            query = query.where(audit_log.c.id < before_id)
        if task_id is not None:
            query = query.where(audit_log.c.task_id == task_id)
        with self._db.read("read the audit log") as conn:
            return [AuditEntry(id=row.id, at=row.at,
                               actor=Actor(row.actor, row.role, row.address),
                               action=AuditAction(row.action), task_id=row.task_id,
                               task_name=row.task_name, detail=row.detail)
                    for row in conn.execute(query)]

    def open_session(self, token_hash: str, principal: str, role: str, credential: str,
                     expires_at: datetime.datetime) -> None:
        """Store a new login session by the hash of its cookie, with what it was opened with
        (`credential`); drop expired ones."""
        now = utcnow()
        with self._db.write("store the session") as conn:
            conn.execute(sessions.delete().where(sessions.c.expires_at <= now))
            conn.execute(sessions.insert().values(
                token_hash=token_hash, principal=principal, role=role, credential=credential,
                created_at=now, expires_at=expires_at))

    def find_session(self, token_hash: str) -> tuple[str, str, str] | None:
        """The (principal, role, credential) of a live session, None if unknown or
        expired."""
        with self._db.read("read the session") as conn:
            row = conn.execute(sa.select(sessions.c.principal, sessions.c.role,
                                         sessions.c.credential).where(
                sessions.c.token_hash == token_hash, sessions.c.expires_at > utcnow())
            ).one_or_none()
        return None if row is None else (row.principal, row.role, row.credential)

    def close_session(self, token_hash: str) -> bool:
        """Forget a session (log out); False if there was none."""
        with self._db.write("end the session") as conn:
            return bool(conn.execute(
                sessions.delete().where(sessions.c.token_hash == token_hash)).rowcount)

    def add_token(self, name: str, role: str, token_hash: str, actor: Actor) -> bool:
        """Store a new API token by its hash, with its audit entry; False if the name is
        taken."""
        with self._db.write("store the API token") as conn:
            if conn.execute(sa.select(api_tokens.c.name).where(api_tokens.c.name == name)
                            ).first() is not None:
                return False
            conn.execute(api_tokens.insert().values(name=name, role=role,
                                                    token_hash=token_hash,
                                                    created_at=utcnow(),
                                                    created_by=actor.name[:100]))
            insert_audit(conn, [audit_values(actor, AuditAction.TOKEN_CREATED, None, None,
                                             f"token {name!r} with the role {role!r}")])
        return True

    def stored_tokens(self) -> list[StoredToken]:
        """The API tokens made at run time, by name (never their hashes)."""
        with self._db.read("read the API tokens") as conn:
            return [StoredToken(row.name, row.role, row.created_at, row.created_by)
                    for row in conn.execute(sa.select(api_tokens).order_by(api_tokens.c.name))]

    def find_token(self, token_hash: str) -> tuple[str, str] | None:
        """The (name, role) of the stored token with this hash, None if there is none."""
        with self._db.read("read the API token") as conn:
            row = conn.execute(sa.select(api_tokens.c.name, api_tokens.c.role).where(
                api_tokens.c.token_hash == token_hash)).one_or_none()
        return None if row is None else (row.name, row.role)

    def revoke_token(self, name: str, actor: Actor) -> bool:
        """Delete a stored token, with its audit entry; False if there is none by that name."""
        with self._db.write("revoke the API token") as conn:
            hashed = conn.execute(sa.select(api_tokens.c.token_hash).where(
                api_tokens.c.name == name)).scalar_one_or_none()
            deleted = conn.execute(api_tokens.delete().where(api_tokens.c.name == name)).rowcount
            if deleted:  # and the UI sessions opened with it
                conn.execute(sessions.delete().where(
                    sessions.c.credential == f"token:{hashed}"))
                insert_audit(conn, [audit_values(actor, AuditAction.TOKEN_REVOKED, None, None,
                                                 f"token {name!r}")])
        return bool(deleted)
