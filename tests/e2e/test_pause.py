"""Pausing a task type as users do it, against a real `runserver`: over the HTTP API (with
its roles and audit entries), with `python my_tasks.py pause|resume`, and across a restart of
the server process."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

import ports
import pytest
from cli_output import user_error_message
from polling import holds_for
from serverproc import ServerProcess, wait_until

from deferred.access.identity import new_token, token_hash

TASKS = """
import deferred

@deferred.task(name="report")
def report(n=0):
    \"\"\"Stands for a task an operator may want to hold back.\"\"\"
    return n

@deferred.task(name="mail")
def mail(n=0):
    \"\"\"Another task type, which a pause of report leaves alone.\"\"\"
    return n

if __name__ == "__main__":
    deferred.run_cli()
"""


@pytest.fixture
def tasks_file(write_tasks_file) -> Path:
    return write_tasks_file("my_tasks.py", TASKS)


@pytest.fixture(autouse=True)
def no_server_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DEFERRED_SERVER", raising=False)
    monkeypatch.delenv("DEFERRED_TOKEN", raising=False)


def start(servers: list[ServerProcess], tasks_file: Path, cwd: Path,
          config: dict[str, Any] | None = None) -> ServerProcess:
    cwd.mkdir(exist_ok=True)
    server = ServerProcess(tasks_file, cwd, {"db": {"url": f"sqlite+pysqlite:///{cwd.parent}"
                                                           "/tasks.db"}, **(config or {})})
    servers.append(server.start())
    return server


def task_type(server: ServerProcess, name: str, headers: dict[str, str] | None = None
              ) -> dict[str, Any]:
    status, body = server.request("GET", "/api/task-types", headers=headers)
    assert status == 200, body
    return next(item for item in body["task_types"] if item["name"] == name)


def status_of(server: ServerProcess, task_id: int) -> str:
    return server.task(task_id)["status"]


def test_pause_and_resume_over_http(tasks_file, tmp_path, servers):
    server = start(servers, tasks_file, tmp_path / "server")
    status, body = server.request("POST", "/api/task-types/nope/pause")
    assert (status, body["error_code"], body["error_where"]) == (404, 101, "name")
    assert "known tasks: mail, report" in body["error_msg"]
    assert server.request("GET", "/api/task-types/report/pause")[0] == 405

    status, paused = server.request("POST", "/api/task-types/report/pause")
    assert status == 200, paused
    assert (paused["name"], paused["paused"], paused["paused_by"]) == ("report", True, "local")
    assert server.request("POST", "/api/task-types/report/pause")[1] == paused  # idempotent
    assert task_type(server, "report") == paused
    assert (task_type(server, "mail")["paused"], task_type(server, "mail")["paused_at"]) == (
        False, None)

    waiting = server.submit("report", {"n": 1})  # stored, and it waits
    status, done = server.request("POST", "/api/tasks", {"task_name": "mail", "params": {},
                                                         "wait": 10})
    assert (status, done["status"]) == (200, "OK")  # other types run
    holds_for(lambda: status_of(server, waiting) == "QUEUED", 0.5)

    status, resumed = server.request("POST", "/api/task-types/report/resume")
    assert (status, resumed["paused"], resumed["paused_at"], resumed["paused_by"]) == (
        200, False, None, None)
    wait_until(lambda: status_of(server, waiting) == "SUCCEEDED")
    assert server.task(waiting)["attempts"] == 1
    assert server.request("POST", "/api/task-types/report/resume")[0] == 200  # idempotent

    entries = server.request("GET", "/api/audit")[1]["entries"]
    changes = [(entry["action"], entry["task_name"], entry["actor"], entry["task_id"])
               for entry in entries if entry["action"] in ("pause", "resume")]
    assert changes == [("resume", "report", "local", None), ("pause", "report", "local", None)]


def test_a_pause_is_kept_across_a_restart_of_the_server(tasks_file, tmp_path, servers):
    first = start(servers, tasks_file, tmp_path / "first")
    assert first.request("POST", "/api/task-types/report/pause")[0] == 200
    waiting = first.submit("report", {"n": 2})
    first.signal(signal.SIGTERM)
    assert first.wait_exit() == 0

    second = start(servers, tasks_file, tmp_path / "second")  # the same database
    assert task_type(second, "report")["paused"] is True
    later = second.submit("report", {"n": 3})
    holds_for(lambda: [status_of(second, task_id) for task_id in (waiting, later)]
              == ["QUEUED", "QUEUED"], 0.5)
    assert second.request("POST", "/api/task-types/report/resume")[0] == 200
    wait_until(lambda: [status_of(second, task_id) for task_id in (waiting, later)]
               == ["SUCCEEDED", "SUCCEEDED"])


def test_pausing_needs_the_admin_role(tasks_file, tmp_path, servers):
    admin, submitter = new_token(), new_token()
    server = start(servers, tasks_file, tmp_path / "server", {"auth": {"tokens": [
        {"name": "ops", "role": "admin", "hash": token_hash(admin)},
        {"name": "ci", "role": "submit", "hash": token_hash(submitter)}]}})
    assert server.request("POST", "/api/task-types/report/pause")[0] == 401
    status, body = server.request("POST", "/api/task-types/report/pause",
                                  headers={"Authorization": f"Bearer {submitter}"})
    assert (status, body["error_code"]) == (403, 111)
    status, body = server.request("POST", "/api/task-types/report/pause",
                                  headers={"Authorization": f"Bearer {admin}"})
    assert (status, body["paused"], body["paused_by"]) == (200, True, "ops")
    assert task_type(server, "report", {"Authorization": f"Bearer {submitter}"})["paused"]


def test_the_command_line_pauses_and_resumes(tasks_file, tmp_path, servers, run_cli):
    server = start(servers, tasks_file, tmp_path / "server")
    paused = run_cli("pause", "report", "--server", server.url, script=tasks_file)
    assert paused.returncode == 0, paused.stderr
    assert paused.stdout.startswith("task type report paused since 20")
    assert paused.stdout.endswith(" by local: none of its tasks starts until it is resumed\n")
    assert paused.stderr == ""
    assert task_type(server, "report")["paused"] is True

    again = run_cli("pause", "report", "--server", server.url, script=tasks_file)
    assert again.stdout == paused.stdout  # idempotent: the same pause
    resumed = run_cli("resume", "report", "--server", server.url, script=tasks_file)
    assert (resumed.returncode, resumed.stdout) == (
        0, "task type report is not paused: its tasks start\n")

    unknown = run_cli("pause", "nope", "--server", server.url, script=tasks_file)
    assert user_error_message(unknown, 101) == "unknown task 'nope'; known tasks: mail, report"
    port = ports.free_port()
    nobody = run_cli("resume", "report", "--server", f"http://127.0.0.1:{port}",
                     script=tasks_file)
    assert user_error_message(nobody, 503) == (
        f"cannot reach the server at http://127.0.0.1:{port}: connection refused; start it "
        f"with 'python my_tasks.py runserver'")


def test_the_command_line_sends_the_token_of_the_environment(tasks_file, tmp_path, servers,
                                                             run_cli, monkeypatch):
    admin = new_token()
    server = start(servers, tasks_file, tmp_path / "server", {"auth": {"tokens": [
        {"name": "ops", "role": "admin", "hash": token_hash(admin)}]}})
    refused = run_cli("pause", "report", "--server", server.url, script=tasks_file)
    assert "API token" in user_error_message(refused, 110)
    monkeypatch.setenv("DEFERRED_TOKEN", admin)
    paused = run_cli("pause", "report", "--server", server.url, script=tasks_file)
    assert paused.returncode == 0 and " by ops: " in paused.stdout, paused.stderr
