"""The mixed load: 16 clients submitting with an `Idempotency-Key` each (a safe retry's
price), the server's 8 workers running the tasks, and 2 clients polling `GET /api/tasks` and
`GET /tasks` every 100 ms, against a real `runserver` on SQLite; beside the same load with
plain submits (no key), on a server of its own, in the same round.

Goal: keyed submits at no less than 0.5 of the plain rate, p99 at most 100 ms, every answer
a 202 (no 5xx, no "database is locked"), and every accepted submit a row.
"""

from __future__ import annotations

from typing import Any

from .http_submit import SUBMIT, WARMUP_S, _phase, _rows, _start_server, _stop
from .sides import median, run_dir
from .summary import goal_row

SUBMITTERS = 16
POLLERS = 2
DURATION_S = 5.0
ROUNDS = 3


def _one(mode: str) -> dict[str, Any]:
    with run_dir(f"mixed-{mode}") as directory:
        process, port = _start_server(directory)
        try:
            seen = _phase(port, process.pid, SUBMIT, WARMUP_S, DURATION_S,
                          connections=SUBMITTERS, mode=mode, pollers=POLLERS)
        finally:
            exit_code = _stop(process)
        seen["rows_stored"] = _rows(directory / "bench.db")
        seen["server_exit"] = exit_code
        log = (directory / "server.log").read_text(errors="replace")
        seen["locked_in_log"] = log.count("database is locked")
    return seen


def run(rounds: int = ROUNDS) -> dict[str, Any]:
    """Medians over `rounds` rounds of a plain and a keyed phase."""
    results = [{"plain": _one("plain"), "keyed": _one("keyed")} for _ in range(rounds)]
    plain = median([r["plain"]["per_s"] for r in results])
    keyed = median([r["keyed"]["per_s"] for r in results])
    clean = all(set(r[mode]["statuses"]) == {"202"} and set(r[mode]["poll_statuses"]) == {"200"}
                and r[mode]["locked_in_log"] == 0
                and r[mode]["accepted"] == r[mode]["rows_stored"]
                for r in results for mode in ("plain", "keyed"))
    case = f"{SUBMITTERS} submitting clients, 8 workers, {POLLERS} pollers"
    rows = [goal_row(f"{case}: keyed / plain submits", "x plain", keyed / plain, 0.5,
                     keyed_per_s=round(keyed), plain_per_s=round(plain)),
            goal_row(f"{case}: keyed submits", "p99 ms",
                     median([r["keyed"]["p99_ms"] for r in results]), 100,
                     higher_is_better=False,
                     p50_ms=round(median([r["keyed"]["p50_ms"] for r in results]), 1)),
            {"case": f"{case}: every answer 202 (polls 200), no 'database is locked', "
                     "accepted = rows", "unit": "", "deferred": "yes" if clean else "no",
             "goal": "yes", "met": "yes" if clean else "NO"}]
    return {"rows": rows, "rounds": results}
