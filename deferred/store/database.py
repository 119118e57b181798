"""`Database`: one SQL database and the transactions every store part runs on it."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from typing import TypeVar

import sqlalchemy as sa
import sqlalchemy.exc

from .engine import database_errors, make_engine
from .lock import SqliteServerLock
from .schema import ensure_schema

T = TypeVar("T")


class Database:
    """The engine, the schema brought up to date, and this process's write lock.

    Writes from this process go through one lock: SQLite's busy handler sleeps in steps up to
    100 ms, so two writer threads would wait on each other far longer than on a lock. With
    `exclusive=True` on SQLite it also takes the one-server lock. Raises
    `StoreUnavailableError`, `StoreFullError`, `ConfigError`, `ServerAlreadyRunningError` or
    `DatabaseVersionError`.
    """

    def __init__(self, url: str, *, exclusive: bool = False) -> None:
        self.engine = make_engine(url)
        self._write_lock = threading.Lock()
        self._writer: sa.Connection | None = None  # kept for `hot_write`, under the lock
        self._lock: SqliteServerLock | None = None
        try:
            with database_errors("prepare the database"):
                if exclusive and self.engine.dialect.name == "sqlite":
                    self._lock = SqliteServerLock(self.engine.url.database or "")
                    self._lock.acquire()
                ensure_schema(self.engine)
        except BaseException:
            self.close()
            raise

    @property
    def dialect(self) -> str:
        """`sqlite` or `postgresql`."""
        return self.engine.dialect.name

    @property
    def is_shared(self) -> bool:
        """True when several servers may use the database at once (PostgreSQL)."""
        return self.dialect == "postgresql"

    @contextlib.contextmanager
    def write(self, action: str) -> Iterator[sa.Connection]:
        """A write transaction, committed when the block ends; `action` names it in errors."""
        with database_errors(action), self._write_lock, self.engine.begin() as conn:
            yield conn

    def hot_write(self, action: str, work: Callable[[sa.Connection], T]) -> T:
        """`work(conn)` in a write transaction on a connection kept from one call to the
        next (the dispatcher's turns skip the pool's check-out); what it returned, once
        committed. A connection that failed is dropped. One found dead before the commit
        (the database restarted while it was kept) is replaced and `work` runs again, once:
        nothing of the first try was committed."""
        with database_errors(action), self._write_lock:
            for last_try in (False, True):
                writer = self._writer
                if writer is None:
                    writer = self._writer = self.engine.connect()
                transaction = writer.begin()
                try:
                    result = work(writer)
                except BaseException as exc:
                    if transaction.is_active:
                        transaction.rollback()
                    if self._broken(writer, exc):
                        self._drop_writer()
                        if not last_try and isinstance(exc, sa.exc.DBAPIError) \
                                and exc.connection_invalidated:
                            continue
                    raise
                try:
                    transaction.commit()
                except BaseException as exc:  # whether it committed is unknown: no retry
                    if self._broken(writer, exc):
                        self._drop_writer()
                    raise
                return result
        raise AssertionError("unreachable")

    @staticmethod
    def _broken(writer: sa.Connection, exc: BaseException) -> bool:
        """True when the kept connection must not be used again after `exc`."""
        refused_data = isinstance(exc, (sa.exc.IntegrityError, sa.exc.DataError))
        return (isinstance(exc, sa.exc.DBAPIError) and not refused_data
                or writer.invalidated or writer.closed)

    def _drop_writer(self) -> None:
        writer, self._writer = self._writer, None
        if writer is not None:
            try:
                writer.close()
            except Exception:  # already broken: nothing left to release
                pass

    @contextlib.contextmanager
    def read(self, action: str) -> Iterator[sa.Connection]:
        """A read-only transaction; `action` names it in errors."""
        with database_errors(action), self.engine.connect() as conn:
            conn = conn.execution_options(read_only=True)
            with conn.begin():
                yield conn

    def is_reachable(self) -> bool:
        """True if a trivial query succeeds."""
        try:
            with self.read("check the database") as conn:
                conn.execute(sa.text("SELECT 1"))
        except Exception:  # any failure means "not reachable"; the cause was logged
            return False
        return True

    def dispose(self) -> None:
        """Close every connection, the kept writer's too; the next calls open new ones."""
        with self._write_lock:
            self._drop_writer()
        self.engine.dispose()

    def close(self) -> None:
        """Release the connections and the one-server lock."""
        self.dispose()
        if self._lock is not None:
            self._lock.release()
            self._lock = None
