"""(b) Enqueue rate from one in-process producer: one task stored (committed) per call.

- deferred `Server.submit`: the server started with `listen=False`, its dispatcher running,
  so it claims and runs what is submitted meanwhile (what an embedder gets). The goal is
  judged on this one.
- deferred store path: `SqlTaskStore.add`, the call `Server.submit` ends in, with no server
  around it (no params check, no dispatcher).
- Huey: calling the task (`noop()`), no consumer running.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from .sides import HueySide, Probe, deferred_server, deferred_url, median, run_dir
from .summary import ratio_row

CALLS = 3000
REPEATS = 3


def _rate(call: Callable[[], Any], calls: int) -> float:
    began = time.perf_counter()
    for _ in range(calls):
        call()
    return calls / (time.perf_counter() - began)


def enqueue_server(calls: int) -> float:
    probe = Probe()
    with run_dir("enqueue-server") as directory:
        server = deferred_server(directory, probe)
        server.start(listen=False)
        try:
            _rate(lambda: server.submit("noop", {}), 50)  # warm-up: statement caches
            return _rate(lambda: server.submit("noop", {}), calls)
        finally:
            server.stop()


def enqueue_store(calls: int) -> float:
    from deferred.config import DbConfig
    from deferred.store import SqlTaskStore

    with run_dir("enqueue-store") as directory:
        store = SqlTaskStore(DbConfig(deferred_url(directory)))
        try:
            _rate(lambda: store.add("noop", {}), 50)
            return _rate(lambda: store.add("noop", {}), calls)
        finally:
            store.close()


def enqueue_huey(calls: int) -> float:
    with run_dir("enqueue-huey") as directory:
        side = HueySide(directory, Probe())
        try:
            noop = side.tasks["noop"]
            _rate(noop, 50)
            return _rate(noop, calls)
        finally:
            side.close()


def run(calls: int = CALLS, repeats: int = REPEATS) -> dict[str, Any]:
    """Median rates over `repeats` rounds of `calls` enqueues per side."""
    runs: dict[str, list[float]] = {"server": [], "store": [], "huey": []}
    for _ in range(repeats):
        runs["server"].append(enqueue_server(calls))
        runs["store"].append(enqueue_store(calls))
        runs["huey"].append(enqueue_huey(calls))
    rate = {side: median(values) for side, values in runs.items()}
    rows = [ratio_row("enqueue, Server.submit (server running)", "tasks/s", rate["server"],
                      rate["huey"], "task call, no consumer", goal=1.0),
            ratio_row("enqueue, SqlTaskStore.add (no server)", "tasks/s", rate["store"],
                      rate["huey"], "task call, no consumer")]
    return {"rows": rows, "calls": calls, "repeats": repeats,
            "runs_per_s": {side: [round(v) for v in values] for side, values in runs.items()}}
