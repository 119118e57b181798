"""(a) Drain 10,000 queued no-op tasks: stored before the workers start, timed from the start
until every one is finished (deferred: its SUCCEEDED row committed; Huey: its `complete`
signal sent, after Huey deleted its row).

deferred runs its default pool of 8; Huey runs its thread consumer at its defaults (1 worker)
and with 8 workers. The goal (3x Huey) is judged against the faster of the two.
"""

from __future__ import annotations

import datetime
import time
from typing import Any

from deferred.records import utcnow

from .sides import (HueySide, Probe, deferred_preload, deferred_server, deferred_wait_stored,
                    median, run_dir, stop_consumer)
from .summary import goal_row, ratio_row

TASKS = 10_000
REPEATS = 3
DELAYED_DUE_S = 1.0  # after the preload: time enough to start the server
TIMEOUT_S = 120.0


def drain_deferred(count: int, workers: int = 8, name: str = "noop", *,
                   delayed: bool = False) -> dict[str, float]:
    """One drain by deferred: seconds from `start()` to the last finish committed. With
    `delayed`, the records are delayed until a moment after the server started, and timed
    from then: tasks with a start time that come due together."""
    probe = Probe(count)
    with run_dir("drain-deferred") as directory:
        due = utcnow() + datetime.timedelta(seconds=DELAYED_DUE_S) if delayed else None
        deferred_preload(directory, name, count, run_at=due)
        server = deferred_server(directory, probe, workers)
        began = time.perf_counter()
        server.start(listen=False)
        started = time.perf_counter()
        if due is not None:
            began += (due - utcnow()).total_seconds()
        try:
            ended = deferred_wait_stored(directory, probe, count, TIMEOUT_S)
        finally:
            server.stop()
    return {"seconds": ended - began, "start_s": started - began}


def drain_huey(count: int, workers: int | None, name: str = "noop") -> dict[str, Any]:
    """One drain by Huey's thread consumer (`workers=None`: its default)."""
    probe = Probe(count)
    with run_dir("drain-huey") as directory:
        side = HueySide(directory, probe)
        try:
            side.preload(name, count)
            durability = side.durability()
            consumer = side.consumer(workers)
            began = time.perf_counter()
            consumer.start()
            try:
                ended = side.wait_completed(count, TIMEOUT_S)
            finally:
                stop_consumer(consumer)
        finally:
            side.close()
    return {"seconds": ended - began, "durability": durability}


def run(tasks: int = TASKS, repeats: int = REPEATS) -> dict[str, Any]:
    """Median rates over `repeats` rounds; each round runs every side once."""
    runs: dict[str, list[dict[str, Any]]] = {"deferred": [], "huey_1": [], "huey_8": [],
                                             "delayed": []}
    for _ in range(repeats):
        runs["deferred"].append(drain_deferred(tasks))
        runs["delayed"].append(drain_deferred(tasks, delayed=True))
        runs["huey_1"].append(drain_huey(tasks, None))
        runs["huey_8"].append(drain_huey(tasks, 8))
    rate = {side: median([tasks / r["seconds"] for r in results])
            for side, results in runs.items()}
    best = "huey_8" if rate["huey_8"] >= rate["huey_1"] else "huey_1"
    delayed_ratio = rate["delayed"] / rate["deferred"]
    label = {"huey_1": "defaults (1 worker)", "huey_8": "workers=8"}
    rows = [ratio_row(f"drain {tasks:,} no-op, pool 8", "tasks/s", rate["deferred"],
                      rate[side], f"{label[side]}{' *' if side == best else ''}",
                      goal=3.0 if side == best else None)
            for side in ("huey_8", "huey_1")]
    rows.append(goal_row(f"drain {tasks:,} delayed no-op, due together", "x queued drain",
                         delayed_ratio, 0.9, deferred_per_s=round(rate["delayed"])))
    return {"rows": rows, "tasks": tasks, "repeats": repeats, "ratio_uses": label[best],
            "deferred_start_s": median([r["start_s"] for r in runs["deferred"]]),
            "huey_durability": runs["huey_1"][0]["durability"],
            "deferred_durability": "WAL, synchronous=FULL (set on each connection by "
                                   "deferred.store.engine)",
            "runs_s": {side: [round(r["seconds"], 4) for r in results]
                       for side, results in runs.items()}}
