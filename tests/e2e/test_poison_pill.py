"""A task that kills its server (`os._exit`), under a supervisor that starts the server again
whenever it dies, as systemd's `Restart=always` would: the server dies at most
`recovery.max_interrupted_runs` times, the task ends FAILED, and every other task succeeds;
on SQLite, and on a PostgreSQL cluster whose survivors take the dead server's tasks over."""

from __future__ import annotations

import http.client
import re
import signal
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from probe_log import probe_events, starts
from serverproc import ServerProcess, wait_until

POISON_TASKS = Path(__file__).with_name("poison_tasks.py")
BACKOFF_S = 1.0
NORMAL = 50


class Supervised:
    """One server kept running in `cwd`: started again whenever it dies, each death counted
    with its exit code, each start with the moment it listened (`time.monotonic()`)."""

    def __init__(self, cwd: Path, config: dict[str, Any]) -> None:
        self.cwd, self.config = cwd, config
        self.exit_codes: list[int] = []
        self.listening_at: list[float] = []
        self.logs: list[str] = []
        self.server: ServerProcess | None = None

    def start(self) -> ServerProcess:
        """Start the server, again as often as it dies before it listens (at most 10)."""
        while True:
            server = ServerProcess(POISON_TASKS, self.cwd, self.config)
            try:
                server.start()
            except AssertionError:  # it died before it listened: a death too
                self._died(server)
                assert len(self.exit_codes) < 10, "\n".join(self.logs)
                continue
            self.listening_at.append(time.monotonic())
            self.server = server
            return server

    def tend(self) -> bool:
        """Start the server again if it died; True if it was running."""
        assert self.server is not None
        if self.server.process is not None and self.server.process.poll() is None:
            return True
        self._died(self.server)
        self.start()
        return False

    def _died(self, server: ServerProcess) -> None:
        assert server.process is not None
        self.exit_codes.append(server.wait_exit())
        self.logs.append(server.log)

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()


@pytest.fixture
def supervised(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Supervised]]:
    monkeypatch.setenv("PROBE_DIR", str(tmp_path))
    started: list[Supervised] = []
    yield started
    for supervisor in started:
        supervisor.stop()


def records(server: ServerProcess, task_ids: list[int]) -> list[dict[str, Any]] | None:
    """The records, or None while the server cannot answer (it just died)."""
    try:
        return [server.task(task_id) for task_id in task_ids]
    except (OSError, http.client.HTTPException):
        return None


def settled(supervisors: list[Supervised], poison: int, normal: list[int]) -> bool:
    """Every server tended; the poison task FAILED and every other one SUCCEEDED."""
    tended = [supervisor.tend() for supervisor in supervisors]  # every one, none skipped
    if not all(tended):
        return False
    found = records(supervisors[0].server, [poison, *normal])
    return found is not None and found[0]["status"] == "FAILED" and all(
        record["status"] == "SUCCEEDED" for record in found[1:])


def submit_poison_among_normal_tasks(server: ServerProcess) -> tuple[int, list[int]]:
    """The poison task, due in 2 s (time to submit the others), and 50 short tasks."""
    poison = server.submit("poison", {"key": "poison"}, delay_s=2)
    normal = [server.submit("probe", {"key": f"n{index}", "seconds": 0.1})
              for index in range(NORMAL)]
    return poison, normal


def check_the_outcome(supervisors: list[Supervised], tmp_path: Path, poison: int,
                      normal: list[int]) -> None:
    deaths = [code for supervisor in supervisors for code in supervisor.exit_codes]
    assert deaths == [1, 1, 1], deaths  # the limit: 3, each by the poison's os._exit(1)
    server = supervisors[0].server
    assert server is not None
    record = server.task(poison)
    assert (record["status"], record["interruptions"]) == ("FAILED", 3)
    assert record["error"]["type"] == "Interrupted"
    assert record["error"]["message"].startswith(
        "the server stopped 3 times while running it; it is not run again")
    assert [(item["attempt"], item["status"], item["error"]["type"])
            for item in record["history"]] == [
        (1, "QUEUED", "Interrupted"), (2, "QUEUED", "Interrupted"), (3, "FAILED", "Interrupted")]
    counts = starts(tmp_path)
    assert counts["poison"] == 3
    assert all(counts[f"n{index}"] >= 1 for index in range(NORMAL))
    ends = [key for _, event, key in probe_events(tmp_path) if event == "end"]
    assert sorted(set(ends)) == sorted(f"n{index}" for index in range(NORMAL))
    with urllib.request.urlopen(f"{server.url}/tasks/{poison}", timeout=30) as page:
        assert "the server stopped 3 times while running it" in page.read().decode()
    time.sleep(1.0)  # nothing left to kill it: it stays up
    assert all(supervisor.tend() for supervisor in supervisors)


def test_a_task_that_kills_its_server_fails_after_three_deaths_and_the_rest_run(
        supervised, tmp_path):
    supervisor = Supervised(tmp_path, {"limits": {"global": 4},
                                       "recovery": {"backoff_s": BACKOFF_S},
                                       "shutdown_grace_s": 1})
    supervised.append(supervisor)
    poison, normal = submit_poison_among_normal_tasks(supervisor.start())

    wait_until(lambda: settled([supervisor], poison, normal), timeout_s=120, step_s=0.1)

    check_the_outcome([supervisor], tmp_path, poison, normal)
    # After each restart the poison waited its back-off (1 s then 2 s, give or take a
    # quarter) before it ran again: a restart loop cannot start it within milliseconds.
    poison_starts = [moment for moment, event, key in probe_events(tmp_path)
                     if (event, key) == ("start", "poison")]
    waits = [started - listening for started, listening
             in zip(poison_starts[1:], supervisor.listening_at[1:3])]
    assert waits[0] >= 0.5 and waits[1] >= 1.2, waits
    metrics = urllib.request.urlopen(f"{supervisor.server.url}/metrics", timeout=30).read()
    assert re.search(rb'deferred_tasks_interrupted_total\{task_type="poison"\} 1\b', metrics)
    assert re.search(rb'deferred_tasks_finished_total\{task_type="poison",status="FAILED"\} '
                     rb'1\b', metrics)
    assert f"task {poison} (poison) attempt 3 FAILED: the server stopped 3 times" \
        in supervisor.server.log


def test_on_postgresql_the_survivors_take_the_poison_over_and_fail_it_at_the_limit(
        supervised, tmp_path, postgres_url):
    config = {"db": {"url": postgres_url, "lease_s": 2.0, "heartbeat_s": 0.5},
              "limits": {"global": 8, "workers": 4}, "recovery": {"backoff_s": BACKOFF_S},
              "shutdown_grace_s": 0}
    for index in range(2):
        cwd = tmp_path / f"server{index}"
        cwd.mkdir()
        supervised.append(Supervised(cwd, config))
    for supervisor in supervised:
        supervisor.start()
    poison, normal = submit_poison_among_normal_tasks(supervised[0].server)

    wait_until(lambda: settled(supervised, poison, normal), timeout_s=180, step_s=0.1)

    check_the_outcome(supervised, tmp_path, poison, normal)
    logs = "".join(log for supervisor in supervised for log in supervisor.logs) + "".join(
        supervisor.server.log for supervisor in supervised)
    assert "queued 1 interrupted tasks again" in logs or "interrupted tasks again" in logs
    for supervisor in supervised:
        supervisor.server.signal(signal.SIGTERM)
        assert supervisor.server.wait_exit() == 0
