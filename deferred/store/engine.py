"""Engines set up for a task queue, and database errors turned into `DeferredError`s."""

from __future__ import annotations

import contextlib
import logging
import sqlite3
from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa
import sqlalchemy.exc

from ..errors import ConfigError, StoreFullError, StoreRejectedError, StoreUnavailableError

logger = logging.getLogger(__name__)

SQLITE_BUSY_TIMEOUT_S = 30.0
POSTGRES_DISK_FULL = "53100"


def make_engine(url: str) -> sa.Engine:
    """An engine for `url`: SQLite gets WAL, synchronous=FULL, foreign keys, a busy timeout and
    `BEGIN IMMEDIATE` for writes. Raises `ConfigError` for a URL it cannot use."""
    try:
        parsed = sa.make_url(url)
    except sqlalchemy.exc.ArgumentError as exc:
        raise ConfigError(f"not a database URL: {exc}", where="db.url") from None
    if parsed.get_backend_name() == "sqlite":
        if parsed.database in (None, "", ":memory:") or "mode=memory" in str(parsed):
            raise ConfigError("an in-memory SQLite database cannot be shared by the server's "
                              "threads; give a file, e.g. sqlite+pysqlite:///deferred.db",
                              where="db.url")
        engine = sa.create_engine(parsed, pool_size=10, max_overflow=30,
                                  connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S,
                                                "check_same_thread": False})
        _set_up_sqlite(engine)
        return engine
    try:
        return sa.create_engine(parsed, pool_size=10, max_overflow=30, pool_pre_ping=True)
    except (sqlalchemy.exc.ArgumentError, ImportError) as exc:
        raise ConfigError(f"cannot use {parsed.render_as_string(hide_password=True)}: {exc}",
                          where="db.url") from None


def _set_up_sqlite(engine: sa.Engine) -> None:
    @sa.event.listens_for(engine, "connect")
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        # The driver's own BEGIN is deferred; the "begin" hook below sends ours instead.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(SQLITE_BUSY_TIMEOUT_S * 1000)}")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def on_begin(conn: sa.Connection) -> None:
        # A deferred BEGIN that reads and then writes fails with "database is locked" when
        # another writer got there first; IMMEDIATE takes the write lock up front and waits.
        read_only = conn.get_execution_options().get("read_only", False)
        conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


def is_disk_full(exc: BaseException) -> bool:
    """True for SQLite's SQLITE_FULL and PostgreSQL's disk_full."""
    original = getattr(exc, "orig", exc)
    if isinstance(original, sqlite3.Error):
        return getattr(original, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL
    return getattr(original, "sqlstate", None) == POSTGRES_DISK_FULL


@contextlib.contextmanager
def database_errors(action: str) -> Iterator[None]:
    """Turn database errors inside the block into `StoreFullError` or `StoreUnavailableError`
    saying what failed; the transaction of the block is rolled back either way."""
    try:
        yield
    except sqlalchemy.exc.DBAPIError as exc:
        if is_disk_full(exc):
            logger.error("cannot %s: the database is full: %s", action, exc.orig)
            raise StoreFullError(f"cannot {action}: the database is full (no space left)"
                                 ) from exc
        if isinstance(exc, (sqlalchemy.exc.DataError, sqlalchemy.exc.IntegrityError)):
            reason = " ".join(str(exc.orig).split())[:200]
            logger.warning("cannot %s: the database refused the data: %s", action, reason)
            raise StoreRejectedError(f"cannot {action}: the database refused the data "
                                     f"({reason})") from exc
        logger.error("cannot %s: %s", action, exc.orig)
        raise StoreUnavailableError(f"cannot {action}: the database is unavailable") from exc
    except sqlalchemy.exc.SQLAlchemyError as exc:  # a pool timeout, a statement it cannot run
        logger.error("cannot %s: %s", action, exc)
        raise StoreUnavailableError(f"cannot {action}: the database is unavailable") from exc
