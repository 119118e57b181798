"""A real server (SQLite, in-process) logs exactly one start line and one end line per run,
whatever the run's end (success, failure retried or not, cancel, time-out), and its
`/healthz` says "stopping" while running tasks use their grace."""

from __future__ import annotations

import io
import json
import logging
import threading
import wsgiref.util
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from polling import wait_until

import deferred
from deferred.records import TaskStatus
from deferred.tasks.registry import TaskRegistry


@pytest.fixture
def registry() -> TaskRegistry:
    registry = TaskRegistry()
    gate = threading.Event()

    @deferred.task(name="double", registry=registry)
    def double(value):
        return 2 * value

    @deferred.task(name="flaky", registry=registry, retries=1, retry_backoff_s=0.01)
    def flaky():
        raise OSError("no route to host")

    @deferred.task(name="gated", registry=registry)
    def gated():
        context = deferred.current()
        while not gate.is_set() and not context.wait_cancelled(0.01):
            pass
        context.check_cancelled()  # stops as asked
        return "opened"

    @deferred.task(name="sleepy", registry=registry, timeout_s=0.2)
    def sleepy():
        deferred.current().wait_cancelled(30)  # asked to stop at the time limit
        return "late"

    registry.gate = gate  # type: ignore[attr-defined]
    return registry


@pytest.fixture
def server(tmp_path: Path, registry: TaskRegistry) -> Iterator[deferred.Server]:
    server = deferred.Server({"db": {"url": f"sqlite+pysqlite:///{tmp_path / 'tasks.db'}"}},
                             registry)
    server.start(listen=False)
    yield server
    registry.gate.set()  # type: ignore[attr-defined]
    server.stop(grace_s=10)


def task_lines(caplog: pytest.LogCaptureFixture, task_id: int) -> list[logging.LogRecord]:
    return [record for record in list(caplog.records)
            if getattr(record, "task_id", None) == task_id]


def ends(caplog: pytest.LogCaptureFixture, task_id: int) -> list[tuple[int, str]]:
    return [(record.attempt, record.status) for record in task_lines(caplog, task_id)
            if hasattr(record, "status")]


def test_every_kind_of_end_is_one_line_after_one_start_line(server, caplog):
    caplog.set_level(logging.INFO)
    succeeded = server.submit("double", {"value": 21})
    retried = server.submit("flaky")
    cancelled = server.submit("gated")
    timed_out = server.submit("sleepy")
    assert succeeded.wait(10) == 42
    wait_until(lambda: cancelled.status is TaskStatus.RUNNING)
    server.cancel(cancelled.id)
    for handle in (retried, cancelled, timed_out):
        wait_until(lambda handle=handle: handle.ready)
    # The timed-out run's code returns later; its outcome (and no end line) is dropped.
    wait_until(lambda: any("returned after its time limit" in record.getMessage()
                           for record in caplog.records))
    expected = {succeeded.id: [(1, "SUCCEEDED")], retried.id: [(1, "FAILED"), (2, "FAILED")],
                cancelled.id: [(1, "CANCELLED")], timed_out.id: [(1, "TIMED_OUT")]}
    # An end line is logged once its outcome is committed, so it may follow `ready`.
    wait_until(lambda: all(len(ends(caplog, task_id)) >= len(lines)
                           for task_id, lines in expected.items()))

    for task_id, lines in expected.items():
        assert ends(caplog, task_id) == lines
    for handle in (succeeded, retried, cancelled, timed_out):
        lines = task_lines(caplog, handle.id)
        starts = [record for record in lines if record.getMessage().endswith(" started")]
        assert len(starts) == len(ends(caplog, handle.id))
        assert all(record.task_name == handle.record.name for record in lines)
        assert all(record.duration_s >= 0 for record in lines if hasattr(record, "status"))
    first, second = [record for record in task_lines(caplog, retried.id)
                     if hasattr(record, "status")]
    assert "; will retry at " in first.getMessage() and first.retry_at.endswith("Z")
    assert "will retry" not in second.getMessage() and not hasattr(second, "retry_at")
    assert first.error == "OSError: no route to host"
    [timed_out_end] = [record for record in task_lines(caplog, timed_out.id)
                       if hasattr(record, "status")]
    assert timed_out_end.levelname == "WARNING"
    assert 0.2 <= timed_out_end.duration_s < 5


def healthz(app: Any) -> tuple[str, dict[str, Any]]:
    """`GET /healthz` on a server's WSGI app: its status line and JSON body."""
    environ: dict[str, Any] = {"REQUEST_METHOD": "GET", "PATH_INFO": "/healthz",
                               "wsgi.input": io.BytesIO()}
    wsgiref.util.setup_testing_defaults(environ)
    answer: dict[str, str] = {}

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None
                       ) -> None:
        answer["status"] = status

    body = b"".join(app(environ, start_response))
    return answer["status"], json.loads(body)


def test_healthz_says_stopping_while_running_tasks_use_their_grace(server, registry):
    app = server.wsgi_app  # kept: it still answers while the server stops
    status, body = healthz(app)
    assert (status, body["server"], body["store"]) == ("200 OK", "running", "reachable")
    handle = server.submit("gated")
    wait_until(lambda: handle.status is TaskStatus.RUNNING)
    stopper = threading.Thread(target=server.stop, kwargs={"grace_s": 30}, name="stopper")
    stopper.start()
    try:
        status, body = wait_until(lambda: (answer := healthz(app))[0].startswith("503")
                                  and answer)
    finally:
        registry.gate.set()
        stopper.join(30)
    assert body == {"status": "ERROR", "error_code": 502,
                    "error_msg": "the server is stopping: it takes no new work",
                    "server_id": body["server_id"], "server": "stopping", "store": "reachable"}
    assert not stopper.is_alive()
