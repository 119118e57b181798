"""`python -m bench compare`: how it reads benchmark results and its command line (nothing
here is timed; speed lives in `bench/`)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from bench.compare import _figures

ROOT = Path(__file__).resolve().parents[2]


def test_figures_key_each_row_by_benchmark_case_unit_and_what_it_is_compared_with():
    results = {
        "drain": {"rows": [
            {"case": "10k", "unit": "tasks/s", "deferred": 4000, "huey": 3000,
             "huey_config": "defaults"},
            {"case": "10k", "unit": "tasks/s", "deferred": 4100, "huey_config": "8 workers"},
            {"case": "note", "deferred": "n/a"},  # not a number: left out
            {"case": "flag", "deferred": True},  # a bool is no figure either
        ]},
        "latency": [{"case": "p50", "unit": "ms", "deferred": 1.5, "goal": "< 1"}],
    }
    assert _figures(results, ["drain", "latency"]) == {
        ("drain", "10k", "tasks/s", "defaults"): 4000.0,
        ("drain", "10k", "tasks/s", "8 workers"): 4100.0,
        ("latency", "p50", "ms", "< 1"): 1.5,
    }


def _compare(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bench", "compare", *args], cwd=ROOT,
                          text=True, capture_output=True, timeout=60)


def test_compare_without_a_revision_prints_its_usage():
    done = _compare()
    assert done.returncode == 2
    assert "usage: python -m bench compare REV" in done.stderr


def test_compare_refuses_a_revision_that_is_no_commit():
    done = _compare("no-such-revision-here")
    assert done.returncode == 2
    assert "'no-such-revision-here' is not a commit of this repository" in done.stderr


def test_compare_refuses_rounds_that_are_no_number():
    done = _compare("HEAD", "--rounds", "many")
    assert done.returncode == 2
    assert "--rounds takes a whole number" in done.stderr
