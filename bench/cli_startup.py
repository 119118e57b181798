"""CLI start-up: `python sample_tasks.py mult --params '{"operands": [3, 2, 8]}'` end to end."""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COMMAND = [sys.executable, "sample_tasks.py", "mult", "--params", '{"operands": [3, 2, 8]}']
BASELINE = [sys.executable, "-c", "pass"]
JSONSCHEMA_ONLY = [sys.executable, "-c", "import jsonschema"]


def _median_ms(command: list[str], runs: int) -> tuple[float, float]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
        times.append((time.perf_counter() - started) * 1000)
        if done.returncode != 0:
            raise RuntimeError(f"{command} failed: {done.stderr}")
    return statistics.median(times), max(times)


def run(runs: int = 20) -> list[dict[str, object]]:
    """Median and worst wall time of each command over `runs` runs (after one warm-up)."""
    rows = []
    for label, command in (("cli: mult end to end", COMMAND),
                           ("python -c pass", BASELINE),
                           ("python -c 'import jsonschema'", JSONSCHEMA_ONLY)):
        _median_ms(command, 1)
        median, worst = _median_ms(command, runs)
        rows.append({"benchmark": label, "runs": runs, "median_ms": round(median, 1),
                     "max_ms": round(worst, 1)})
    return rows
