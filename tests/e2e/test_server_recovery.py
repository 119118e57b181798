"""Crashes, shutdowns and restarts of a real `runserver` process: nothing accepted is lost,
queued tasks run once, interrupted ones run again."""

from __future__ import annotations

import collections
import signal
import sqlite3
from pathlib import Path

import pytest
from kill_ledger import KillLedger, most_claimed_at_once
from serverproc import ServerProcess, wait_until

PROBE_TASKS = Path(__file__).with_name("probe_tasks.py")


def start(servers: list[ServerProcess], cwd: Path, **config: object) -> ServerProcess:
    # Interrupted runs wait little here (test_poison_pill tests the back-off).
    config.setdefault("recovery", {"backoff_s": 0.2})
    server = ServerProcess(PROBE_TASKS, cwd, config).start()
    servers.append(server)
    return server


def starts(cwd: Path) -> collections.Counter[str]:
    log = cwd / "probe.log"
    lines = log.read_text().splitlines() if log.exists() else []
    return collections.Counter(line.split()[1] for line in lines if line.startswith("start "))


def statuses(cwd: Path) -> dict[int, tuple[str, int]]:
    """Status and attempts of every row, read from the SQLite file itself."""
    connection = sqlite3.connect(cwd / "deferred.db")
    try:
        rows = connection.execute("SELECT id, status, attempts FROM deferred_tasks").fetchall()
    finally:
        connection.close()
    return {task_id: (status, attempts) for task_id, status, attempts in rows}


def test_kill_9_then_restart_loses_nothing_reruns_running_once_and_queued_once(
        servers, tmp_path):
    hold = tmp_path / "hold"
    hold.touch()
    server = start(servers, tmp_path, limits={"global": 2})
    running = [server.submit("probe", {"key": f"run{i}", "hold_while": str(hold)})
               for i in range(2)]
    wait_until(lambda: starts(tmp_path)["run0"] and starts(tmp_path)["run1"])
    queued = [server.submit("probe", {"key": f"queued{i}"}) for i in range(5)]
    assert all(server.task(task_id)["status"] == "QUEUED" for task_id in queued)

    server.signal(signal.SIGKILL)
    server.wait_exit()
    assert len(statuses(tmp_path)) == 7
    hold.unlink()

    restarted = start(servers, tmp_path, limits={"global": 2})
    wait_until(lambda: all(restarted.task(i)["status"] == "SUCCEEDED" for i in running + queued),
               timeout_s=30)
    counts = starts(tmp_path)
    assert {key: counts[key] for key in ("run0", "run1")} == {"run0": 2, "run1": 2}
    assert all(counts[f"queued{i}"] == 1 for i in range(5))
    assert [restarted.task(i)["attempts"] for i in running] == [2, 2]
    assert [restarted.task(i)["attempts"] for i in queued] == [1] * 5
    assert "queued 2 interrupted tasks again" in restarted.log


def test_kill_9_with_tasks_taken_ahead_runs_each_of_them_once_after_the_restart(
        servers, tmp_path):
    server = start(servers, tmp_path, limits={"global": 2, "prefetch": 2})
    warm = [server.submit("probe", {"key": f"warm{i}"}) for i in range(6)]  # probe is short
    wait_until(lambda: all(server.task(i)["status"] == "SUCCEEDED" for i in warm))
    hold = tmp_path / "hold"
    hold.touch()
    held = [server.submit("probe", {"key": f"held{i}", "hold_while": str(hold)})
            for i in range(2)]
    wait_until(lambda: starts(tmp_path)["held0"] and starts(tmp_path)["held1"])
    later = [server.submit("probe", {"key": f"later{i}"}) for i in range(5)]
    # Both workers are held: the next turn claims two more ahead, RUNNING but not started.
    wait_until(lambda: [server.task(i)["status"] for i in later].count("RUNNING") == 2)
    ahead = [i for i in later if server.task(i)["status"] == "RUNNING"]
    assert not any(starts(tmp_path)[server.task(i)["params"]["key"]] for i in ahead)

    server.signal(signal.SIGKILL)
    server.wait_exit()
    rows = statuses(tmp_path)
    assert [rows[i] for i in ahead] == [("RUNNING", 1)] * 2  # the attempt counted at the claim
    hold.unlink()

    restarted = start(servers, tmp_path, limits={"global": 2, "prefetch": 2})
    wait_until(lambda: all(restarted.task(i)["status"] == "SUCCEEDED" for i in held + later),
               timeout_s=30)
    counts = starts(tmp_path)
    assert [counts[f"held{i}"] for i in range(2)] == [2, 2]  # interrupted: run again
    assert [counts[f"later{i}"] for i in range(5)] == [1] * 5  # taken ahead or queued: once
    assert [restarted.task(i)["attempts"] for i in ahead] == [2, 2]
    assert "queued 4 interrupted tasks again" in restarted.log


def test_sigterm_lets_running_tasks_finish_keeps_queued_and_exits_0(servers, tmp_path):
    hold = tmp_path / "hold"
    hold.touch()
    server = start(servers, tmp_path, limits={"global": 1}, shutdown_grace_s=30)
    running = server.submit("probe", {"key": "run", "hold_while": str(hold)})
    wait_until(lambda: starts(tmp_path)["run"])
    queued = [server.submit("probe", {"key": f"queued{i}"}) for i in range(3)]

    server.signal(signal.SIGTERM)
    wait_until(lambda: "stopping" in server.log)
    hold.unlink()  # the running task ends within its grace
    assert server.wait_exit() == 0
    rows = statuses(tmp_path)
    assert rows[running] == ("SUCCEEDED", 1)
    assert [rows[i] for i in queued] == [("QUEUED", 0)] * 3
    assert all(starts(tmp_path)[f"queued{i}"] == 0 for i in range(3))

    restarted = start(servers, tmp_path)
    wait_until(lambda: all(restarted.task(i)["status"] == "SUCCEEDED" for i in queued))
    assert all(starts(tmp_path)[f"queued{i}"] == 1 for i in range(3))


def test_sigterm_past_the_grace_exits_0_and_the_task_runs_again_at_restart(servers, tmp_path):
    hold = tmp_path / "hold"
    hold.touch()
    server = start(servers, tmp_path, shutdown_grace_s=0.5)
    task_id = server.submit("probe", {"key": "slow", "hold_while": str(hold)})
    wait_until(lambda: starts(tmp_path)["slow"])

    server.signal(signal.SIGTERM)
    assert server.wait_exit() == 0
    assert statuses(tmp_path)[task_id] == ("RUNNING", 1)
    hold.unlink()

    restarted = start(servers, tmp_path)
    wait_until(lambda: restarted.task(task_id)["status"] == "SUCCEEDED")
    assert restarted.task(task_id)["attempts"] == 2


def test_a_second_signal_stops_at_once(servers, tmp_path):
    hold = tmp_path / "hold"
    hold.touch()
    server = start(servers, tmp_path, shutdown_grace_s=60)
    task_id = server.submit("probe", {"key": "stuck", "hold_while": str(hold)})
    wait_until(lambda: starts(tmp_path)["stuck"])
    server.signal(signal.SIGTERM)
    wait_until(lambda: "stopping" in server.log)
    server.signal(signal.SIGINT)
    assert server.wait_exit(timeout_s=10) != 0
    assert statuses(tmp_path)[task_id] == ("RUNNING", 1)


def test_a_second_server_on_the_same_sqlite_file_is_refused(servers, tmp_path):
    first = start(servers, tmp_path)
    second = ServerProcess(PROBE_TASKS, tmp_path, {})
    with pytest.raises(AssertionError, match="did not start") as info:
        second.start()
    assert second.wait_exit() == 2
    assert "deferred: error 303: another server (pid " in str(info.value)
    assert "Traceback" not in str(info.value)
    assert first.request("GET", "/healthz")[0] == 200


def test_queued_tasks_run_exactly_once_across_many_restarts(servers, tmp_path):
    limits = {"global": 4}
    # 3 kills may interrupt one run 3 times: the poison-pill limit must not fail it here.
    config = {"limits": limits, "recovery": {"backoff_s": 0.2, "max_interrupted_runs": 4}}
    server = start(servers, tmp_path, **config)
    ids = [server.submit("probe", {"key": f"k{i}", "seconds": 0.01}) for i in range(60)]
    ledger = KillLedger(tmp_path)
    for _ in range(3):
        server.signal(signal.SIGKILL)
        server.wait_exit()
        ledger.record_kill()
        server = start(servers, tmp_path, **config)
    wait_until(lambda: all(s == "SUCCEEDED" for s, _ in statuses(tmp_path).values()),
               timeout_s=30)
    assert sorted(statuses(tmp_path)) == sorted(ids)  # every acknowledged submit is stored
    # Only what a kill left RUNNING runs again: not just the 4 slots (a run that returned
    # stays RUNNING until its outcome is committed) but also the rows claimed ahead of a
    # free slot (limits.prefetch, by default the pool size): 4 + 4 per kill here.
    figures = ledger.check_every_run(most_claimed_at_once(limits))
    print(f"kill at each start: {figures}")
