"""A real PostgreSQL 15 for tests: `initdb` in a temporary directory and `postgres` as a child
process on a free loopback port, run as the `postgres` OS user when the tests run as root
(both refuse root). Each test gets its own database, copied from a template."""

from __future__ import annotations

import itertools
import os
import pwd
import re
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from polling import wait_until
from ports import free_port

HOST = "127.0.0.1"
MAJOR_VERSION = 15
FALLBACK_BINDIR = Path(f"/usr/lib/postgresql/{MAJOR_VERSION}/bin")
PROGRAMS = ("initdb", "postgres", "pg_isready")
OS_USER = "postgres"  # who runs the server when the tests run as root
SUPERUSER = "postgres"  # the database role initdb creates
TEMPLATE = "deferred_template"
START_TIMEOUT_S = 30.0
PORT_ATTEMPTS = 3
STOP_TIMEOUT_S = 30.0
COMMAND_TIMEOUT_S = 60.0
LOG_TAIL_CHARS = 4000
# Test settings: fsync=off only loses data when the machine itself crashes, which no test
# does; synchronous_commit stays on, so a killed server keeps every commit it acknowledged.
SETTINGS = {"listen_addresses": HOST, "fsync": "off", "max_connections": "200"}
# `durable=True` (benchmarks): PostgreSQL's own defaults for durability (fsync on), and initdb
# syncs the new cluster to disk.
DURABLE_SETTINGS = {name: value for name, value in SETTINGS.items() if name != "fsync"}


class PostgresServerError(Exception):
    """The test PostgreSQL could not be found, set up or started; the message says why."""


def find_bindir(candidates: list[Path] | None = None) -> Path:
    """The directory of PostgreSQL 15's server programs: the first of `candidates`, by default
    `pg_config --bindir` then /usr/lib/postgresql/15/bin, that has them. Raises
    `PostgresServerError` naming what is missing."""
    tried: list[str] = []
    for bindir in _candidate_bindirs(tried) if candidates is None else candidates:
        missing = [name for name in PROGRAMS if not os.access(bindir / name, os.X_OK)]
        if missing:
            tried.append(f"{bindir}: no {', '.join(missing)}")
            continue
        version = _server_version(bindir)
        if version.startswith(f"{MAJOR_VERSION}."):
            return bindir
        tried.append(f"{bindir}: PostgreSQL {version}, not {MAJOR_VERSION}")
    raise PostgresServerError(
        f"PostgreSQL {MAJOR_VERSION} server programs not found ({'; '.join(tried)}); "
        f"install them, e.g. apt-get install postgresql-{MAJOR_VERSION}")


def _candidate_bindirs(tried: list[str]) -> list[Path]:
    candidates = []
    pg_config = shutil.which("pg_config")
    if pg_config is None:
        tried.append("pg_config: not on PATH")
    else:
        done = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True,
                              timeout=COMMAND_TIMEOUT_S, check=False)
        if done.returncode == 0 and done.stdout.strip():
            candidates.append(Path(done.stdout.strip()))
        else:
            tried.append(f"pg_config --bindir: exit {done.returncode} {done.stderr.strip()}")
    if FALLBACK_BINDIR not in candidates:
        candidates.append(FALLBACK_BINDIR)
    return candidates


def _server_version(bindir: Path) -> str:
    done = subprocess.run([str(bindir / "postgres"), "--version"], capture_output=True,
                          text=True, timeout=COMMAND_TIMEOUT_S, check=False)
    match = re.search(r"(\d+(?:\.\d+)*)", done.stdout)
    return match.group(1) if match else f"unknown ({done.stdout.strip() or done.stderr.strip()})"


class _OsUser:
    """Who the server programs run as, and the keyword arguments that make `subprocess` run
    them so: the `postgres` user when we are root, else ourselves."""

    def __init__(self) -> None:
        if os.geteuid() == 0:
            try:
                entry = pwd.getpwnam(OS_USER)
            except KeyError:
                raise PostgresServerError(
                    f"running as root, and there is no '{OS_USER}' OS user to run initdb and "
                    f"postgres as (both refuse root); create one, e.g. apt-get install "
                    f"postgresql-{MAJOR_VERSION}") from None
            self.switch = True
        else:
            entry = pwd.getpwuid(os.geteuid())
            self.switch = False
        self.name, self.uid, self.gid, self.home = (entry.pw_name, entry.pw_uid, entry.pw_gid,
                                                    entry.pw_dir)

    def popen_kwargs(self, cwd: Path) -> dict[str, Any]:
        env = {"PATH": os.defpath, "HOME": self.home, "USER": self.name,
               "LOGNAME": self.name, "LC_ALL": "C"}
        kwargs: dict[str, Any] = {"env": env, "cwd": cwd}
        if self.switch:
            kwargs.update(user=self.uid, group=self.gid, extra_groups=[])
        return kwargs


class PostgresServer:
    """One PostgreSQL cluster in a temporary directory under /tmp, served on a free loopback
    port with trust authentication for the `postgres` role.

    `start()` creates and starts it; `stop()` stops it and deletes its files. `halt()` and
    `start_again()` (or `restart()`) stop and start the same cluster on the same port, for
    tests of a database that goes away mid-run. Raises `PostgresServerError` when the
    programs are missing or the server does not come up, with the server's log.

    `durable=True` leaves fsync on (for benchmarks); the default, for tests, turns it off.
    """

    def __init__(self, bindir: Path | None = None, *, durable: bool = False) -> None:
        self._bindir = bindir
        self.durable = durable
        self.settings = dict(DURABLE_SETTINGS if durable else SETTINGS)
        self._user: _OsUser | None = None
        self._base: Path | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._names = itertools.count(1)
        self.port = 0

    def __enter__(self) -> PostgresServer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def base(self) -> Path:
        """The temporary directory: `data/` (the cluster), the sockets and `postgres.log`."""
        if self._base is None:
            raise PostgresServerError("the test PostgreSQL was not started")
        return self._base

    @property
    def data_dir(self) -> Path:
        return self.base / "data"

    @property
    def log_path(self) -> Path:
        return self.base / "postgres.log"

    @property
    def is_running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def url(self, database: str = "postgres") -> str:
        """The SQLAlchemy URL of `database` on this server, through psycopg 3."""
        return f"postgresql+psycopg://{SUPERUSER}@{HOST}:{self.port}/{database}"

    def conninfo(self, database: str = "postgres") -> str:
        """The libpq connection string of `database` (for psycopg without SQLAlchemy)."""
        return f"host={HOST} port={self.port} user={SUPERUSER} dbname={database}"

    def start(self) -> None:
        """Create a new cluster and start it. Raises `PostgresServerError`."""
        if self._base is not None:
            raise PostgresServerError("the test PostgreSQL is already started")
        self._bindir = find_bindir(None if self._bindir is None else [self._bindir])
        self._user = _OsUser()
        self._base = Path(tempfile.mkdtemp(prefix="pg-", dir="/tmp"))  # short: socket path
        try:
            os.chown(self._base, self._user.uid, self._user.gid)
            self._initdb()
            self._launch_on_a_free_port()
            self._admin(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(TEMPLATE)))
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Stop the server (fast shutdown; killed if it will not go) and delete its files."""
        self.halt()
        if self._base is not None:
            shutil.rmtree(self._base, ignore_errors=True)
            self._base = None

    def halt(self, immediate: bool = False) -> None:
        """Stop the server and keep its files: a fast shutdown (SIGINT), or with `immediate`
        an immediate one (SIGQUIT: no checkpoint, crash recovery at the next start)."""
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            process.send_signal(signal.SIGQUIT if immediate else signal.SIGINT)
        try:
            process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def start_again(self) -> None:
        """Start the halted server on the same files and port. Raises `PostgresServerError`."""
        if self._base is None:
            raise PostgresServerError("the test PostgreSQL was stopped for good; start() it")
        if not self.is_running:
            self._launch()

    def restart(self, immediate: bool = False) -> None:
        """`halt(immediate)`, then `start_again()`: same data, same port, new connections."""
        self.halt(immediate)
        self.start_again()

    def create_database(self) -> str:
        """A new empty database copied from the template; returns its URL."""
        name = f"test_{next(self._names)}"
        self._admin(sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
            sql.Identifier(name), sql.Identifier(TEMPLATE)))
        return self.url(name)

    def _admin(self, statement: sql.Composable) -> None:
        # CREATE DATABASE cannot run inside a transaction block.
        with psycopg.connect(self.conninfo(), autocommit=True,
                             connect_timeout=int(START_TIMEOUT_S)) as conn:
            conn.execute(statement)

    def _program(self, name: str) -> str:
        assert self._bindir is not None
        return str(self._bindir / name)

    def _initdb(self) -> None:
        assert self._user is not None
        command = [self._program("initdb"), "-D", str(self.data_dir), "-U", SUPERUSER,
                   "-A", "trust", "-E", "UTF8", "--no-locale",
                   *(() if self.durable else ("--no-sync",))]
        done = subprocess.run(command, capture_output=True, text=True,
                              timeout=COMMAND_TIMEOUT_S, check=False,
                              **self._user.popen_kwargs(self.base))
        if done.returncode != 0:
            raise PostgresServerError(f"{' '.join(command)} failed (exit {done.returncode}) as "
                                      f"user {self._user.name}:\n{done.stdout}{done.stderr}")

    def _launch_on_a_free_port(self) -> None:
        for attempt in range(1, PORT_ATTEMPTS + 1):
            self.port = free_port()
            try:
                self._launch()
                return
            except PostgresServerError as exc:
                # Another process may bind the port between our probe and the server's bind.
                if attempt == PORT_ATTEMPTS or "Address already in use" not in str(exc):
                    raise

    def _launch(self) -> None:
        assert self._user is not None
        command = [self._program("postgres"), "-D", str(self.data_dir), "-k", str(self.base),
                   "-p", str(self.port)]
        for name, value in self.settings.items():
            command += ["-c", f"{name}={value}"]
        with open(self.log_path, "ab") as log:  # the child keeps its own copy of the fd
            self._process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log,
                                             stderr=subprocess.STDOUT,
                                             **self._user.popen_kwargs(self.base))
        try:
            wait_until(self._is_ready, timeout_s=START_TIMEOUT_S)
        except AssertionError:
            self.halt()
            raise PostgresServerError(f"PostgreSQL did not accept connections on {HOST}:"
                                      f"{self.port} within {START_TIMEOUT_S}s:\n"
                                      f"{self._log_tail()}") from None

    def _is_ready(self) -> bool:
        process = self._process
        if process is None or process.poll() is not None:
            code = None if process is None else process.returncode
            self._process = None
            raise PostgresServerError(f"PostgreSQL exited at start (exit {code}) as user "
                                      f"{self._user.name if self._user else '?'}:\n"
                                      f"{self._log_tail()}")
        ready = subprocess.run([self._program("pg_isready"), "-q", "-h", HOST,
                                "-p", str(self.port)], timeout=COMMAND_TIMEOUT_S, check=False)
        return ready.returncode == 0

    def _log_tail(self) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError as exc:
            return f"(no log: {exc})"
        return text[-LOG_TAIL_CHARS:]
