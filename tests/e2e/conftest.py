"""Fixtures for end-to-end tests: the command line run as a real subprocess, as users type it."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest
from browser import browser_log, chromium, page  # noqa: F401 (fixtures for the browser tests)
from serverproc import ServerProcess

PROJECT_ROOT = Path(__file__).resolve().parents[2]
SAMPLE_TASKS = PROJECT_ROOT / "sample_tasks.py"
TIMEOUT_S = 60

RunCli = Callable[..., subprocess.CompletedProcess[str]]
WriteTasksFile = Callable[[str, str], Path]


def _environment() -> dict[str, str]:
    env = dict(os.environ)
    # `deferred` imports from this checkout even in a tasks file written under tmp_path.
    env["PYTHONPATH"] = os.pathsep.join(
        [str(PROJECT_ROOT)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    env["PYTHONDONTWRITEBYTECODE"] = "1"  # no __pycache__ in tmp_path: tests count its files
    env["PYTHONUTF8"] = "1"
    return env


@pytest.fixture
def run_cli(tmp_path: Path) -> RunCli:
    """`run_cli(*args, cwd=tmp_path, stdin=None, script=SAMPLE_TASKS, python_flags=())`:
    runs `python SCRIPT ARGS...` and returns the finished process (text stdout and stderr)."""

    def run(*args: str, cwd: Path | None = None, stdin: str | None = None,
            script: Path = SAMPLE_TASKS, python_flags: Sequence[str] = ()
            ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, *python_flags, str(script), *args],
            cwd=tmp_path if cwd is None else cwd, input=stdin if stdin is not None else "",
            capture_output=True, text=True, encoding="utf-8", env=_environment(),
            timeout=TIMEOUT_S, check=False)

    return run


@pytest.fixture
def write_tasks_file(tmp_path: Path) -> WriteTasksFile:
    """`write_tasks_file(name, source)`: writes a dedented tasks file into tmp_path."""

    def write(name: str, source: str) -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(source).lstrip(), encoding="utf-8")
        return path

    return write


@pytest.fixture
def servers() -> Iterator[list[ServerProcess]]:
    """A list the test appends the `ServerProcess`es it starts to; each is stopped at the
    end (terminated, then killed if it will not go)."""
    started: list[ServerProcess] = []
    yield started
    for server in started:
        server.stop()
