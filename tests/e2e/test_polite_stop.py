"""A real `runserver` process sent SIGTERM while a task runs: during the grace its listener
refuses new work with 503 and the shutting-down code, serves reads, says "stopping" to load
balancers, and closes once the running task has finished."""

from __future__ import annotations

import http.client
import json
import signal
import socket
import urllib.parse
from pathlib import Path
from typing import Any

import pytest
from serverproc import ServerProcess, wait_until

PROBE_TASKS = Path(__file__).with_name("probe_tasks.py")
TIMEOUT_S = 30
JSON = {"Content-Type": "application/json"}
HTML = {"Accept": "text/html"}
CSRF_TOKEN = "ab" * 32  # a form's token is checked against the browser's cookie


def address(server: ServerProcess) -> tuple[str, int]:
    parts = urllib.parse.urlsplit(server.url)
    assert parts.hostname is not None and parts.port is not None
    return parts.hostname, parts.port


def ask(server: ServerProcess, method: str, path: str, body: bytes | None = None,
        headers: dict[str, str] | None = None) -> tuple[int, http.client.HTTPMessage, bytes]:
    """One request over a new connection: status, headers, body."""
    connection = http.client.HTTPConnection(*address(server), timeout=TIMEOUT_S)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.headers, response.read()
    finally:
        connection.close()


def refused_as_shutting_down(answer: tuple[int, http.client.HTTPMessage, bytes]) -> Any:
    status, headers, body = answer
    assert status == 503, (status, body[:300])
    assert int(headers["Retry-After"]) > 0
    return body


def submit_body(**fields: Any) -> bytes:
    return json.dumps(fields).encode()


def test_during_the_grace_submits_get_503_reads_are_served_and_the_port_closes_at_the_end(
        servers, tmp_path):
    hold = tmp_path / "hold"
    hold.touch()
    server = ServerProcess(PROBE_TASKS, tmp_path, {"shutdown_grace_s": 60}).start()
    servers.append(server)
    running = server.submit("probe", {"key": "run", "hold_while": str(hold)})
    wait_until(lambda: server.task(running)["status"] == "RUNNING")

    server.signal(signal.SIGTERM)
    wait_until(lambda: "stopping: no new tasks" in server.log)
    submit = submit_body(task_name="probe", params={"key": "late"}, wait=0)
    for path in ("/api/tasks", "/"):
        body = refused_as_shutting_down(ask(server, "POST", path, submit, JSON))
        assert json.loads(body) == {"status": "ERROR", "error_code": 502, "error_msg":
                                    "the server is shutting down and takes no new tasks"}
    chain = submit_body(steps=[{"task_name": "probe", "params": {"key": "chained"}}])
    assert json.loads(refused_as_shutting_down(
        ask(server, "POST", "/api/chains", chain, JSON)))["error_code"] == 502
    assert json.loads(refused_as_shutting_down(
        ask(server, "POST", f"/api/tasks/{running}/retry")))["error_code"] == 502
    form = urllib.parse.urlencode({"task_name": "probe", "params": '{"key": "ui"}',
                                   "csrf_token": CSRF_TOKEN}).encode()
    page = refused_as_shutting_down(ask(server, "POST", "/launch", form, {
        "Content-Type": "application/x-www-form-urlencoded",
        "Cookie": f"deferred_csrf={CSRF_TOKEN}", **HTML}))
    assert b"502" in page and b"shutting down" in page

    status, _, body = ask(server, "GET", f"/api/tasks/{running}")
    assert (status, json.loads(body)["status"]) == (200, "RUNNING")
    status, _, body = ask(server, "GET", "/api/tasks")
    assert status == 200
    assert [task["task_id"] for task in json.loads(body)["tasks"]] == [running]
    status, headers, body = ask(server, "GET", "/healthz")
    assert status == 503 and int(headers["Retry-After"]) > 0
    assert json.loads(body)["server"] == "stopping"
    assert json.loads(body)["error_code"] == 502
    assert ask(server, "GET", "/metrics")[0] == 200
    assert ask(server, "GET", "/", headers=HTML)[0] == 200
    assert ask(server, "GET", f"/tasks/{running}", headers=HTML)[0] == 200

    hold.unlink()  # the running task ends within its grace
    assert server.wait_exit() == 0
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(address(server), timeout=TIMEOUT_S).close()
    assert "stopping: no new tasks" in server.log and "server stopped" in server.log
    restarted = ServerProcess(PROBE_TASKS, tmp_path, {}).start()
    servers.append(restarted)
    assert restarted.task(running)["status"] == "SUCCEEDED"
    status, body = restarted.request("GET", "/api/tasks")
    assert [task["task_id"] for task in body["tasks"]] == [running]  # nothing refused ran
