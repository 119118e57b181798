"""The schema lock: on PostgreSQL, one server at a time creates or upgrades the tables.

Servers of a fleet started together would otherwise all find the database empty (or older)
and all run `create_all()` (or the same upgrade): all but the first fail on a table or column
the first has just made. The lock is a session-level advisory lock, held on one connection
from before the version is read until the last upgrade is committed, so a server that waited
finds the version current and does nothing. A server that dies while holding it loses its
session, and with it the lock. SQLite needs none: one server per file (`SqliteServerLock`),
and `BEGIN IMMEDIATE` serializes the transactions of processes that share a file anyway.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator

import sqlalchemy as sa
import sqlalchemy.exc

from ..errors import StoreUnavailableError

logger = logging.getLogger(__name__)

# b"dfschema" as a bigint; the cluster's claim lock is b"deferred" (cluster.CLAIM_LOCK_KEY).
SCHEMA_LOCK_KEY = 0x6466736368656D61
WAIT_LIMIT_S = 600.0  # an upgrade of a large database may take minutes; then give up
FIRST_NOTICE_S = 2.0  # a wait longer than this is logged, then again every NOTICE_EVERY_S
NOTICE_EVERY_S = 30.0
LOCK_NOT_AVAILABLE = "55P03"  # SQLSTATE of a lock wait that ran out of lock_timeout


@contextlib.contextmanager
def schema_lock(engine: sa.Engine, wait_limit_s: float = WAIT_LIMIT_S
                ) -> Iterator[sa.Connection]:
    """A connection holding the schema lock (on PostgreSQL) until the block ends; run the
    schema's transactions on it, each in its own `conn.begin()`.

    Waits while another server holds the lock, saying so in the log after FIRST_NOTICE_S and
    every NOTICE_EVERY_S. Raises `StoreUnavailableError` after `wait_limit_s`.
    """
    with engine.connect() as conn:
        if conn.dialect.name != "postgresql":
            yield conn
            return
        _acquire(conn, wait_limit_s)
        try:
            yield conn
        finally:
            _release(conn)


def _acquire(conn: sa.Connection, wait_limit_s: float) -> None:
    started = time.monotonic()
    wait_s = min(FIRST_NOTICE_S, wait_limit_s)
    while not _lock_within(conn, wait_s):
        waited_s = time.monotonic() - started
        holder = _holder(conn)
        if waited_s >= wait_limit_s:
            raise StoreUnavailableError(
                f"cannot prepare the database: another server ({holder}) has held its schema "
                f"lock for {waited_s:.0f}s, creating or upgrading the tables; start this one "
                "again once it is done, or end that session if it is stuck")
        logger.warning("waiting %.0fs for another server (%s) to create or upgrade the "
                       "database schema (advisory lock %d)", waited_s, holder, SCHEMA_LOCK_KEY)
        wait_s = min(NOTICE_EVERY_S, wait_limit_s - waited_s)


def _lock_within(conn: sa.Connection, wait_s: float) -> bool:
    """Take the lock, waiting up to `wait_s`: True once held (until released or the session
    ends), False when another session kept it."""
    try:
        with conn.begin():
            # Local to this transaction: the lock outlives it, the timeout does not.
            conn.execute(sa.select(sa.func.set_config(
                "lock_timeout", f"{max(1, int(wait_s * 1000))}ms", True)))
            conn.execute(sa.select(sa.func.pg_advisory_lock(SCHEMA_LOCK_KEY)))
    except sqlalchemy.exc.OperationalError as exc:
        if getattr(exc.orig, "sqlstate", None) == LOCK_NOT_AVAILABLE:
            return False
        raise
    return True


def _holder(conn: sa.Connection) -> str:
    """Who holds the lock, for the log: the PostgreSQL backend's pid and client address."""
    with conn.begin():
        row = conn.execute(sa.text(
            "SELECT l.pid, a.client_addr FROM pg_locks l LEFT JOIN pg_stat_activity a "
            "ON a.pid = l.pid WHERE l.locktype = 'advisory' AND l.granted "
            "AND l.classid::bigint = :high AND l.objid::bigint = :low AND l.objsubid = 1"),
            {"high": SCHEMA_LOCK_KEY >> 32, "low": SCHEMA_LOCK_KEY & 0xFFFFFFFF}).first()
    if row is None:
        return "gone meanwhile"
    return f"PostgreSQL backend pid {row.pid}" + (
        f" from {row.client_addr}" if row.client_addr else "")


def _release(conn: sa.Connection) -> None:
    try:
        conn.rollback()  # a transaction the block left failed, if any
        with conn.begin():
            conn.execute(sa.select(sa.func.pg_advisory_unlock(SCHEMA_LOCK_KEY)))
    except sqlalchemy.exc.SQLAlchemyError as exc:
        # Back in the pool, a connection still holding the lock would keep every other server
        # waiting; closing it ends the session, and the lock with it.
        logger.warning("could not release the schema lock (%s); closing its connection", exc)
        conn.invalidate()
