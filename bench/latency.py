"""(c) Idle submit-to-start latency: 200 tasks sent 20 ms apart to an idle server, from the
submit call to the first line of the task body (`time.perf_counter()` on both ends, one
process).

deferred: `Server.submit` (it returns once the row is committed; the body starts after the
dispatcher's claim is committed too). Huey: calling the task; its consumer at its defaults
(1 worker, polling from 0.1 s with backoff) and with 8 workers.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from .sides import HueySide, Probe, deferred_server, percentile, run_dir, stop_consumer
from .summary import goal_row, ratio_row

TASKS = 200
INTERVAL_S = 0.020
SETTLE_S = 0.5  # idle before the first send, so nothing is left from the start
TIMEOUT_S = 30.0


def _send_paced(send: Callable[[int], Any], probe: Probe, tasks: int) -> list[float]:
    """Send `tasks` tasks `INTERVAL_S` apart (on a fixed schedule); latencies in seconds."""
    sent: dict[int, float] = {}
    time.sleep(SETTLE_S)
    schedule = time.perf_counter()
    for i in range(tasks):
        schedule += INTERVAL_S
        pause = schedule - time.perf_counter()
        if pause > 0:
            time.sleep(pause)
        sent[i] = time.perf_counter()
        send(i)
    if not probe.all_ran.wait(TIMEOUT_S):
        raise RuntimeError(f"only {probe.count} of {tasks} tasks started")
    return [probe.started[i] - sent[i] for i in range(tasks)]


class _CountingProbe(Probe):
    def mark(self, i: int) -> None:
        super().mark(i)
        self.hit()


def latency_deferred(tasks: int) -> list[float]:
    probe = _CountingProbe(tasks)
    with run_dir("latency-deferred") as directory:
        server = deferred_server(directory, probe)
        server.start(listen=False)
        try:
            return _send_paced(lambda i: server.submit("mark", {"i": i}), probe, tasks)
        finally:
            server.stop()


def latency_huey(tasks: int, workers: int | None) -> list[float]:
    probe = _CountingProbe(tasks)
    with run_dir("latency-huey") as directory:
        side = HueySide(directory, probe)
        consumer = side.consumer(workers)
        consumer.start()
        try:
            mark = side.tasks["mark"]
            return _send_paced(mark, probe, tasks)
        finally:
            stop_consumer(consumer)
            side.close()


def run(tasks: int = TASKS) -> dict[str, Any]:
    """p50 and p99 for deferred and for Huey at its defaults and with 8 workers."""
    lat = {"deferred": latency_deferred(tasks), "huey_1": latency_huey(tasks, None),
           "huey_8": latency_huey(tasks, 8)}
    ms = {side: {"p50": percentile(v, 0.50) * 1000, "p99": percentile(v, 0.99) * 1000,
                 "max": max(v) * 1000} for side, v in lat.items()}
    rows = []
    for stat, goal in (("p50", 1.0), ("p99", 5.0)):
        rows.append(goal_row(f"idle submit-to-start {stat}", "ms", ms["deferred"][stat], goal,
                             higher_is_better=False))
        for side, label in (("huey_1", "defaults (1 worker)"), ("huey_8", "workers=8")):
            rows.append(ratio_row(f"idle submit-to-start {stat} (lower is better)", "ms",
                                  ms["deferred"][stat], ms[side][stat], label))
    return {"rows": rows, "tasks": tasks, "interval_s": INTERVAL_S,
            "ms": {side: {k: round(v, 3) for k, v in stats.items()} for side, stats in ms.items()}}
