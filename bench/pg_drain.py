"""PostgreSQL 15: how fast 1 and 3 `runserver` processes sharing one database drain queued
no-op tasks, with the cluster quotas on and effectively off, and what one dispatcher turn (a
`SqlTaskStore.claim`) costs in-process.

The database is a real PostgreSQL 15 started for the run as the tests start it
(`tests/pg_server.py`), but durable: fsync on, initdb synced (`durable=True`). Its data
directory is under /tmp; the results record that file system, and a memory one (tmpfs) is
flagged in the table, since commits would then cost no disk flush.

Drain: each case gets a fresh database holding `TASKS` queued `noop` records (inserted in bulk,
then ANALYZE and CHECKPOINT), then K `python bench_tasks.py --log-level warning runserver
--config config.json --port 0` processes are started together. The rate is taken from the
moment every one of them has printed its "listening on" line until every record is SUCCEEDED
(polled every 50 ms), over the records still unfinished at that moment (the first server to
come up starts draining while the others still import); the rate from the first process
start, start-ups included, is given beside it. Quotas on: `limits.global` 24 for the cluster,
`limits.names` noop 12, `limits.workers` 8 per server. Quotas off: a global limit nobody
reaches, no names, workers 8 (the RUNNING rows are still counted under the claim lock: a
server on PostgreSQL always passes its limits to the store).

Beside each rate, what limits it: CPU cores used during the drain by the servers, by
PostgreSQL's processes and by anything else on the machine (from /proc: a shared machine's
other jobs show there); each poll also samples the RUNNING rows and what the servers' busy
connections wait on (`lock waiters`: backends waiting for the claim lock, on average);
`tasks/commit`, the records drained per transaction committed (the dispatchers' turns); and
how many records each server ran (their `owner`).

Claim cost: one `SqlTaskStore` in this process, `CLAIM_ROWS` queued records, timed dispatcher
turns: `claim({"noop": 8}, 8, finished=<the 8 claimed by the previous turn>)`, one transaction
that stores 8 outcomes and claims 8 records, as the dispatcher does with a pool of 8. On
PostgreSQL with `limits=None` (the advisory claim lock is still taken, no RUNNING count) and
with cluster limits (lock + count); on a SQLite file (WAL, synchronous=FULL) for reference.
"""

from __future__ import annotations

import collections
import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from .sides import filesystem_of, median, percentile, run_dir

ROOT = Path(__file__).resolve().parents[1]
TASKS = 20_000
INSERT_BATCH = 5_000
POLL_S = 0.05
START_TIMEOUT_S = 30.0
DRAIN_TIMEOUT_S = 120.0
STOP_TIMEOUT_S = 30.0
WORKERS = 8
QUOTAS_ON = {"global": 24, "names": {"noop": 12}, "workers": WORKERS}
QUOTAS_OFF = {"global": 1_000_000, "workers": WORKERS}
CASES = ((1, "on"), (3, "on"), (1, "off"), (3, "off"))
PROCRASTINATE_BEST = 660  # no-op tasks/s, the top of the 560-660 range
GOAL_FACTOR = 1.5
CLAIM_ROWS = 10_000
CLAIM_WARMUP = 20
CLAIM_TURNS = 400
COMMIT_FLOOR_TURNS = 300
MEMORY_FILESYSTEMS = {"tmpfs", "ramfs"}
LISTENING = "listening on "

TASKS_FILE = '''"""The pg_drain benchmark's task: does nothing."""

import deferred


@deferred.task(name="noop")
def noop():
    """Does nothing."""


if __name__ == "__main__":
    deferred.run_cli()
'''


# PostgreSQL ----------------------------------------------------------------------------------

@contextlib.contextmanager
def postgres() -> Iterator[Any]:
    """A durable PostgreSQL 15 (the tests' `PostgresServer`, fsync on) for the run."""
    tests_dir = str(ROOT / "tests")
    if tests_dir not in sys.path:
        sys.path.insert(0, tests_dir)
    from pg_server import PostgresServer  # tests/ on sys.path: it imports `polling` too

    server = PostgresServer(durable=True)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def durability(pg: Any) -> dict[str, str]:
    """The durability settings as the running server reports them."""
    import psycopg

    with psycopg.connect(pg.conninfo()) as conn:
        return {name: conn.execute(f"SHOW {name}").fetchone()[0]
                for name in ("fsync", "synchronous_commit", "wal_sync_method", "full_page_writes")}


def fresh_database(pg: Any, rows: int) -> str:
    """A new database with the schema (created as a server creates it) and `rows` queued
    `noop` records; analyzed and checkpointed, so every case starts alike. Returns its URL."""
    from deferred.config import DbConfig
    from deferred.store import SqlTaskStore
    from deferred.store.engine import make_engine
    from deferred.store.schema import tasks

    url = pg.create_database()
    SqlTaskStore(DbConfig(url=url)).close()
    fill(url, rows)
    engine = make_engine(url)
    try:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql(f"ANALYZE {tasks.name}")
            conn.exec_driver_sql("CHECKPOINT")
    finally:
        engine.dispose()
    return url


def fill(url: str, rows: int) -> None:
    """Store `rows` queued `noop` records in bulk (setup only, not measured)."""
    from deferred.jsontext import encode_json
    from deferred.records import TaskStatus, utcnow
    from deferred.store.engine import make_engine
    from deferred.store.schema import tasks

    engine = make_engine(url)
    now = utcnow()
    row = {"name": "noop", "params": encode_json({}), "status": TaskStatus.QUEUED.value,
           "attempts": 0, "email": None, "created_at": now}
    if "sort_key" in tasks.c:  # schema 4: the claim order, which `SqlTaskStore.add` sets so
        row["sort_key"] = now.timestamp()
    try:
        for first in range(0, rows, INSERT_BATCH):
            with engine.begin() as conn:
                conn.execute(tasks.insert(), [dict(row) for _ in range(min(INSERT_BATCH,
                                                                           rows - first))])
    finally:
        engine.dispose()


# CPU accounting ----------------------------------------------------------------------------

_TICK = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> list[str] | None:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as file:
            text = file.read()
    except OSError:
        return None
    return text[text.rindex(")") + 2:].split()  # fields from the 3rd (state) on


def cpu_seconds(pids: list[int]) -> dict[int, float]:
    """User + system CPU seconds of each process still alive."""
    times = {}
    for pid in pids:
        fields = _stat(pid)
        if fields is not None:
            times[pid] = (int(fields[11]) + int(fields[12])) / _TICK  # utime, stime
    return times


def children_of(parent: int) -> list[int]:
    """The processes whose parent is `parent` (PostgreSQL's backends and helpers)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = _stat(int(entry))
            if fields is not None and int(fields[1]) == parent:
                found.append(int(entry))
    return found


def machine_busy() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot, from /proc/stat."""
    with open("/proc/stat", encoding="ascii") as file:
        values = [int(value) for value in file.readline().split()[1:]]
    idle = values[3] + values[4]  # idle, iowait
    total = sum(values[:8])  # without guest time (already in user)
    return (total - idle) / _TICK, total / _TICK


class CpuWindow:
    """CPU used by the servers, by PostgreSQL and by the machine between `begin()` and
    `end()`, in cores (CPU seconds over wall seconds)."""

    def __init__(self, server_pids: list[int], postmaster_pid: int) -> None:
        self.server_pids, self.postmaster_pid = server_pids, postmaster_pid

    def _snapshot(self) -> tuple[float, dict[int, float], dict[int, float], tuple[float, float],
                                 float]:
        pg_pids = [self.postmaster_pid, *children_of(self.postmaster_pid)]
        return (time.perf_counter(), cpu_seconds(self.server_pids), cpu_seconds(pg_pids),
                machine_busy(), time.process_time())

    def begin(self) -> None:
        self._first = self._snapshot()

    def end(self) -> dict[str, float]:
        (wall0, servers0, pg0, machine0, own0), (wall1, servers1, pg1, machine1, own1) = (
            self._first, self._snapshot())
        wall = wall1 - wall0

        def used(before: dict[int, float], after: dict[int, float]) -> float:
            # A backend started inside the window counts from zero.
            return sum(seconds - before.get(pid, 0.0) for pid, seconds in after.items())

        servers, pg = used(servers0, servers1) / wall, used(pg0, pg1) / wall
        own, machine = (own1 - own0) / wall, (machine1[0] - machine0[0]) / wall
        return {"servers_cores": round(servers, 2), "postgres_cores": round(pg, 2),
                "bench_process_cores": round(own, 2),  # the 50 ms poll
                "machine_cores": round(machine, 2),
                # Anything else running on the machine meanwhile (other jobs, the kernel).
                "other_cores": round(max(0.0, machine - servers - pg - own), 2),
                "machine_total_cores": round((machine1[1] - machine0[1]) / wall, 2),
                "per_server_cores": [round((servers1.get(pid, 0.0) - servers0.get(pid, 0.0))
                                           / wall, 2) for pid in self.server_pids]}


# The servers' connections that are not idle, by what they wait on: "active: Lock/advisory"
# (waiting for the claim lock), "active: IO/WALSync" (a commit's flush), "active: cpu" (running
# a statement), "idle in transaction: Client/ClientRead" (waiting for the server's Python).
ACTIVITY = sa.text(
    "SELECT state || ': ' || coalesce(wait_event_type || '/' || wait_event, 'cpu'), count(*) "
    "FROM pg_stat_activity WHERE backend_type = 'client backend' "
    "AND datname = current_database() AND pid <> pg_backend_pid() AND state <> 'idle' "
    "GROUP BY 1")


COMMITS = sa.text("SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()")
STATS_FLUSH_S = 1.2


# runserver processes -------------------------------------------------------------------------

class RunServer:
    """`python bench_tasks.py --log-level warning runserver --config config.json --port 0`,
    its output read by a thread (so the pipe never fills)."""

    def __init__(self, tasks_file: Path, config_file: Path, cwd: Path) -> None:
        env = dict(os.environ, PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1")
        self.process = subprocess.Popen(
            [sys.executable, str(tasks_file), "--log-level", "warning", "runserver",
             "--config", str(config_file), "--port", "0"],
            cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.output: list[str] = []
        self.listening = threading.Event()
        self._reader = threading.Thread(target=self._read, name="runserver-output", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.output.append(line)
            if LISTENING in line:
                self.listening.set()

    def wait_listening(self, deadline: float) -> None:
        while not self.listening.wait(0.05):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("a runserver did not start:\n" + "".join(self.output))

    def stop(self) -> int:
        """SIGTERM, wait (killed after STOP_TIMEOUT_S); returns the exit status."""
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


def drain(pg: Any, servers: int, quotas: str, tasks: int) -> dict[str, Any]:
    """One drain of `tasks` queued no-op records by `servers` runserver processes."""
    from deferred.store.engine import make_engine
    from deferred.store.schema import tasks as tasks_table

    url = fresh_database(pg, tasks)
    limits = QUOTAS_ON if quotas == "on" else QUOTAS_OFF
    config = {"db": {"url": url}, "limits": limits, "shutdown_grace_s": 5}
    counts = sa.select(
        sa.select(sa.func.count()).where(tasks_table.c.status == "SUCCEEDED")
        .scalar_subquery(),
        sa.select(sa.func.count()).where(tasks_table.c.status == "RUNNING").scalar_subquery())
    engine = make_engine(url)
    started: list[RunServer] = []
    with run_dir("pg-drain") as directory:
        tasks_file = directory / "bench_tasks.py"
        tasks_file.write_text(TASKS_FILE)
        config_file = directory / "config.json"
        config_file.write_text(json.dumps(config))
        try:
            with engine.connect() as poll:
                first_start = time.perf_counter()
                for index in range(servers):
                    cwd = directory / f"server{index}"
                    cwd.mkdir()
                    started.append(RunServer(tasks_file, config_file, cwd))
                deadline = time.monotonic() + START_TIMEOUT_S
                for server in started:
                    server.wait_listening(deadline)
                all_started = time.perf_counter()
                window = CpuWindow([server.process.pid for server in started],
                                   pg._process.pid)  # noqa: SLF001 (the postmaster)
                window.begin()
                done_at_start = poll.execute(counts).one()[0]
                commits_at_start = poll.execute(COMMITS).scalar_one()
                poll.rollback()
                running_seen: list[int] = []
                waits: collections.Counter[str] = collections.Counter()
                deadline = time.monotonic() + DRAIN_TIMEOUT_S
                while True:
                    done, running = poll.execute(counts).one()
                    if done >= tasks:
                        ended = time.perf_counter()
                        poll.rollback()
                        break
                    running_seen.append(running)
                    waits.update(dict(poll.execute(ACTIVITY).all()))
                    poll.rollback()  # a new snapshot each time
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"only {done} of {tasks} tasks SUCCEEDED in "
                                           f"{DRAIN_TIMEOUT_S}s")
                    time.sleep(POLL_S)
                cpu = window.end()
                time.sleep(STATS_FLUSH_S)  # backends report their counts about once a second
                commits = poll.execute(COMMITS).scalar_one() - commits_at_start
                per_owner = sorted(poll.execute(
                    sa.select(sa.func.count()).select_from(tasks_table)
                    .group_by(tasks_table.c.owner)).scalars(),
                    reverse=True)
                poll.rollback()
        finally:
            codes = [server.stop() for server in started]
            engine.dispose()
    if any(codes):
        raise RuntimeError(f"runserver exit statuses {codes}:\n"
                           + "".join(line for server in started for line in server.output))
    drained = tasks - done_at_start
    return {"servers": servers, "quotas": quotas, "limits": limits,
            "rate_from_all_started": drained / (ended - all_started),
            "rate_from_first_start": tasks / (ended - first_start),
            "seconds_from_all_started": round(ended - all_started, 3),
            "seconds_from_first_start": round(ended - first_start, 3),
            "start_up_s": round(all_started - first_start, 3),
            "done_before_all_started": done_at_start,
            # Transactions committed in the database while draining: mostly the dispatchers'
            # turns (a finish and a claim each); a few heartbeats.
            "commits": commits, "tasks_per_commit": round(drained / max(1, commits), 2),
            "commits_per_s": round(commits / (ended - all_started)),
            # Records each server ran (owners, most first; a server that ran none is a 0).
            "tasks_per_server": (per_owner + [0] * servers)[:max(servers, len(per_owner))],
            "running_mean": round(sum(running_seen) / max(1, len(running_seen)), 1),
            "running_max": max(running_seen, default=0),
            # What the servers' busy connections were doing, on average over the polls.
            "backends_mean": {state: round(count / max(1, len(running_seen)), 2)
                              for state, count in waits.most_common()},
            "cpu": cpu, "exit_codes": codes}


# claim cost ----------------------------------------------------------------------------------

def claim_turns(url: str, limits: Any, turns: int = CLAIM_TURNS) -> list[float]:
    """Milliseconds of `turns` timed dispatcher turns (after `CLAIM_WARMUP` untimed ones) on a
    new store: store the previous turn's 8 outcomes and claim 8, one transaction."""
    from deferred.config import DbConfig
    from deferred.records import Outcome, TaskStatus, utcnow
    from deferred.store import SqlTaskStore

    store = SqlTaskStore(DbConfig(url=url), limits=limits)
    times: list[float] = []
    pending: list[Any] = []
    try:
        for turn in range(CLAIM_WARMUP + turns):
            began = time.perf_counter()
            records = store.claim({"noop": WORKERS}, WORKERS, pending)
            elapsed = time.perf_counter() - began
            if len(records) != WORKERS:
                raise RuntimeError(f"turn {turn} claimed {len(records)} records, not {WORKERS}")
            if turn >= CLAIM_WARMUP:
                times.append(elapsed * 1000)
            now = utcnow()
            pending = [Outcome(record.id, record.attempts, TaskStatus.SUCCEEDED,
                               result_json="null", started_at=record.started_at,
                               finished_at=now) for record in records]
        store.finish(pending)
    finally:
        store.close()
    return times


def summary(times: list[float]) -> dict[str, Any]:
    return {"median_ms": median(times), "p95_ms": percentile(times, 0.95), "turns": len(times)}


def commit_floor(url: str) -> dict[str, Any]:
    """The cheapest durable write through the same engine: one one-row UPDATE and its commit."""
    from deferred.store.engine import make_engine

    engine = make_engine(url)
    times = []
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql("CREATE TABLE bench_floor (id integer PRIMARY KEY, n integer)")
            conn.exec_driver_sql("INSERT INTO bench_floor VALUES (1, 0)")
        update = sa.text("UPDATE bench_floor SET n = n + 1 WHERE id = 1")
        for turn in range(CLAIM_WARMUP + COMMIT_FLOOR_TURNS):
            began = time.perf_counter()
            with engine.begin() as conn:
                conn.execute(update)
            if turn >= CLAIM_WARMUP:
                times.append((time.perf_counter() - began) * 1000)
    finally:
        engine.dispose()
    return summary(times)


def claim_costs(pg: Any) -> dict[str, dict[str, Any]]:
    from deferred.config import DbConfig, LimitsConfig
    from deferred.store import SqlTaskStore

    limits = LimitsConfig(global_limit=QUOTAS_ON["global"], names=QUOTAS_ON["names"],
                          workers=WORKERS)
    # Each variant on its own database of CLAIM_ROWS queued records; rounds in the order
    # A B B A, so that a drift of the machine's speed during the run weighs on both alike.
    variants = {"postgresql_no_limits": (fresh_database(pg, CLAIM_ROWS), None),
                "postgresql_limits": (fresh_database(pg, CLAIM_ROWS), limits)}
    times: dict[str, list[float]] = {name: [] for name in variants}
    for name in ("postgresql_no_limits", "postgresql_limits", "postgresql_limits",
                 "postgresql_no_limits"):
        times[name] += claim_turns(*variants[name], turns=CLAIM_TURNS // 2)
    results = {name: summary(values) for name, values in times.items()}
    results["postgresql_commit_floor"] = commit_floor(pg.create_database())
    with run_dir("pg-drain-sqlite") as directory:
        url = f"sqlite+pysqlite:///{directory / 'deferred.db'}"
        SqlTaskStore(DbConfig(url=url)).close()
        fill(url, CLAIM_ROWS)
        results["sqlite"] = summary(claim_turns(url, None))
        results["sqlite_commit_floor"] = commit_floor(url)
    return results


# the table -----------------------------------------------------------------------------------

def _figure(value: float) -> float:
    return round(value) if value >= 100 else round(value, 1)


def _drain_row(result: dict[str, Any], tasks: int, goal: float | None, memory_fs: bool
               ) -> dict[str, Any]:
    quotas = ("quotas on (global 24, noop 12, workers 8)" if result["quotas"] == "on"
              else "quotas off (global 1,000,000, workers 8)")
    plural = "s" if result["servers"] > 1 else ""
    cpu = result["cpu"]
    row: dict[str, Any] = {
        "case": f"drain {tasks:,} no-op, {result['servers']} server{plural}, {quotas}",
        "unit": "tasks/s", "deferred": _figure(result["rate_from_all_started"]),
        "from 1st start": _figure(result["rate_from_first_start"]),
        "running mean/max": f"{result['running_mean']}/{result['running_max']}",
        "lock waiters": result["backends_mean"].get("active: Lock/advisory", 0.0),
        "tasks/commit": result["tasks_per_commit"],
        "per server": "/".join(str(count) for count in result["tasks_per_server"]),
        "cores servers/pg/other": (f"{cpu['servers_cores']}/{cpu['postgres_cores']}/"
                                   f"{cpu['other_cores']}")}
    if memory_fs:
        row["note"] = "data dir on tmpfs: no disk flush"
    if goal is not None:
        row["goal"] = f">= {goal:g} ({GOAL_FACTOR:g}x Procrastinate's {PROCRASTINATE_BEST})"
        row["met"] = "yes" if result["rate_from_all_started"] >= goal else "NO"
    return row


def _claim_row(case: str, figures: dict[str, Any]) -> dict[str, Any]:
    return {"case": case, "unit": "ms per turn", "median": round(figures["median_ms"], 2),
            "p95": round(figures["p95_ms"], 2)}


def run(tasks: int = TASKS) -> dict[str, Any]:
    goal = GOAL_FACTOR * PROCRASTINATE_BEST
    with postgres() as pg:
        data_fs = filesystem_of(pg.data_dir.resolve())
        memory_fs = data_fs in MEMORY_FILESYSTEMS
        drains = [drain(pg, servers, quotas, tasks) for servers, quotas in CASES]
        claims = claim_costs(pg)
        settings = dict(pg.settings)
        settings.update(durability(pg))
    rows = [_drain_row(result, tasks, goal if (result["servers"], result["quotas"]) == (3, "on")
                       else None, memory_fs) for result in drains]
    rows += [
        _claim_row("claim turn (store 8 outcomes + claim 8), PostgreSQL, limits=None "
                   "(claim lock, no count)", claims["postgresql_no_limits"]),
        _claim_row("claim turn, PostgreSQL, limits global 24 / noop 12 (claim lock + "
                   "RUNNING count)", claims["postgresql_limits"]),
        _claim_row("one-row UPDATE + commit, PostgreSQL (floor)",
                   claims["postgresql_commit_floor"]),
        _claim_row("claim turn, SQLite file (WAL, synchronous=FULL)", claims["sqlite"]),
        _claim_row("one-row UPDATE + commit, SQLite (floor)", claims["sqlite_commit_floor"]),
    ]
    return {"rows": rows, "tasks": tasks, "claim_rows": CLAIM_ROWS,
            "postgres_data_filesystem": data_fs, "postgres_settings": settings,
            "goal": f">= {goal:g} tasks/s with 3 servers, quotas on ({GOAL_FACTOR:g}x "
                    f"Procrastinate's {PROCRASTINATE_BEST}/s)",
            "timed_from": "every runserver printed its 'listening on' line (the tasks left "
                          "then); 'from 1st start' counts all tasks from the first Popen",
            "drains": [{**result, "rate_from_all_started": round(result["rate_from_all_started"]),
                        "rate_from_first_start": round(result["rate_from_first_start"])}
                       for result in drains],
            "claims": {name: {key: round(value, 3) if isinstance(value, float) else value
                              for key, value in figures.items()}
                       for name, figures in claims.items()}}
