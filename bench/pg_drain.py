"""PostgreSQL 15: how fast 1 and 3 `runserver` processes sharing one database drain queued
no-op tasks, with the cluster quotas on and effectively off, against Procrastinate's 1 and 3
workers (concurrency 8) on the same PostgreSQL in the same run (`pg_procrastinate`), and what
one dispatcher turn costs in-process (`pg_claim_cost`).

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
server on PostgreSQL always passes its limits to the store). Every case runs `ROUNDS` times
(rounds alternate the cases); the table gives the round with the median rate, and every
round's rate.

Beside each rate, what limits it: CPU cores used during the drain by the servers, by
PostgreSQL's processes and by anything else on the machine (from /proc: a shared machine's
other jobs show there); each poll also samples the RUNNING rows and what the servers' busy
connections wait on (`lock waiters`: backends waiting for the claim lock, on average);
`tasks/commit`, the records drained per transaction committed (the dispatchers' turns); and
how many records each server ran (their `owner`).
"""

from __future__ import annotations

import collections
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from . import pg_procrastinate
from .pg_claim_cost import claim_costs
from .pg_observe import ACTIVITY, COMMITS, STATS_FLUSH_S, CpuWindow
from .pg_setup import MEMORY_FILESYSTEMS, ROOT, durability, fresh_database, postgres
from .sides import filesystem_of, median, run_dir

TASKS = 10_000
ROUNDS = int(os.environ.get("DEFERRED_BENCH_PG_ROUNDS", "3"))
PEER_WORKERS = (1, 3)
POLL_S = 0.05
START_TIMEOUT_S = 30.0
DRAIN_TIMEOUT_S = 120.0
STOP_TIMEOUT_S = 30.0
WORKERS = 8
QUOTAS_ON = {"global": 24, "names": {"noop": 12}, "workers": WORKERS}
QUOTAS_OFF = {"global": 1_000_000, "workers": WORKERS}
CASES = ((1, "on"), (3, "on"), (1, "off"), (3, "off"))
GOAL_FACTOR = 1.5
LISTENING = "listening on "

TASKS_FILE = '''"""The pg_drain benchmark's task: does nothing."""

import deferred


@deferred.task(name="noop")
def noop():
    """Does nothing."""


if __name__ == "__main__":
    deferred.run_cli()
'''


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
                                   pg._process.pid)
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


# the table -----------------------------------------------------------------------------------

def _figure(value: float) -> float:
    return round(value) if value >= 100 else round(value, 1)


def _median_round(results: list[dict[str, Any]]) -> dict[str, Any]:
    """The round whose rate is the median (the lower middle one of an even count)."""
    ordered = sorted(results, key=lambda result: result["rate_from_all_started"])
    return ordered[(len(ordered) - 1) // 2]


def _rounds(results: list[dict[str, Any]]) -> str:
    return "/".join(str(_figure(result["rate_from_all_started"])) for result in results)


def _common(result: dict[str, Any], results: list[dict[str, Any]], side: str
            ) -> dict[str, Any]:
    cpu = result["cpu"]
    return {"unit": "tasks/s", side: _figure(result["rate_from_all_started"]),
            "rounds": _rounds(results),
            "from 1st start": _figure(result["rate_from_first_start"]),
            "running mean/max": f"{result['running_mean']}/{result['running_max']}",
            "lock waiters": result["backends_mean"].get("active: Lock/advisory", 0.0),
            "tasks/commit": result["tasks_per_commit"],
            "cores runners/pg/other": (f"{cpu['servers_cores']}/{cpu['postgres_cores']}/"
                                       f"{cpu['other_cores']}")}


def _drain_row(results: list[dict[str, Any]], tasks: int, goal: float | None,
               memory_fs: bool) -> dict[str, Any]:
    result = _median_round(results)
    quotas = ("quotas on (global 24, noop 12, workers 8)" if result["quotas"] == "on"
              else "quotas off (global 1,000,000, workers 8)")
    plural = "s" if result["servers"] > 1 else ""
    row: dict[str, Any] = {
        "case": f"deferred: drain {tasks:,} no-op, {result['servers']} server{plural}, {quotas}",
        **_common(result, results, "deferred"),
        "per runner": "/".join(str(count) for count in result["tasks_per_server"])}
    if memory_fs:
        row["note"] = "data dir on tmpfs: no disk flush"
    if goal is not None:
        row["goal"] = f">= {GOAL_FACTOR:g}x Procrastinate's 3 workers"
        row["goal tasks/s"] = _figure(goal)
        row["met"] = "yes" if result["rate_from_all_started"] >= goal else "NO"
    return row


def _peer_row(results: list[dict[str, Any]], tasks: int, version: str) -> dict[str, Any]:
    result = _median_round(results)
    plural = "s" if result["workers"] > 1 else ""
    return {"case": (f"Procrastinate {version}: drain {tasks:,} no-op (async def), "
                     f"{result['workers']} worker{plural}, concurrency {result['concurrency']}"),
            **_common(result, results, "procrastinate"),
            "per runner": "/".join(str(count) for count in result["tasks_per_worker"])}


def _claim_row(case: str, figures: dict[str, Any]) -> dict[str, Any]:
    return {"case": case, "unit": "ms per turn", "median": round(figures["median_ms"], 2),
            "p95": round(figures["p95_ms"], 2)}


def _rounded(result: dict[str, Any]) -> dict[str, Any]:
    return {**result, "rate_from_all_started": round(result["rate_from_all_started"]),
            "rate_from_first_start": round(result["rate_from_first_start"])}


def run(tasks: int = TASKS, rounds: int = ROUNDS) -> dict[str, Any]:
    version = pg_procrastinate.available()
    if version is None:
        raise RuntimeError("pg_drain measures Procrastinate beside deferred: "
                           "pip install -e '.[bench]'")
    ours: dict[tuple[int, str], list[dict[str, Any]]] = {case: [] for case in CASES}
    peers: dict[int, list[dict[str, Any]]] = {workers: [] for workers in PEER_WORKERS}
    with postgres() as pg:
        data_fs = filesystem_of(pg.data_dir.resolve())
        memory_fs = data_fs in MEMORY_FILESYSTEMS
        for _ in range(rounds):  # the cases alternate, so a drift weighs on all alike
            for workers in PEER_WORKERS:
                peers[workers].append(pg_procrastinate.drain(pg, workers, tasks))
            for servers, quotas in CASES:
                ours[(servers, quotas)].append(drain(pg, servers, quotas, tasks))
        claims = claim_costs(pg)
        settings = dict(pg.settings)
        settings.update(durability(pg))
    peer_rate = median([result["rate_from_all_started"] for result in peers[3]])
    goal = GOAL_FACTOR * peer_rate
    rows = [_peer_row(peers[workers], tasks, version) for workers in PEER_WORKERS]
    rows += [_drain_row(ours[case], tasks, goal if case == (3, "on") else None, memory_fs)
             for case in CASES]
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
    return {"rows": rows, "tasks": tasks, "rounds": rounds,
            "postgres_data_filesystem": data_fs, "postgres_settings": settings,
            "procrastinate": version,
            "goal": f">= {goal:.0f} tasks/s with 3 servers, quotas on ({GOAL_FACTOR:g}x "
                    f"Procrastinate's 3 workers, median {peer_rate:.0f}/s in this run)",
            "timed_from": "every runserver printed its 'listening on' line, every "
                          "Procrastinate worker registered (the tasks left then); "
                          "'from 1st start' counts all tasks from the first Popen",
            "drains": [_rounded(result) for results in ours.values() for result in results],
            "procrastinate_drains": [_rounded(result) for results in peers.values()
                                     for result in results],
            "claims": {name: {key: round(value, 3) if isinstance(value, float) else value
                              for key, value in figures.items()}
                       for name, figures in claims.items()}}
