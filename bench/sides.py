"""The two sides of the server benchmarks, on the same machine in the same process: deferred
(`Server` with `listen=False`) and Huey (`SqliteHuey` with its thread consumer).

Both keep their queue in a SQLite file in WAL mode with `synchronous=FULL`: deferred sets it,
Huey leaves SQLite's compiled-in default, which `huey_durability()` reads back and the results
record (FULL, 2, on Debian's SQLite). Every run gets a fresh directory on a real disk.
"""

from __future__ import annotations

import contextlib
import datetime
import os
import shutil
import sqlite3
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import deferred
from deferred.tasks.registry import TaskRegistry

SCRATCH_ENV = "DEFERRED_BENCH_TMP"  # a directory on the disk to measure, if not the default
_MEMORY_FILESYSTEMS = {"tmpfs", "ramfs"}


def filesystem_of(path: Path) -> str:
    """The type of the file system holding `path` (`ext4`, `overlay`, `tmpfs`...)."""
    best, kind = "", "unknown"
    with open("/proc/mounts", encoding="utf-8") as mounts:
        for line in mounts:
            _device, mount_point, fs_type, *_ = line.split()
            mount_point = mount_point.replace("\\040", " ")
            inside = str(path) == mount_point or str(path).startswith(mount_point.rstrip("/") + "/")
            if inside and len(mount_point) > len(best):
                best, kind = mount_point, fs_type
    return kind


def scratch_base() -> Path:
    """Where run directories go: $DEFERRED_BENCH_TMP, else the system's temporary directory,
    else /var/tmp when that one is in memory (a benchmark of fsyncs on tmpfs means nothing)."""
    chosen = os.environ.get(SCRATCH_ENV)
    if chosen:
        base = Path(chosen).resolve()
    else:
        base = Path(tempfile.gettempdir()).resolve()
        if filesystem_of(base) in _MEMORY_FILESYSTEMS:
            base = Path("/var/tmp").resolve()
    if filesystem_of(base) in _MEMORY_FILESYSTEMS:
        raise RuntimeError(f"{base} is in memory ({filesystem_of(base)}); set {SCRATCH_ENV} to "
                           "a directory on a disk")
    return base


@contextlib.contextmanager
def run_dir(label: str) -> Iterator[Path]:
    """A fresh directory for one run, removed afterwards."""
    path = Path(tempfile.mkdtemp(prefix=f"deferred-bench-{label}-", dir=scratch_base()))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


class Probe:
    """What task bodies report: how many ran, and when each started (perf_counter)."""

    def __init__(self, target: int = 0) -> None:
        self.target = target
        self.count = 0
        self.started: dict[int, float] = {}
        self.all_ran = threading.Event()
        self._lock = threading.Lock()

    def hit(self) -> None:
        with self._lock:
            self.count += 1
            if self.count == self.target:
                self.all_ran.set()

    def mark(self, i: int) -> None:
        self.started[i] = time.perf_counter()


def probe_tasks(probe: Probe) -> dict[str, Callable[..., None]]:
    """The three task bodies, shared by both sides so they do the same work."""

    def noop() -> None:
        probe.hit()

    def sleep10() -> None:
        time.sleep(0.010)
        probe.hit()

    def mark(i: int) -> None:
        probe.mark(i)

    return {"noop": noop, "sleep10": sleep10, "mark": mark}


# deferred ----------------------------------------------------------------------------------

def deferred_url(directory: Path) -> str:
    return f"sqlite+pysqlite:///{directory / 'deferred.db'}"


def deferred_registry(probe: Probe) -> TaskRegistry:
    """A registry of its own (one server per registry) holding the probe tasks."""
    registry = TaskRegistry()
    for name, body in probe_tasks(probe).items():
        deferred.task(name=name, registry=registry)(body)
    return registry


def deferred_server(directory: Path, probe: Probe, workers: int = 8) -> deferred.Server:
    """A server on a SQLite file in `directory`, pool of `workers` (8 is the default)."""
    config = {"db": {"url": deferred_url(directory)}, "shutdown_grace_s": 30}
    if workers != 8:
        config["limits"] = {"global": workers}
    return deferred.Server(config, registry=deferred_registry(probe))


def deferred_preload(directory: Path, name: str, count: int,
                     run_at: datetime.datetime | None = None) -> None:
    """Store `count` queued records of `name` in one transaction, as `SqlTaskStore.add` would
    one at a time (setup only: this is not what is measured); with `run_at`, delayed until
    then, all of them."""
    from deferred.config import DbConfig
    from deferred.jsontext import encode_json
    from deferred.records import TaskStatus, utcnow
    from deferred.store import SqlTaskStore
    from deferred.store.engine import make_engine
    from deferred.store.schema import tasks

    SqlTaskStore(DbConfig(deferred_url(directory))).close()  # creates the schema
    engine = make_engine(deferred_url(directory))
    now = utcnow()
    row = {"name": name, "params": encode_json({}), "status": TaskStatus.QUEUED.value,
           "attempts": 0, "email": None, "created_at": now, "run_at": run_at,
           "sort_key": (run_at or now).timestamp()}
    with engine.begin() as conn:
        conn.execute(tasks.insert(), [dict(row) for _ in range(count)])
    engine.dispose()


def deferred_wait_stored(directory: Path, probe: Probe, count: int, timeout_s: float) -> float:
    """Wait until every body ran and `count` records are stored as finished; return the
    perf_counter time it was seen. Polls the file only once the bodies have all run, so the
    poll does not compete with the workers."""
    if not probe.all_ran.wait(timeout_s):
        raise RuntimeError(f"only {probe.count} of {count} deferred tasks ran in {timeout_s}s")
    conn = sqlite3.connect(f"file:{directory / 'deferred.db'}?mode=ro", uri=True)
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            done = conn.execute("SELECT count(*) FROM deferred_tasks WHERE status = 'SUCCEEDED'"
                                ).fetchone()[0]
            if done >= count:
                return time.perf_counter()
            if time.monotonic() > deadline:
                raise RuntimeError(f"only {done} of {count} deferred tasks were stored")
            time.sleep(0.0005)
    finally:
        conn.close()


# Huey ----------------------------------------------------------------------------------------

class HueySide:
    """A `SqliteHuey` at its defaults on a file in `directory`, with the probe tasks."""

    def __init__(self, directory: Path, probe: Probe) -> None:
        from huey import SqliteHuey, signals

        self.probe = probe
        self.huey = SqliteHuey(name="bench", filename=str(directory / "huey.db"))
        self.tasks = {name: self.huey.task(name=name)(body)
                      for name, body in probe_tasks(probe).items()}
        self.completed = 0
        self.all_completed = threading.Event()
        self._lock = threading.Lock()
        self.huey.signal(signals.SIGNAL_COMPLETE)(self._on_complete)

    def _on_complete(self, _signal: str, _task: Any, *_args: Any) -> None:
        # Sent after the task ran and Huey finished its own bookkeeping for it.
        with self._lock:
            self.completed += 1
            if self.completed == self.probe.target:
                self.all_completed.set()

    def preload(self, name: str, count: int) -> None:
        """Queue `count` calls of `name` in one transaction (setup only), the same rows
        `enqueue` writes one commit at a time."""
        task = self.tasks[name]
        storage = self.huey.storage
        rows = [(storage.name, storage.to_blob(self.huey.serialize_task(task.s())), 0)
                for _ in range(count)]
        with storage.db(commit=True) as cursor:
            cursor.executemany("INSERT INTO task (queue, data, priority) VALUES (?, ?, ?)", rows)

    def consumer(self, workers: int | None = None) -> Any:
        """Its thread consumer, at its defaults but for `workers` when given. No signal
        handlers: the benchmark runs it in its own process."""
        from huey.consumer import Consumer

        class QuietConsumer(Consumer):
            def _set_signal_handlers(self) -> None:
                pass

        options: dict[str, Any] = {"worker_type": "thread"}
        if workers is not None:
            options["workers"] = workers
        return QuietConsumer(self.huey, **options)

    def wait_completed(self, count: int, timeout_s: float) -> float:
        if not self.all_completed.wait(timeout_s):
            raise RuntimeError(f"only {self.completed} of {count} Huey tasks completed")
        return time.perf_counter()

    def durability(self) -> dict[str, Any]:
        """Huey's journal mode and synchronous level as its connection has them."""
        conn = self.huey.storage.conn
        with self.huey.storage.lock:
            journal = conn.execute("PRAGMA journal_mode").fetchone()[0]
            synchronous = conn.execute("PRAGMA synchronous").fetchone()[0]
        return {"journal_mode": journal, "synchronous": synchronous}

    def close(self) -> None:
        self.huey.storage.close()


def stop_consumer(consumer: Any) -> None:
    """Stop a started Huey consumer and wait for its threads."""
    consumer.stop(graceful=True)


def median(values: list[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile (share in 0..1) of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), int(-(-share * len(ordered) // 1))))
    return ordered[rank - 1]
