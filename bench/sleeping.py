"""(d) Tasks that sleep 10 ms, with 4 and with 8 workers, as a share of the ideal time
(n * 10 ms / workers): stored before the workers start, timed as the drain is (from the start
until every one is finished). Huey's thread consumer runs with the same number of workers.
"""

from __future__ import annotations

from typing import Any

from .drain import drain_deferred, drain_huey
from .sides import median
from .summary import goal_row, ratio_row

TASK_S = 0.010
IDEAL_S = 1.0  # n is chosen so that the ideal run takes this long
REPEATS = 3
HUEY_SHARE = 0.94  # what the issue measured for Huey; printed only for reference


def run(repeats: int = REPEATS) -> dict[str, Any]:
    """Median share of the ideal over `repeats` rounds, for 4 and 8 workers."""
    rows: list[dict[str, Any]] = []
    shares: dict[str, list[float]] = {}
    for workers in (4, 8):
        count = round(IDEAL_S * workers / TASK_S)
        ideal_s = count * TASK_S / workers
        ours, huey = [], []
        for _ in range(repeats):
            ours.append(ideal_s / drain_deferred(count, workers, "sleep10")["seconds"])
            huey.append(ideal_s / drain_huey(count, workers, "sleep10")["seconds"])
        shares[f"deferred_{workers}"], shares[f"huey_{workers}"] = ours, huey
        case = f"{count} x 10 ms tasks, {workers} workers"
        rows.append(goal_row(case, "% of ideal", 100 * median(ours), 97.0))
        rows.append(ratio_row(case, "% of ideal", 100 * median(ours), 100 * median(huey),
                              f"workers={workers}"))
    return {"rows": rows, "repeats": repeats, "ideal_s": IDEAL_S,
            "shares": {key: [round(v, 4) for v in values] for key, values in shares.items()}}
