"""One server per SQLite file: an exclusive lock on a file beside the database."""

from __future__ import annotations

import fcntl
import os

from ..errors import ConfigError, ServerAlreadyRunningError


class SqliteServerLock:
    """Held by the server that uses a SQLite database, released when it stops or dies.

    An OS lock (`flock`) rather than a row: a server killed with SIGKILL releases it at once,
    so the next start needs no lease to expire.
    """

    def __init__(self, database_path: str) -> None:
        # The real path: a symlink to the same file must find the same lock.
        self.path = f"{os.path.realpath(database_path)}.lock"
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock. Raises `ServerAlreadyRunningError` naming the holder's pid, and
        `ConfigError` when the database's directory cannot hold the lock file."""
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise ConfigError(f"cannot use the database {self.path[:-5]}: "
                              f"{exc.strerror or exc}", where="db.url") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 64).decode("ascii", "replace").strip() or "unknown"
            os.close(fd)
            raise ServerAlreadyRunningError(
                f"another server (pid {holder}) is already using {self.path[:-5]}; stop it "
                "first") from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode("ascii"))
        self._fd = fd

    def release(self) -> None:
        """Give the lock up (closing the file releases it)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
