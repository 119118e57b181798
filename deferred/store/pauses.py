"""`SqlPauses`: the task types paused on every server of the database
(`deferred_paused_task_types`), and what a turn's claims leave out because of them.

On SQLite this server is the only one that writes the database (the one-server lock), so the
pauses are also kept in memory, changed under the write lock together with their row: a turn
leaves the paused names out without a query. On PostgreSQL each claim reads them under the
claim lock, in the statement that counts the cluster's running tasks
(`cluster.cluster_room`), and a change sends `NOTIFY` so that the other servers look again.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from ..access.audit import Actor, AuditAction
from ..interfaces import PausedNames, PausedType
from ..records import utcnow
from . import cluster
from .access import audit_values, insert_audit
from .database import Database
from .schema import paused_task_types

Narrow = Callable[[sa.Connection, Mapping[str, int], int], tuple[dict[str, int], int]]


class SqlPauses:
    """The paused task types in `database` (a `PauseStore`). Each method is one
    transaction."""

    def __init__(self, database: Database) -> None:
        self._db = database
        self._insert = (postgresql.insert if database.is_shared else sqlite.insert)(
            paused_task_types).on_conflict_do_nothing(index_elements=["name"])
        # SQLite: every pause, read once; changed only here, under the write lock.
        self._kept: dict[str, PausedType] | None = None
        if not database.is_shared:
            with database.read("read the paused task types") as conn:
                self._kept = _read(conn)

    def pause(self, name: str, actor: Actor | None = None) -> PausedType:
        """Pause `name` with the `actor`'s audit entry; one already paused is left as it
        is. Returns the pause."""
        def keep(outcome: tuple[PausedType, bool]) -> None:
            paused, changed = outcome
            if changed and self._kept is not None:
                self._kept = {**self._kept, name: paused}

        return self._db.write_then("pause the task type",
                                   lambda conn: self._add(conn, name, actor), keep)[0]

    def _add(self, conn: sa.Connection, name: str, actor: Actor | None
             ) -> tuple[PausedType, bool]:
        found = _read(conn, name).get(name)
        if found is not None:
            return found, False
        paused = PausedType(name, utcnow(), "" if actor is None else actor.name[:100])
        inserted = conn.execute(self._insert, {"name": name, "paused_at": paused.paused_at,
                                               "paused_by": paused.paused_by}).rowcount
        if not inserted:  # another server paused it in between (PostgreSQL)
            return _read(conn, name)[name], False
        if actor is not None:
            insert_audit(conn, [audit_values(actor, AuditAction.PAUSE, None, name)])
        if self._db.is_shared:
            cluster.notify(conn, cluster.PAUSES_NOTICE)
        return paused, True

    def resume(self, name: str, actor: Actor | None = None) -> bool:
        """Resume `name` with the `actor`'s audit entry; False if it was not paused."""
        def keep(deleted: bool) -> None:
            if deleted and self._kept is not None:
                self._kept = {key: value for key, value in self._kept.items() if key != name}

        return self._db.write_then("resume the task type",
                                   lambda conn: self._remove(conn, name, actor), keep)

    def _remove(self, conn: sa.Connection, name: str, actor: Actor | None) -> bool:
        deleted = conn.execute(sa.delete(paused_task_types).where(
            paused_task_types.c.name == name)).rowcount
        if not deleted:
            return False
        if actor is not None:
            insert_audit(conn, [audit_values(actor, AuditAction.RESUME, None, name)])
        if self._db.is_shared:
            cluster.notify(conn, cluster.PAUSES_NOTICE)
        return True

    def paused(self) -> dict[str, PausedType]:
        """The paused task types, by name."""
        if self._kept is not None:
            return dict(self._kept)
        with self._db.read("read the paused task types") as conn:
            return _read(conn)

    def names(self) -> PausedNames:
        """The paused names now, and when they were read."""
        as_of = time.monotonic()  # before the reading: it shows what committed before
        if self._kept is not None:
            return PausedNames(frozenset(self._kept), as_of)
        with self._db.read("read the paused task types") as conn:
            return PausedNames(frozenset(_read(conn)), as_of)

    def leave_out(self) -> Narrow | None:
        """On SQLite, under the write lock: how a turn leaves the paused names out of its
        room (None when nothing is paused)."""
        kept = self._kept
        if not kept:
            return None

        def narrow(conn: sa.Connection, room: Mapping[str, int], total: int
                   ) -> tuple[dict[str, int], int]:
            return {name: slots for name, slots in room.items() if name not in kept}, total

        return narrow


def read_names(conn: sa.Connection) -> frozenset[str]:
    """The paused names, in the caller's transaction."""
    return frozenset(conn.execute(sa.select(paused_task_types.c.name)).scalars())


def _read(conn: sa.Connection, name: str | None = None) -> dict[str, PausedType]:
    query = sa.select(paused_task_types)
    if name is not None:
        query = query.where(paused_task_types.c.name == name)
    return {row.name: PausedType(row.name, row.paused_at, row.paused_by)
            for row in conn.execute(query)}
