"""Run every benchmark, print a table and write `bench/results.json`.

    .venv/bin/python -m bench
"""

from __future__ import annotations

import json
import platform
import sys
from pathlib import Path

from . import cli_startup

BENCHMARKS = {"cli_startup": cli_startup.run}


def _table(rows: list[dict[str, object]]) -> str:
    columns = list(dict.fromkeys(key for row in rows for key in row))
    widths = {col: max(len(col), *(len(str(row.get(col, ""))) for row in rows)) for col in columns}
    lines = ["  ".join(col.ljust(widths[col]) for col in columns),
             "  ".join("-" * widths[col] for col in columns)]
    lines += ["  ".join(str(row.get(col, "")).ljust(widths[col]) for col in columns)
              for row in rows]
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    chosen = argv or list(BENCHMARKS)
    results = {"python": sys.version.split()[0], "machine": platform.machine()}
    for name in chosen:
        rows = BENCHMARKS[name]()
        results[name] = rows
        print(f"\n## {name}\n{_table(rows)}")
    out = Path(__file__).with_name("results.json")
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nwritten to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
