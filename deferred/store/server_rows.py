"""`SqlServers`: this server's row in `deferred_servers` (written at start, its heartbeat
refreshed, its state, removed at stop) and the list of every server's row for the servers
page, on SQLite as on PostgreSQL.

On PostgreSQL the rows are also who is alive to the others (`cluster`): times are the
database's clock, so that servers on machines whose clocks differ agree on who is dead. On
SQLite one server has the file (the OS lock), so a row of another server is a dead one's:
it is removed when a server starts, and times are this process's clock.
"""

from __future__ import annotations

import datetime
from typing import Any

import sqlalchemy as sa

from ..records import TaskStatus, utcnow
from ..servers import ServerInfo, ServerRecord, ServerState
from .database import Database
from .schema import servers, tasks
from .types import UtcDateTime

RUNNING_STATE, STOPPING_STATE = "running", "stopping"  # the state column's values


class SqlServers:
    """The row of the server `server_id` (with `info`) and the list of them all; a server
    whose heartbeat is older than `lease_s` is taken for dead."""

    def __init__(self, database: Database, server_id: str, info: ServerInfo,
                 lease_s: float) -> None:
        self._db, self._id, self._info, self._lease_s = database, server_id, info, lease_s
        self._state = RUNNING_STATE

    def _now(self) -> Any:
        """Now, on the clock heartbeats are compared on."""
        return sa.func.now() if self._db.is_shared else utcnow()

    def join(self) -> None:
        """Write this server's row with a fresh heartbeat; on SQLite, remove the rows of
        servers that died without removing theirs."""
        with self._db.write("announce the server") as conn:
            self._insert(conn)

    def _insert(self, conn: sa.Connection) -> None:
        if self._db.is_shared:
            conn.execute(sa.delete(servers).where(servers.c.id == self._id))
        else:
            conn.execute(sa.delete(servers))
        now = self._now()
        info = self._info
        conn.execute(servers.insert().values(
            id=self._id, host=info.host[:255], pid=info.pid, version=info.version[:32],
            pool_size=info.pool_size, state=self._state, started_at=now, heartbeat_at=now))

    def beat(self) -> bool:
        """Refresh the heartbeat: one short write. False when it had gone stale for longer
        than the lease (the server was paused, or cut off from the database), so that other
        servers may have queued its running tasks again meanwhile (PostgreSQL only); a row
        that was removed meanwhile is written again."""
        with self._db.write("refresh the heartbeat") as conn:
            if not self._db.is_shared:
                done = conn.execute(sa.update(servers).where(servers.c.id == self._id)
                                    .values(heartbeat_at=utcnow()))
                if not done.rowcount:
                    self._insert(conn)
                return True
            age_s = conn.execute(
                sa.select(sa.func.extract("epoch", sa.func.now() - servers.c.heartbeat_at))
                .where(servers.c.id == self._id).with_for_update()).scalar_one_or_none()
            if age_s is None:  # forgotten as long dead
                self._insert(conn)
                return False
            conn.execute(sa.update(servers).where(servers.c.id == self._id)
                         .values(heartbeat_at=sa.func.now()))
            return float(age_s) <= self._lease_s

    def mark_stopping(self) -> None:
        """Say in the row that this server's stop has begun."""
        self._state = STOPPING_STATE
        with self._db.write("mark the server as stopping") as conn:
            conn.execute(sa.update(servers).where(servers.c.id == self._id)
                         .values(state=STOPPING_STATE))

    def leave(self) -> None:
        """Remove this server's row: on PostgreSQL whatever it still has running is an
        orphan at once."""
        with self._db.write("remove the server's row") as conn:
            conn.execute(sa.delete(servers).where(servers.c.id == self._id))

    def list(self) -> list[ServerRecord]:
        """Every server's row, the oldest started first, with its running records."""
        running = (sa.select(tasks.c.owner, sa.func.count().label("running"))
                   .where(tasks.c.status == TaskStatus.RUNNING.value)
                   .group_by(tasks.c.owner).subquery())
        now = sa.func.now(type_=UtcDateTime) if self._db.is_shared else sa.null()
        query = (sa.select(servers, sa.func.coalesce(running.c.running, 0).label("running"),
                           now.label("now"))
                 .select_from(servers.outerjoin(running, running.c.owner == servers.c.id))
                 .order_by(servers.c.started_at, servers.c.id))
        with self._db.read("list the servers") as conn:
            rows = conn.execute(query).all()
        return [self._record(row, row.now or utcnow()) for row in rows]

    def _record(self, row: Any, now: datetime.datetime) -> ServerRecord:
        age_s = max(0.0, (now - row.heartbeat_at).total_seconds())
        if age_s > self._lease_s:
            state = ServerState.TAKEN_FOR_DEAD
        elif row.state == STOPPING_STATE:
            state = ServerState.STOPPING
        else:
            state = ServerState.ALIVE
        return ServerRecord(
            id=row.id, host=row.host, pid=row.pid, version=row.version,
            pool_size=row.pool_size, started_at=row.started_at, heartbeat_at=row.heartbeat_at,
            heartbeat_age_s=age_s, state=state, running_tasks=int(row.running))

