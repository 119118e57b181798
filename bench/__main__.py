"""Run every benchmark, print a table, write `bench/results.json` and `bench/tables/NAME.md`.

    .venv/bin/python -m bench          # all of them
    .venv/bin/python -m bench drain    # one (or several) by name
    .venv/bin/python -m bench drain --out FILE   # the JSON to FILE, no tables written
    .venv/bin/python -m bench compare REV [NAME ...] [--rounds N]   # REV against the working tree

A benchmark returns its rows, or a dict with its `rows` and details that go to the JSON only.
The server benchmarks (drain, enqueue, latency, sleeping, http_submit) need Huey:
`pip install -e '.[bench]'`. pg_drain needs PostgreSQL 15's server programs, psycopg and
Procrastinate (it starts its own PostgreSQL, as the tests do); so does delay_precision's PostgreSQL case, which
is skipped without them.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

from . import (cli_startup, dashboard, delay_precision, drain, email_delivery, enqueue,
               http_submit, latency, mixed_load, pg_drain, sleeping, ui_pages)
from .tables import write_table

BENCHMARKS = {"cli_startup": cli_startup.run, "drain": drain.run, "enqueue": enqueue.run,
              "latency": latency.run, "sleeping": sleeping.run, "http_submit": http_submit.run,
              "email_delivery": email_delivery.run, "ui_pages": ui_pages.run,
              "dashboard": dashboard.run,
              "pg_drain": pg_drain.run, "delay_precision": delay_precision.run,
              "mixed_load": mixed_load.run}


def format_table(rows: list[dict[str, object]]) -> str:
    """`rows` as a plain-text table, a column per key."""
    columns = list(dict.fromkeys(key for row in rows for key in row))
    widths = {col: max(len(col), *(len(str(row.get(col, ""))) for row in rows)) for col in columns}
    lines = ["  ".join(col.ljust(widths[col]) for col in columns),
             "  ".join("-" * widths[col] for col in columns)]
    lines += ["  ".join(str(row.get(col, "")).ljust(widths[col]) for col in columns)
              for row in rows]
    return "\n".join(lines)


def _commit() -> str | None:
    """The commit measured, `+` when deferred/ differs from it (None outside git)."""
    root = Path(__file__).resolve().parents[1]
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, text=True,
                              capture_output=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "deferred",
                                "sample_tasks.py"],
                               cwd=root, text=True, capture_output=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    return head + ("+" if dirty.strip() else "")


def main(argv: list[str]) -> int:
    if argv[:1] == ["compare"]:
        from .compare import run_compare
        return run_compare(argv[1:])
    argv = list(argv)
    out = Path(__file__).with_name("results.json")
    tables = "--out" not in argv  # a run for the record: its tables go to bench/tables/
    if "--out" in argv:
        index = argv.index("--out")
        if index + 1 >= len(argv):
            print("--out takes a file name", file=sys.stderr)
            return 2
        out = Path(argv[index + 1])
        del argv[index:index + 2]
    chosen = argv or list(BENCHMARKS)
    unknown = [name for name in chosen if name not in BENCHMARKS]
    if unknown:
        print(f"unknown benchmark {', '.join(unknown)}; known: {', '.join(BENCHMARKS)}",
              file=sys.stderr)
        return 2
    results: dict[str, object] = {"python": sys.version.split()[0],
                                  "machine": platform.machine(), "cpus": os.cpu_count(),
                                  "commit": _commit()}
    for name in chosen:
        started = time.monotonic()
        outcome = BENCHMARKS[name]()
        rows = outcome["rows"] if isinstance(outcome, dict) else outcome
        results[name] = outcome
        took_s = time.monotonic() - started
        print(f"\n## {name} ({took_s:.0f} s)\n{format_table(rows)}", flush=True)
        if tables:
            write_table(name, rows, results, took_s)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nwritten to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
