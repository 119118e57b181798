"""The peer of `pg_drain`: Procrastinate (from the package index, `pip install -e '.[bench]'`)
draining the same kind of queue on the same PostgreSQL in the same run, so that the ratio
holds on a day whose disk is slow.

Each case gets a fresh database with Procrastinate's schema (applied by its own schema
manager) and `tasks` queued jobs of a no-op task (deferred in batches through its own
`batch_defer`, then ANALYZE and CHECKPOINT). Then K `python -m procrastinate --app=... worker
--concurrency 8` processes are started together; the rate is timed, as deferred's, from the
moment every worker has registered itself in `procrastinate_workers` until every job is
`succeeded`, over the jobs left at that moment. Jobs are kept (`--delete-jobs never`), as
deferred keeps its records. The task is an `async def`, Procrastinate's fastest kind: a plain
`def` runs in a thread of asgiref's `sync_to_async` (`SYNC_TASKS` measures that too).
"""

from __future__ import annotations

import collections
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from .pg_observe import ACTIVITY, COMMITS, STATS_FLUSH_S, CpuWindow
from .sides import run_dir

CONCURRENCY = 8
DEFER_BATCH = 5_000
POLL_S = 0.05
START_TIMEOUT_S = 30.0
DRAIN_TIMEOUT_S = 180.0
STOP_TIMEOUT_S = 30.0

APP_FILE = '''"""The pg_drain benchmark's Procrastinate app: one task that does nothing."""

import os

import procrastinate

app = procrastinate.App(
    connector=procrastinate.PsycopgConnector(conninfo=os.environ["BENCH_CONNINFO"]))

if os.environ.get("BENCH_SYNC_TASK") == "1":
    @app.task(name="noop")
    def noop():
        """Does nothing, in a thread."""
else:
    @app.task(name="noop")
    async def noop():
        """Does nothing."""
'''


def available() -> str | None:
    """Procrastinate's version, or None when it is not installed."""
    try:
        from importlib.metadata import PackageNotFoundError, version
        return version("procrastinate")
    except PackageNotFoundError:
        return None


def _conninfo(url: str) -> str:
    parsed = sa.make_url(url)
    return (f"host={parsed.host} port={parsed.port} user={parsed.username} "
            f"dbname={parsed.database}")


def _environment(directory: Path, conninfo: str, sync_task: bool) -> dict[str, str]:
    return dict(os.environ, PYTHONPATH=str(directory), PYTHONUNBUFFERED="1",
                BENCH_CONNINFO=conninfo, BENCH_SYNC_TASK="1" if sync_task else "0")


def fresh_database(pg: Any, directory: Path, tasks: int, sync_task: bool) -> tuple[str, str]:
    """A new database with Procrastinate's schema and `tasks` queued no-op jobs; its
    SQLAlchemy URL and libpq conninfo."""
    url = pg.create_database()
    conninfo = _conninfo(url)
    script = ("import bench_procrastinate as m, sys\n"
              "n, batch = int(sys.argv[1]), int(sys.argv[2])\n"
              "with m.app.open():\n"
              "    m.app.schema_manager.apply_schema()\n"
              "    for first in range(0, n, batch):\n"
              "        m.noop.batch_defer(*({} for _ in range(min(batch, n - first))))\n")
    subprocess.run([sys.executable, "-c", script, str(tasks), str(DEFER_BATCH)], cwd=directory,
                   env=_environment(directory, conninfo, sync_task), check=True, timeout=300)
    engine = sa.create_engine(url)
    try:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("ANALYZE procrastinate_jobs")
            conn.exec_driver_sql("CHECKPOINT")
    finally:
        engine.dispose()
    return url, conninfo


class Worker:
    """`python -m procrastinate --app=bench_procrastinate.app worker --concurrency 8`, its
    output read by a thread (so the pipe never fills)."""

    def __init__(self, directory: Path, env: dict[str, str]) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "procrastinate", "--app=bench_procrastinate.app", "worker",
             f"--concurrency={CONCURRENCY}", "--delete-jobs=never"],
            cwd=directory, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.output: list[str] = []
        self._reader = threading.Thread(target=self._read, name="procrastinate-output",
                                        daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.output.append(line)

    def stop(self) -> int:
        """SIGTERM (Procrastinate's graceful stop), wait, kill after STOP_TIMEOUT_S."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            code = self.process.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
            code = self.process.wait()
        self._reader.join(5)
        assert self.process.stdout is not None
        self.process.stdout.close()
        return code


COUNTS = sa.text(
    "SELECT count(*) FILTER (WHERE status = 'succeeded'), "
    "count(*) FILTER (WHERE status = 'doing') FROM procrastinate_jobs")
REGISTERED = sa.text("SELECT count(*) FROM procrastinate_workers")
PER_WORKER = sa.text("SELECT count(*) FROM procrastinate_jobs WHERE status = 'succeeded' "
                     "GROUP BY worker_id ORDER BY 1 DESC")


def drain(pg: Any, workers: int, tasks: int, sync_task: bool = False) -> dict[str, Any]:
    """One drain of `tasks` queued no-op jobs by `workers` Procrastinate worker processes."""
    with run_dir("pg-procrastinate") as directory:
        (directory / "bench_procrastinate.py").write_text(APP_FILE)
        url, conninfo = fresh_database(pg, directory, tasks, sync_task)
        env = _environment(directory, conninfo, sync_task)
        engine = sa.create_engine(url)
        started: list[Worker] = []
        try:
            with engine.connect() as poll:
                first_start = time.perf_counter()
                started = [Worker(directory, env) for _ in range(workers)]
                deadline = time.monotonic() + START_TIMEOUT_S
                while poll.execute(REGISTERED).scalar_one() < workers:
                    poll.rollback()
                    dead = [w for w in started if w.process.poll() is not None]
                    if dead or time.monotonic() > deadline:
                        raise RuntimeError("a Procrastinate worker did not start:\n"
                                           + "".join(line for w in started for line in w.output))
                    time.sleep(0.01)
                poll.rollback()
                all_started = time.perf_counter()
                window = CpuWindow([w.process.pid for w in started], pg._process.pid)
                window.begin()
                done_at_start = poll.execute(COUNTS).one()[0]
                commits_at_start = poll.execute(COMMITS).scalar_one()
                poll.rollback()
                running_seen: list[int] = []
                waits: collections.Counter[str] = collections.Counter()
                deadline = time.monotonic() + DRAIN_TIMEOUT_S
                while True:
                    done, running = poll.execute(COUNTS).one()
                    if done >= tasks:
                        ended = time.perf_counter()
                        poll.rollback()
                        break
                    running_seen.append(running)
                    waits.update(dict(poll.execute(ACTIVITY).all()))
                    poll.rollback()
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"only {done} of {tasks} Procrastinate jobs "
                                           f"succeeded in {DRAIN_TIMEOUT_S}s")
                    time.sleep(POLL_S)
                cpu = window.end()
                time.sleep(STATS_FLUSH_S)
                commits = poll.execute(COMMITS).scalar_one() - commits_at_start
                per_worker = list(poll.execute(PER_WORKER).scalars())
                poll.rollback()
        finally:
            codes = [worker.stop() for worker in started]
            engine.dispose()
    drained = tasks - done_at_start
    return {"workers": workers, "concurrency": CONCURRENCY, "sync_task": sync_task,
            "rate_from_all_started": drained / (ended - all_started),
            "rate_from_first_start": tasks / (ended - first_start),
            "seconds_from_all_started": round(ended - all_started, 3),
            "start_up_s": round(all_started - first_start, 3),
            "done_before_all_started": done_at_start,
            "commits": commits, "tasks_per_commit": round(drained / max(1, commits), 2),
            "tasks_per_worker": (per_worker + [0] * workers)[:max(workers, len(per_worker))],
            "running_mean": round(sum(running_seen) / max(1, len(running_seen)), 1),
            "running_max": max(running_seen, default=0),
            "backends_mean": {state: round(count / max(1, len(running_seen)), 2)
                              for state, count in waits.most_common()},
            "cpu": cpu, "exit_codes": codes}
