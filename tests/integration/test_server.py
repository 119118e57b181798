"""`deferred.Server` embedded: submit and handles, `task.delay()`, a WSGI app without a
listener, a full database refused over HTTP while the server keeps running."""

from __future__ import annotations

import http.client
import json
import sqlite3
import threading
import wsgiref.util
from collections.abc import Iterator
from pathlib import Path

import pytest
from polling import wait_until
import sqlalchemy as sa

import deferred
from deferred.errors import (InvalidParamsError, NoServerError, StoreRejectedError,
                             TaskFailedError, UnknownTaskError)
from deferred.records import TaskStatus
from deferred.runtime.dispatcher import Dispatcher
from deferred.tasks.registry import TaskRegistry


@pytest.fixture
def registry() -> TaskRegistry:
    registry = TaskRegistry()
    gate = threading.Event()

    @deferred.task(name="mult", registry=registry,
                   json_schema={"type": "object",
                                "properties": {"operands": {"type": "array", "minItems": 1,
                                                            "items": {"type": "number"}}},
                                "required": ["operands"]})
    def mult(operands):
        result = 1
        for operand in operands:
            result *= operand
        return result

    @deferred.task(name="gated", registry=registry)
    def gated():
        gate.wait(30)
        return "opened"

    @deferred.task(name="boom", registry=registry)
    def boom():
        raise ValueError("boom")

    registry.gate = gate  # type: ignore[attr-defined]
    return registry


@pytest.fixture
def make_server(tmp_path: Path, registry: TaskRegistry) -> Iterator:
    started = []

    def make(listen: bool = True, **config: object) -> deferred.Server:
        config.setdefault("db", {"url": f"sqlite+pysqlite:///{tmp_path / 'tasks.db'}"})
        config.setdefault("http", {"port": 0})
        server = deferred.Server(config, registry)
        server.start(listen=listen)
        started.append(server)
        return server

    yield make
    registry.gate.set()
    for server in started:
        server.stop(grace_s=10)


def test_submit_returns_a_handle_that_waits_for_the_result(make_server):
    server = make_server()
    handle = server.submit("mult", {"operands": [3, 2, 8]})
    assert handle.wait(10) == 48
    assert (handle.status, handle.ready, handle.result) == (TaskStatus.SUCCEEDED, True, 48)
    assert handle.record.attempts == 1


def test_a_failed_task_raises_from_wait_and_keeps_its_error(make_server):
    handle = make_server().submit("boom")
    with pytest.raises(TaskFailedError, match=r"task 'boom' \(\d+\) failed: ValueError: boom"):
        handle.wait(10)
    assert handle.status is TaskStatus.FAILED and handle.error.type == "ValueError"


def test_wait_times_out_while_the_task_runs(make_server, registry):
    handle = make_server().submit("gated")
    with pytest.raises(TimeoutError, match="is still"):
        handle.wait(0.2)
    assert not handle.ready
    registry.gate.set()
    assert handle.wait(10) == "opened"


def test_submit_checks_name_and_params_and_stores_nothing_bad(make_server):
    server = make_server()
    with pytest.raises(UnknownTaskError):
        server.submit("nope")
    with pytest.raises(InvalidParamsError, match=r"\$\.operands: \[\] should be non-empty"):
        server.submit("mult", {"operands": []})


def test_delay_submits_to_the_running_server_of_this_process(make_server, registry):
    mult = registry.get("mult")
    with pytest.raises(NoServerError, match="no server is running"):
        mult.delay(operands=[2])
    server = make_server()
    assert mult.delay(operands=[2, 21]).wait(10) == 42
    server.stop()
    with pytest.raises(NoServerError):
        mult.delay(operands=[2])


def call_mounted(server, remote_addr):
    body = json.dumps({"task_name": "mult", "params": {"operands": [6, 7]}}).encode()
    environ = {"REQUEST_METHOD": "POST", "PATH_INFO": "/api/tasks",
               "CONTENT_TYPE": "application/json", "CONTENT_LENGTH": str(len(body)),
               "wsgi.input": __import__("io").BytesIO(body), "REMOTE_ADDR": remote_addr}
    wsgiref.util.setup_testing_defaults(environ)
    answer = {}

    def start_response(status, headers, exc_info=None):
        answer["status"] = status

    payload = b"".join(server.wsgi_app(environ, start_response))
    return answer["status"], json.loads(payload)


def test_the_wsgi_app_runs_without_a_listener(make_server):
    server = make_server(listen=False)
    status, answer = call_mounted(server, "127.0.0.1")
    assert status.startswith("200") and answer["result"] == 42
    with pytest.raises(RuntimeError, match="without its own HTTP listener"):
        server.port


def test_a_mounted_app_without_auth_refuses_clients_of_other_machines(make_server):
    server = make_server(listen=False)
    status, answer = call_mounted(server, "203.0.113.5")
    assert status.startswith("401") and answer["error_code"] == 110


def test_a_full_database_refuses_submits_with_503_and_the_server_carries_on(make_server,
                                                                              tmp_path):
    server = make_server()
    assert server.submit("mult", {"operands": [1]}).wait(10) == 1
    engine = server._parts.store.database.engine
    pages = sqlite3.connect(tmp_path / "tasks.db").execute("PRAGMA page_count").fetchone()[0]

    @sa.event.listens_for(engine, "connect")
    def cap(dbapi_connection, _record):
        dbapi_connection.execute(f"PRAGMA max_page_count={pages}")

    server._parts.store.database.dispose()  # every connection opens anew, capped
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    big = json.dumps({"task_name": "mult", "params": {"operands": [1] * 200_000}})
    connection.request("POST", "/api/tasks", big, {"Content-Type": "application/json"})
    response = connection.getresponse()
    body = json.loads(response.read())
    assert response.status == 503
    assert body["error_code"] == 501 and "database is full" in body["error_msg"]
    connection.request("GET", "/healthz")
    response = connection.getresponse()
    health = json.loads(response.read())
    assert (response.status, health["error_code"], health["store"]) == (
        503, 501, "unable to write")
    assert "database is full" in health["error_msg"]
    sa.event.remove(engine, "connect", cap)
    server._parts.store.database.dispose()
    assert server.submit("mult", {"operands": [2, 3]}).wait(10) == 6
    connection.request("GET", "/healthz")
    response = connection.getresponse()
    assert (response.status, json.loads(response.read())["store"]) == (200, "reachable")
    connection.close()


def test_concurrent_submits_never_exceed_the_quotas_and_reach_them(tmp_path):
    registry = TaskRegistry()
    lock, running, peaks = threading.Lock(), {"x": 0, "y": 0}, {"x": 0, "y": 0, "all": 0}
    go = threading.Event()

    def probe(name):
        with lock:
            running[name] += 1
            peaks[name] = max(peaks[name], running[name])
            peaks["all"] = max(peaks["all"], running["x"] + running["y"])
        go.wait(0.02)
        with lock:
            running[name] -= 1

    deferred.task(name="x", registry=registry)(lambda: probe("x"))
    deferred.task(name="y", registry=registry)(lambda: probe("y"))
    server = deferred.Server({"db": {"url": f"sqlite+pysqlite:///{tmp_path / 't.db'}"},
                              "limits": {"global": 3, "names": {"x": 1}}}, registry)
    server.start(listen=False)
    try:
        handles, errors = [], []

        def submit_many(name):
            try:
                handles.extend(server.submit(name) for _ in range(40))
            except Exception as exc:  # pragma: no cover - reported below
                errors.append(exc)

        threads = [threading.Thread(target=submit_many, args=(name,))
                   for name in ("x", "y", "x", "y")]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        for handle in handles:
            handle.wait(60)
    finally:
        server.stop()
    assert (peaks["x"], peaks["all"]) == (1, 3) and peaks["y"] <= 3


def test_a_submit_never_overtakes_an_older_queued_task(make_server, registry):
    server = make_server(limits={"global": 1})
    blocker = server.submit("gated")
    wait_until(lambda: blocker.status is TaskStatus.RUNNING)
    queued = [server.submit("mult", {"operands": [n]}) for n in range(5)]
    registry.gate.set()
    for handle in queued:
        handle.wait(10)
    started = [handle.record.started_at for handle in queued]
    assert started == sorted(started)
    late = server.submit("mult", {"operands": [9]})
    assert late.wait(10) == 9
    assert late.record.started_at >= started[-1]


def test_a_port_in_use_fails_the_start_and_leaves_no_thread_behind(tmp_path, registry):
    import socket

    from deferred.errors import ConfigError

    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    before = {thread.name for thread in threading.enumerate()}
    server = deferred.Server({"db": {"url": f"sqlite+pysqlite:///{tmp_path / 'tasks.db'}"},
                              "http": {"port": taken.getsockname()[1]}}, registry)
    try:
        with pytest.raises(ConfigError, match="Address already in use"):
            server.start()
    finally:
        taken.close()
    # The listener starts last; everything started before it was stopped again.
    wait_until(lambda: not [thread.name for thread in threading.enumerate()
                            if thread.name.startswith("deferred-")
                            and thread.name not in before])
    server.start(listen=False)  # the one-server lock was released too
    server.stop()


def test_a_task_registered_after_the_start_is_claimed_and_run(make_server, registry):
    server = make_server(listen=False, limits={"global": 1})
    held = server.submit("gated")
    wait_until(lambda: held.status is TaskStatus.RUNNING)

    @deferred.task(name="late", registry=registry)
    def late():
        return "ran"

    queued = server.submit("late")  # no free slot: it waits for a later turn's claim
    assert queued.status is TaskStatus.QUEUED
    registry.gate.set()
    assert held.wait(10) == "opened"
    assert queued.wait(10) == "ran"
    assert server.submit("late").wait(10) == "ran"  # and started by its own submit's turn


def test_a_row_the_database_refuses_fails_alone_in_its_group_commit(make_server, tmp_path,
                                                                     monkeypatch):
    refused_batches = []
    turn_apart = Dispatcher._turn_apart

    def spy(self, slots, turn):
        refused_batches.append(len(slots))
        return turn_apart(self, slots, turn)

    monkeypatch.setattr(Dispatcher, "_turn_apart", spy)
    server = make_server(listen=False)
    with sqlite3.connect(tmp_path / "tasks.db") as connection:  # the database's own refusal
        connection.execute(
            "CREATE TRIGGER refuse_one BEFORE INSERT ON deferred_tasks "
            "WHEN NEW.name = 'boom' BEGIN SELECT RAISE(ABORT, 'this row is refused'); END")
    start, answers = threading.Barrier(16), {}

    def submit(index: int) -> None:
        start.wait()
        try:
            answers[index] = server.submit("boom") if index == 7 else server.submit(
                "mult", {"operands": [index]})
        except StoreRejectedError as exc:  # the one refused
            answers[index] = exc

    threads = [threading.Thread(target=submit, args=(index,), name=f"submitter-{index}")
               for index in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    refused = answers.pop(7)
    assert isinstance(refused, StoreRejectedError), refused
    assert "this row is refused" in str(refused)
    assert sorted(handle.wait(10) for handle in answers.values()) == sorted(
        index for index in range(16) if index != 7)
    assert max(refused_batches) > 1  # the refused row shared its commit with others
