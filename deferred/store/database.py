"""`Database`: one SQL database and the transactions every store part runs on it."""

from __future__ import annotations

import contextlib
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from typing import TypeVar

import sqlalchemy as sa
import sqlalchemy.exc

from ..errors import StoreError, StoreFullError, StoreUnavailableError
from .engine import database_errors, make_engine
from .lock import SqliteServerLock
from .schema import ensure_schema, schema_version

T = TypeVar("T")

WRITE_PROBE_S = 5.0
"""After a write failed, how often `write_failure` tries a small write of its own: a server
that is told no work while it cannot write must still see the disk freed."""
PROBE_FREE_BYTES = 1 << 20
"""On SQLite the probe also wants this much free on the database's disk: a small write can
fit in pages the file already has while a task's row cannot."""


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
        self._write_failure: StoreError | None = None  # the last write's, while it stands
        self._probed_at = 0.0
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
        with self._writes_tracked(), database_errors(action), self._write_lock, \
                self.engine.begin() as conn:
            yield conn

    def write_then(self, action: str, work: Callable[[sa.Connection], T],
                   then: Callable[[T], None]) -> T:
        """`work(conn)` in a write transaction, then `then(its result)` once committed,
        still under the write lock: a change kept in memory that the turns must see with
        the commit, never before it nor without it. Returns what `work` returned."""
        with self._writes_tracked(), database_errors(action), self._write_lock:
            with self.engine.begin() as conn:
                result = work(conn)
            then(result)
            return result

    @contextlib.contextmanager
    def _writes_tracked(self) -> Iterator[None]:
        """Remember a write that failed for want of room or of the database (not one whose
        data was refused) until one commits again with room on the disk: the dispatcher's
        idle turns fit in pages the file has while a task's row does not."""
        try:
            yield
        except (StoreFullError, StoreUnavailableError) as exc:
            self._write_failure, self._probed_at = exc, time.monotonic()
            raise
        if self._write_failure is not None and self._has_room():
            self._write_failure = None

    def write_failure(self) -> StoreError | None:
        """Why writes fail now: the error of the last write when it failed, None once one
        committed. While one stands, a small write is tried first, at most every
        `WRITE_PROBE_S`, so that freeing the disk shows without waiting for work."""
        if self._write_failure is None:
            return None
        now = time.monotonic()
        if now - self._probed_at >= WRITE_PROBE_S and self._has_room():
            try:
                with self.write("check that the database takes writes") as conn:
                    conn.execute(schema_version.update().values(
                        version=schema_version.c.version))
            except StoreError:  # still failing: the error is remembered
                pass
        return self._write_failure

    def _has_room(self) -> bool:
        """False when the SQLite file's disk has less than `PROBE_FREE_BYTES` free."""
        path = self.engine.url.database
        if self.dialect != "sqlite" or not path or path == ":memory:":
            return True
        try:
            free = shutil.disk_usage(os.path.dirname(os.path.abspath(path))).free
        except OSError:
            return True  # the write itself tells
        return free >= PROBE_FREE_BYTES

    def hot_write(self, action: str, work: Callable[[sa.Connection], T]) -> T:
        """`work(conn)` in a write transaction on a connection kept from one call to the
        next (the dispatcher's turns skip the pool's check-out); what it returned, once
        committed. A connection that failed is dropped. One found dead before the commit
        (the database restarted while it was kept) is replaced and `work` runs again, once:
        nothing of the first try was committed."""
        with self._writes_tracked(), database_errors(action), self._write_lock:
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
