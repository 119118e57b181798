"""Limits count what runs, with tasks taken ahead: one real `runserver` on its SQLite file,
watched through the probe log that its tasks write (not through the server's own figures)."""

from __future__ import annotations

import threading
from pathlib import Path

from probe_log import most_at_once, probe_events, starts
from serverproc import ServerProcess, wait_until

CLUSTER_TASKS = Path(__file__).with_name("cluster_tasks.py")
TASKS = 300


def test_limits_hold_exactly_while_tasks_are_taken_ahead(servers, tmp_path, monkeypatch):
    monkeypatch.setenv("PROBE_DIR", str(tmp_path))
    server = ServerProcess(CLUSTER_TASKS, tmp_path, {
        "limits": {"global": 4, "names": {"x": 2}, "prefetch": 4}}).start()
    servers.append(server)
    warm = [server.submit(name, {"key": f"warm-{name}"}) for name in ("x", "y")]
    wait_until(lambda: all(server.task(i)["status"] == "SUCCEEDED" for i in warm))
    most_running_rows, done = 0, threading.Event()

    def watch() -> None:  # RUNNING rows in the database: those running and those taken ahead
        nonlocal most_running_rows
        while not done.is_set():
            rows = server.request("GET", "/api/tasks?status=RUNNING&limit=100")[1]["tasks"]
            most_running_rows = max(most_running_rows, len(rows))

    # Four gate tasks fill the global limit until every probe task is queued, so that there
    # is work to take ahead however slowly the submits arrive.
    gate = tmp_path / "gate"
    gate.touch()
    gates = [server.submit("y", {"key": f"gate-{index}", "hold_while": str(gate)})
             for index in range(4)]
    wait_until(lambda: all(server.task(i)["status"] == "RUNNING" for i in gates))
    watcher = threading.Thread(target=watch, name="test-running-rows")
    watcher.start()
    try:
        ids = [server.submit("x" if index % 2 else "y", {"key": f"t{index}", "seconds": 0.01})
               for index in range(TASKS)]
        wait_until(lambda: most_running_rows > 4, timeout_s=30)
        gate.unlink()
        wait_until(lambda: all(server.task(i)["status"] == "SUCCEEDED" for i in ids[-20:]),
                   timeout_s=60, step_s=0.2)
        wait_until(lambda: all(server.task(i)["status"] == "SUCCEEDED" for i in ids),
                   timeout_s=30, step_s=0.5)
    finally:
        gate.unlink(missing_ok=True)
        done.set()
        watcher.join()
    events = [event for event in probe_events(tmp_path) if event[2].startswith("t")]
    assert len(events) == 2 * TASKS
    assert most_at_once(events) == 4  # never more, and reached
    x_keys = {f"t{index}" for index in range(1, TASKS, 2)}
    assert most_at_once([event for event in events if event[2] in x_keys]) == 2
    assert set(starts(tmp_path).values()) == {1}
    # Tasks were taken ahead meanwhile: more rows RUNNING than may run.
    assert most_running_rows > 4, most_running_rows
