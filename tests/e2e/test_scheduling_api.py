"""Delays, priorities, cancels and idempotent submits over HTTP against a real `runserver`
process, including a restart in the middle of a delay."""

from __future__ import annotations

import datetime
import signal
import sqlite3
from pathlib import Path


from serverproc import ServerProcess, wait_until

PROBE_TASKS = Path(__file__).with_name("probe_tasks.py")


def start(servers: list[ServerProcess], cwd: Path, **config: object) -> ServerProcess:
    server = ServerProcess(PROBE_TASKS, cwd, {"shutdown_grace_s": 1, **config}).start()
    servers.append(server)
    return server


def moment(text: str) -> datetime.datetime:
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))


def started_keys(cwd: Path) -> list[str]:
    log = cwd / "probe.log"
    lines = log.read_text().splitlines() if log.exists() else []
    return [line.split()[1] for line in lines if line.startswith("start ")]


def ended_keys(cwd: Path) -> list[str]:
    log = cwd / "probe.log"
    lines = log.read_text().splitlines() if log.exists() else []
    return [line.split()[1] for line in lines if line.startswith("end ")]


def test_a_delayed_task_waits_for_its_time_then_starts(servers, tmp_path):
    server = start(servers, tmp_path)
    status, body = server.request("POST", "/api/tasks", {
        "task_name": "probe", "params": {"key": "later"}, "delay_s": 0.5, "wait": 0})
    assert (status, body["status"]) == (202, "QUEUED")
    record = server.task(body["task_id"])
    assert record["run_at"] is not None
    done = wait_until(lambda: server.task(body["task_id"])["status"] == "SUCCEEDED" and
                      server.task(body["task_id"]))
    assert moment(done["started_at"]) >= moment(record["run_at"])


def test_a_delay_survives_a_restart_and_runs_once(servers, tmp_path):
    server = start(servers, tmp_path)
    run_at = (datetime.datetime.now(datetime.timezone.utc)
              + datetime.timedelta(seconds=2)).isoformat()
    task_id = server.submit("probe", {"key": "delayed"}, run_at=run_at)
    server.signal(signal.SIGTERM)
    assert server.wait_exit() == 0
    assert started_keys(tmp_path) == []
    restarted = start(servers, tmp_path)
    record = wait_until(lambda: restarted.task(task_id)["status"] == "SUCCEEDED" and
                        restarted.task(task_id), timeout_s=20)
    assert moment(record["started_at"]) >= moment(run_at)
    assert started_keys(tmp_path) == ["delayed"]


def test_higher_priority_starts_first_within_the_limits(servers, tmp_path):
    hold = tmp_path / "hold"
    hold.touch()
    server = start(servers, tmp_path, limits={"global": 1})
    server.submit("probe", {"key": "first", "hold_while": str(hold)})
    wait_until(lambda: started_keys(tmp_path) == ["first"])
    server.submit("probe", {"key": "low"})
    server.submit("probe", {"key": "high"}, priority=5)
    server.submit("probe", {"key": "middle"}, priority=1)
    hold.unlink()
    wait_until(lambda: len(started_keys(tmp_path)) == 4)
    assert started_keys(tmp_path) == ["first", "high", "middle", "low"]


def test_cancel_ends_a_queued_task_and_asks_a_running_one(servers, tmp_path):
    hold = tmp_path / "hold"
    hold.touch()
    server = start(servers, tmp_path, limits={"global": 1})
    running = server.submit("probe", {"key": "running", "hold_while": str(hold)})
    wait_until(lambda: started_keys(tmp_path) == ["running"])
    queued = server.submit("probe", {"key": "queued"})
    delayed = server.submit("probe", {"key": "delayed"}, delay_s=3600)
    for task_id in (queued, delayed):
        status, body = server.request("POST", f"/api/tasks/{task_id}/cancel")
        assert (status, body["status"]) == (200, "CANCELLED")
    status, body = server.request("POST", f"/api/tasks/{running}/cancel")
    assert (status, body["status"], body["cancel_requested"]) == (200, "RUNNING", True)
    hold.unlink()
    # It ignored the request and returned its result: it finished its work.
    record = wait_until(lambda: server.task(running)["status"] == "SUCCEEDED"
                        and server.task(running))
    assert (record["result"], record["cancel_requested"]) == ("running", True)
    assert f"task {running} (probe) attempt 1 SUCCEEDED in " in server.log
    assert "; asked to stop, finished anyway" in server.log
    assert started_keys(tmp_path) == ["running"]  # the cancelled ones never started
    status, body = server.request("POST", "/api/tasks/999999/cancel")
    assert (status, body["error_code"]) == (404, 104)


def test_an_idempotency_key_makes_a_repeated_submit_return_the_first_task(servers, tmp_path):
    server = start(servers, tmp_path)
    body = {"task_name": "probe", "params": {"key": "once"}, "wait": 0}
    first = server.request("POST", "/api/tasks", body, {"Idempotency-Key": "order-17"})[1]
    again = server.request("POST", "/api/tasks", body, {"Idempotency-Key": "order-17"})[1]
    in_body = server.request("POST", "/api/tasks", {**body, "idempotency_key": "order-17"})[1]
    assert first["task_id"] == again["task_id"] == in_body["task_id"]
    wait_until(lambda: server.task(first["task_id"])["status"] == "SUCCEEDED")
    assert started_keys(tmp_path) == ["once"]
    status, answer = server.request("POST", "/api/tasks", {**body, "idempotency_key": "a"},
                                    {"Idempotency-Key": "b"})
    assert (status, answer["error_code"]) == (400, 100)


def test_scheduling_mistakes_name_their_field(servers, tmp_path):
    server = start(servers, tmp_path)
    status, answer = server.request("POST", "/api/tasks", {
        "task_name": "probe", "params": {"key": "x"}, "run_at": "2030-01-01T00:00:00"})
    assert (status, answer["error_code"]) == (400, 100)
    assert answer["error_msg"].startswith("body.run_at: 2030-01-01T00:00:00 has no zone")


def test_a_running_task_sees_the_cancel_through_its_context_and_ends_cancelled(
        servers, tmp_path):
    server = start(servers, tmp_path)
    task_id = server.submit("patient", {"key": "patient"})
    wait_until(lambda: started_keys(tmp_path) == ["patient"])
    assert server.request("POST", f"/api/tasks/{task_id}/cancel")[0] == 200
    record = wait_until(lambda: server.task(task_id)["status"] == "CANCELLED" and
                        server.task(task_id))
    assert record["error"]["type"] == "TaskCancelledError", record
    assert started_keys(tmp_path) == ["patient"] and ended_keys(tmp_path) == ["patient"]


def test_a_retry_back_off_survives_a_restart(servers, tmp_path):
    server = start(servers, tmp_path)
    task_id = server.submit("second_time", {"key": "flaky"})
    waiting = wait_until(lambda: server.task(task_id)["run_at"] and server.task(task_id))
    assert waiting["status"] == "QUEUED" and waiting["history"][0]["status"] == "QUEUED"
    server.signal(signal.SIGTERM)
    assert server.wait_exit() == 0
    restarted = start(servers, tmp_path)
    record = wait_until(lambda: restarted.task(task_id)["status"] == "SUCCEEDED" and
                        restarted.task(task_id), timeout_s=20)
    assert record["result"] == "second attempt" and record["attempts"] == 2
    assert moment(record["started_at"]) >= moment(waiting["run_at"])
    assert [item["attempt"] for item in record["history"]] == [1, 2]
    assert record["history"][0]["error"]["message"] == "the first attempt always fails"
    assert started_keys(tmp_path) == ["flaky", "flaky"]


def firing_times(cwd: Path) -> list[datetime.datetime]:
    connection = sqlite3.connect(cwd / "deferred.db")
    try:
        rows = connection.execute("SELECT fire_at FROM deferred_firings ORDER BY fire_at")
        return [datetime.datetime.fromisoformat(text).replace(tzinfo=datetime.timezone.utc)
                for (text,) in rows.fetchall()]
    finally:
        connection.close()


def test_a_periodic_task_missed_while_the_server_was_down_runs_once_at_restart(
        servers, tmp_path):
    tasks_file = Path(__file__).with_name("periodic_tasks.py")
    server = ServerProcess(tasks_file, tmp_path, {"shutdown_grace_s": 1}).start()
    servers.append(server)
    wait_until(lambda: firing_times(tmp_path), timeout_s=10)
    server.signal(signal.SIGTERM)
    assert server.wait_exit() == 0
    last_before = firing_times(tmp_path)[-1]
    # Down for more than two slots of 2 s: the missed ones must not all run.
    wait_until(lambda: datetime.datetime.now(datetime.timezone.utc)
               > last_before + datetime.timedelta(seconds=6.5), timeout_s=15, step_s=0.1)
    restarted_at = datetime.datetime.now(datetime.timezone.utc)
    servers.append(ServerProcess(tasks_file, tmp_path, {"shutdown_grace_s": 1}).start())
    wait_until(lambda: firing_times(tmp_path)[-1] > last_before, timeout_s=10)
    missed = [moment for moment in firing_times(tmp_path)
              if last_before < moment <= restarted_at]
    assert len(missed) == 1, missed  # the latest missed slot, once
    assert restarted_at - missed[0] < datetime.timedelta(seconds=2)
