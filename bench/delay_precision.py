"""Delayed tasks on an idle server: how late after its `run_at` a task starts.

An embedded `Server` (`listen=False`, pool of 8) on a new SQLite file, and the same on a
durable PostgreSQL 15 (the tests' `PostgresServer(durable=True)`, as pg_drain starts it; the
case is skipped, and says why, when PostgreSQL 15 or psycopg is missing). The task body's
first line reads `datetime.now(timezone.utc)`; lateness is that minus the record's `run_at`
(`Server.submit(..., delay_s=d)` stores `run_at` = the submit's clock + d). The record's
`started_at` (the claim's clock, written by the server) minus `run_at` is given beside it, so
the claim and the hand-over to a worker thread can be told apart. One process, one clock.

Two ways to keep the server idle when each task falls due:

- spread: `SPREAD_TASKS` submits on a fixed schedule `SUBMIT_INTERVAL_S` apart, each with a
  delay drawn uniformly in [`DELAY_MIN_S`, `DELAY_MAX_S`] (seeded), redrawn until its `run_at`
  is at least `MIN_GAP_S` from every other task's `run_at` and at least `SUBMIT_GAP_S` from
  every submit (the delay is adjusted by the submit's own jitter, so the plan holds). Several
  delayed rows wait in the store at once, as in real use, and submits keep waking the
  dispatcher in between.
- one at a time (SQLite only): `SEQUENTIAL_TASKS` tasks, each submitted once the previous one
  is finished, with a delay drawn the same way: the only delayed row is the one measured.

Goal (issue 8): every task within 100 ms of its `run_at` on an idle server; none early.
"""

from __future__ import annotations

import datetime
import random
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import deferred
from deferred.tasks.registry import TaskRegistry

from .sides import deferred_url, median, percentile, run_dir

SPREAD_TASKS = 100
SEQUENTIAL_TASKS = 16
SUBMIT_INTERVAL_S = 0.150
DELAY_MIN_S, DELAY_MAX_S = 0.2, 1.5
MIN_GAP_S = 0.050  # between two tasks' run_at
SUBMIT_GAP_S = 0.030  # between a run_at and any submit
SETTLE_S = 0.5  # idle after start, before the first submit
WAIT_S = 30.0
SEED = 8
GOAL_MS = 100.0


class Stamps:
    """When each task body started (`datetime.now(timezone.utc)`, its first line)."""

    def __init__(self) -> None:
        self.at: dict[int, datetime.datetime] = {}
        self._lock = threading.Lock()

    def registry(self) -> TaskRegistry:
        registry = TaskRegistry()

        def stamp(i: int) -> None:
            now = datetime.datetime.now(datetime.timezone.utc)
            with self._lock:
                self.at[i] = now

        deferred.task(name="stamp", registry=registry)(stamp)
        return registry


@contextmanager
def started_server(url: str, stamps: Stamps) -> Iterator[deferred.Server]:
    server = deferred.Server({"db": {"url": url}, "shutdown_grace_s": 30},
                             registry=stamps.registry())
    server.start(listen=False)
    try:
        time.sleep(SETTLE_S)
        yield server
    finally:
        server.stop()


def spread_plan(tasks: int, rng: random.Random) -> list[tuple[float, float]]:
    """(submit time, run_at), in seconds from the first submit's slot."""
    submits = [i * SUBMIT_INTERVAL_S for i in range(tasks)]
    plan: list[tuple[float, float]] = []
    for submit_at in submits:
        for _ in range(10_000):
            run_at = submit_at + rng.uniform(DELAY_MIN_S, DELAY_MAX_S)
            if (all(abs(run_at - other) >= MIN_GAP_S for _, other in plan)
                    and all(abs(run_at - other) >= SUBMIT_GAP_S for other in submits)):
                break
        else:
            raise RuntimeError(f"no room for a run_at after the submit at {submit_at:.3f}s")
        plan.append((submit_at, run_at))
    return plan


def measure_spread(server: deferred.Server, tasks: int, rng: random.Random) -> list[Any]:
    plan = spread_plan(tasks, rng)
    handles = []
    origin = time.perf_counter() + 0.05
    for i, (submit_at, run_at) in enumerate(plan):
        pause = origin + submit_at - time.perf_counter()
        if pause > 0:
            time.sleep(pause)
        delay = run_at - (time.perf_counter() - origin)  # the plan's run_at, despite jitter
        handles.append(server.submit("stamp", {"i": i}, delay_s=delay))
    return [_finished(handle) for handle in handles]


def measure_sequential(server: deferred.Server, tasks: int, rng: random.Random) -> list[Any]:
    records = []
    for i in range(tasks):
        handle = server.submit("stamp", {"i": i}, delay_s=rng.uniform(DELAY_MIN_S, DELAY_MAX_S))
        records.append(_finished(handle))
    return records


def _finished(handle: Any) -> Any:
    handle.wait(WAIT_S)  # raises if it failed or is not finished in time
    return handle.record


def figures(records: list[Any], stamps: Stamps) -> dict[str, Any]:
    def ms(delta: datetime.timedelta) -> float:
        return delta.total_seconds() * 1000

    body = [ms(stamps.at[record.params["i"]] - record.run_at) for record in records]
    claim = [ms(record.started_at - record.run_at) for record in records]
    handover = [ms(stamps.at[record.params["i"]] - record.started_at) for record in records]

    def stats(values: list[float]) -> dict[str, float]:
        return {"min": round(min(values), 3), "median": round(median(values), 3),
                "p95": round(percentile(values, 0.95), 3),
                "p99": round(percentile(values, 0.99), 3), "max": round(max(values), 3)}

    return {"tasks": len(records), "body_minus_run_at_ms": stats(body),
            "started_at_minus_run_at_ms": stats(claim),
            "body_minus_started_at_ms": stats(handover),
            "early_body": sum(value < 0 for value in body),
            "early_started_at": sum(value < 0 for value in claim),
            "delays_s": [round(min(r.run_at - r.created_at for r in records).total_seconds(), 3),
                         round(max(r.run_at - r.created_at for r in records).total_seconds(), 3)]}


def run_sqlite() -> dict[str, Any]:
    rng = random.Random(SEED)
    results = {}
    with run_dir("delay-precision") as directory:
        stamps = Stamps()
        with started_server(deferred_url(directory), stamps) as server:
            results["sqlite, spread"] = figures(
                measure_spread(server, SPREAD_TASKS, rng), stamps)
    with run_dir("delay-precision-seq") as directory:
        stamps = Stamps()
        with started_server(deferred_url(directory), stamps) as server:
            results["sqlite, one at a time"] = figures(
                measure_sequential(server, SEQUENTIAL_TASKS, rng), stamps)
    return results


def run_postgresql() -> dict[str, Any]:
    from . import pg_setup

    try:
        import psycopg  # noqa: F401
        context = pg_setup.postgres()
        pg = context.__enter__()
    except Exception as exc:  # no PostgreSQL 15 here: the SQLite figures still stand
        return {"skipped": f"{type(exc).__name__}: {exc}"}
    try:
        stamps = Stamps()
        with started_server(pg.create_database(), stamps) as server:
            return {"postgresql, spread": figures(
                measure_spread(server, SPREAD_TASKS, random.Random(SEED)), stamps)}
    finally:
        context.__exit__(None, None, None)


def _row(case: str, result: dict[str, Any]) -> dict[str, Any]:
    body, claim = result["body_minus_run_at_ms"], result["started_at_minus_run_at_ms"]
    return {"case": f"{case}: task body start - run_at ({result['tasks']} tasks)", "unit": "ms",
            "median": body["median"], "p95": body["p95"], "p99": body["p99"],
            "max": body["max"],
            "early body/started_at": f"{result['early_body']}/{result['early_started_at']}",
            "started_at - run_at median/p99/max": (f"{claim['median']}/{claim['p99']}/"
                                                   f"{claim['max']}"),
            "goal": f"max < {GOAL_MS:g}, 0 early",
            "met": "yes" if body["max"] < GOAL_MS and result["early_body"] == 0
                   and result["early_started_at"] == 0 else "NO"}


def run() -> dict[str, Any]:
    results = run_sqlite()
    postgresql = run_postgresql()
    rows = [_row(case, result) for case, result in results.items()]
    if "skipped" in postgresql:
        rows.append({"case": "postgresql, spread", "note": f"skipped ({postgresql['skipped']})"})
    else:
        results.update(postgresql)
        rows += [_row(case, result) for case, result in postgresql.items()]
    return {"rows": rows, "cases": results, "seed": SEED,
            "delay_s": [DELAY_MIN_S, DELAY_MAX_S], "submit_interval_s": SUBMIT_INTERVAL_S,
            "min_gap_s": MIN_GAP_S, "submit_gap_s": SUBMIT_GAP_S}
