"""`python -m bench compare REV [NAME ...] [--rounds N]`: the same benchmarks at commit REV
and at the working tree, alternating in one run, and the ratio of their figures.

REV is checked out in a temporary git worktree, with this working tree's `bench/` copied
over it, so both sides are measured by the same benchmark code; only `deferred/` and
`sample_tasks.py` differ. Each round runs REV, then the working tree (the next round the
other way round), in fresh processes, so that a machine that slows down or speeds up during
the run weighs on both sides alike. The figures are medians over the rounds.
"""

from __future__ import annotations

import json
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_BENCHMARKS = ("drain", "sleeping", "http_submit")
DEFAULT_ROUNDS = 3
LOWER_IS_BETTER_UNITS = ("ms", "s")


def _git(*args: str, cwd: Path = ROOT) -> str:
    return subprocess.run(["git", *args], cwd=cwd, text=True, capture_output=True,
                          check=True).stdout.strip()


def _measure(tree: Path, names: list[str], out: Path) -> dict[str, Any]:
    """Run the benchmarks `names` in `tree` in a fresh process; their results."""
    subprocess.run([sys.executable, "-m", "bench", *names, "--out", str(out)], cwd=tree,
                   check=True, stdout=subprocess.DEVNULL)
    return json.loads(out.read_text())


def _figures(results: dict[str, Any], names: list[str]) -> dict[tuple[str, ...], float]:
    """deferred's figure of every row, keyed by benchmark, case, unit and what it is
    compared with."""
    figures = {}
    for name in names:
        outcome = results[name]
        rows = outcome["rows"] if isinstance(outcome, dict) else outcome
        for row in rows:
            value = row.get("deferred")
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                key = (name, str(row.get("case", "")), str(row.get("unit", "")),
                       str(row.get("huey_config", row.get("goal", ""))))
                figures.setdefault(key, float(value))
    return figures


def compare(rev: str, names: list[str], rounds: int) -> list[dict[str, Any]]:
    """Rows of base and working-tree medians and their ratio."""
    base_commit = _git("rev-parse", "--short", rev)
    samples: dict[str, dict[tuple[str, ...], list[float]]] = {"base": {}, "new": {}}
    with tempfile.TemporaryDirectory(prefix="deferred-compare-") as scratch:
        worktree = Path(scratch) / "base"
        _git("worktree", "add", "--detach", str(worktree), rev)
        try:
            shutil.rmtree(worktree / "bench")
            shutil.copytree(ROOT / "bench", worktree / "bench",
                            ignore=shutil.ignore_patterns("__pycache__", "results.json"))
            for round_no in range(rounds):
                sides = [("base", worktree), ("new", ROOT)]
                for side, tree in sides if round_no % 2 == 0 else reversed(sides):
                    shown = base_commit if side == "base" else "working tree"
                    print(f"round {round_no + 1}/{rounds}: {shown}", file=sys.stderr,
                          flush=True)
                    results = _measure(tree, names, Path(scratch) / f"{side}.json")
                    for key, value in _figures(results, names).items():
                        samples[side].setdefault(key, []).append(value)
        finally:
            _git("worktree", "remove", "--force", str(worktree))
    rows = []
    for key, base_values in samples["base"].items():
        new_values = samples["new"].get(key)
        if not new_values:
            continue
        base, new = statistics.median(base_values), statistics.median(new_values)
        name, case, unit, against = key
        better = "lower" if set(unit.split()) & set(LOWER_IS_BETTER_UNITS) else "higher"
        rows.append({"benchmark": name, "case": case, "unit": unit, "against": against,
                     f"base {base_commit}": round(base, 2), "working tree": round(new, 2),
                     "new/base": f"{new / base:.2f}x" if base else "-",
                     "better": better})
    return rows


def run_compare(argv: list[str]) -> int:
    """The `compare` command: parse `REV [NAME ...] [--rounds N]`, print the table."""
    from .__main__ import format_table  # the one table format of `python -m bench`

    args = list(argv)
    rounds = DEFAULT_ROUNDS
    if "--rounds" in args:
        index = args.index("--rounds")
        try:
            rounds = int(args[index + 1])
        except (IndexError, ValueError):
            print("--rounds takes a whole number", file=sys.stderr)
            return 2
        del args[index:index + 2]
    if not args:
        print("usage: python -m bench compare REV [NAME ...] [--rounds N]", file=sys.stderr)
        return 2
    rev, names = args[0], args[1:] or list(DEFAULT_BENCHMARKS)
    try:
        _git("rev-parse", "--verify", f"{rev}^{{commit}}")
    except subprocess.CalledProcessError:
        print(f"{rev!r} is not a commit of this repository", file=sys.stderr)
        return 2
    rows = compare(rev, names, rounds)
    print(f"\n## compare ({rounds} rounds, medians)\n{format_table(rows)}")
    return 0
