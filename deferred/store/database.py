"""`Database`: one SQL database and the transactions every store part runs on it."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

import sqlalchemy as sa

from .engine import database_errors, make_engine
from .lock import SqliteServerLock
from .schema import ensure_schema


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

    def close(self) -> None:
        """Release the connections and the one-server lock."""
        self.engine.dispose()
        if self._lock is not None:
            self._lock.release()
            self._lock = None
