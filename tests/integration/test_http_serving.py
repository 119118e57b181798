"""`HttpServer` on real sockets: starts, answers, and stops cleanly every time, even with a
keep-alive client connected or a request in flight."""

from __future__ import annotations

import http.client
import importlib.metadata
import inspect
import json
import socket
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import waitress
from polling import wait_until
from waitress import adjustments, channel, parser, task, utilities, wasyncore

import deferred
from deferred.errors import ConfigError
from deferred.tasks.registry import TaskRegistry
from deferred.http.serving import HttpServer

CYCLES = 100
DEADLINE_S = 30.0  # only so that a hang fails the test instead of blocking the suite


class SlowApp:
    """A WSGI app: `/slow` answers once the test releases it, anything else at once."""

    def __init__(self) -> None:
        self.entered, self.release = threading.Event(), threading.Event()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]
                 ) -> list[bytes]:
        body = b"hello"
        if environ["PATH_INFO"] == "/slow":
            self.entered.set()
            assert self.release.wait(DEADLINE_S)
            body = b"slow " * 1000
        start_response("200 OK", [("Content-Type", "text/plain"),
                                  ("Content-Length", str(len(body)))])
        return [body]


def http_threads() -> list[threading.Thread]:
    return [thread for thread in threading.enumerate()
            if thread.name.startswith("deferred-http")]


def stop_within_deadline(server: HttpServer) -> bool:
    """`server.stop()`, failing the test if it never returns."""
    outcome: list[bool] = []
    stopper = threading.Thread(target=lambda: outcome.append(server.stop(5.0)))
    stopper.start()
    stopper.join(DEADLINE_S)
    assert not stopper.is_alive(), "HttpServer.stop() did not return"
    return outcome[0]


def raw_exchange(port: int, request: bytes) -> bytes:
    """Send raw bytes, return everything the server answers until it closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=DEADLINE_S) as sock:
        sock.sendall(request)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


@pytest.fixture
def app() -> SlowApp:
    return SlowApp()


@pytest.fixture
def server(app: SlowApp) -> Iterator[HttpServer]:
    server = HttpServer(app, "127.0.0.1", 0, max_body_bytes=100)
    server.start()
    yield server
    stop_within_deadline(server)


def missing_parameters(function: Callable[..., Any], *names: str) -> list[str]:
    """The names `function` does not take as parameters."""
    parameters = inspect.signature(function).parameters
    return [name for name in names if name not in parameters]


def class_internals_moved() -> list[str]:
    """What deferred/http/serving.py needs of waitress's classes and finds missing."""
    expected: dict[str, list[str]] = {
        "create_server(_dispatcher=)": missing_parameters(waitress.create_server, "_dispatcher"),
        "Adjustments for create_server(**kw)": [
            name for name in ("sockets", "ident", "server_name", "max_request_body_size",
                              "trusted_proxy", "trusted_proxy_count", "trusted_proxy_headers",
                              "clear_untrusted_proxy_headers")
            if name not in dict(adjustments.Adjustments._params)],
        "ThreadedTaskDispatcher.start_new_thread(target, thread_no)": missing_parameters(
            task.ThreadedTaskDispatcher.start_new_thread, "target", "thread_no"),
        "ThreadedTaskDispatcher.shutdown(cancel_pending, timeout)": missing_parameters(
            task.ThreadedTaskDispatcher.shutdown, "cancel_pending", "timeout"),
        "ThreadedTaskDispatcher().threads, .set_thread_count": [
            name for name in ("threads", "set_thread_count")
            if not hasattr(task.ThreadedTaskDispatcher(), name)],
        "ErrorTask(Task): execute, set_close_on_finish, write, status, content_length": [
            name for name in ("execute", "set_close_on_finish", "write", "status",
                              "content_length")
            if not (issubclass(task.ErrorTask, task.Task) and hasattr(task.ErrorTask, name))],
        "Task.__init__ sets response_headers": [] if "self.response_headers = " in
        inspect.getsource(task.Task.__init__) else ["response_headers"],
        "HTTPChannel.error_task_class, .parser_class": [
            f"{name} (is {getattr(channel.HTTPChannel, name, None)!r})"
            for name, value in (("error_task_class", task.ErrorTask),
                                ("parser_class", parser.HTTPRequestParser))
            if getattr(channel.HTTPChannel, name, None) is not value],
        "HTTPRequestParser.parse_header(header_plus), .error, .content_length": missing_parameters(
            parser.HTTPRequestParser.parse_header, "header_plus") + [
            name for name in ("error", "content_length")
            if not hasattr(parser.HTTPRequestParser, name)],
        # The 413 that reads a refused body before it closes (_JsonErrorChannel):
        "HTTPChannel: received, readable, writable, handle_write, handle_close, "
        "_flush_exception, _flush_some, _flush_some_if_lockable": [
            name for name in ("received", "readable", "writable", "handle_write",
                              "handle_close", "_flush_exception", "_flush_some",
                              "_flush_some_if_lockable")
            if not callable(getattr(channel.HTTPChannel, name, None))],
        "HTTPChannel(server, sock, addr, adj, map): will_close, close_when_flushed, "
        "total_outbufs_len, requests, and self.parser_class(...)": [
            *missing_parameters(channel.HTTPChannel.__init__, "server", "sock", "addr", "adj",
                                "map"),
            *[name for name in ("will_close", "close_when_flushed")
              if getattr(channel.HTTPChannel, name, None) is not False],
            *([] if "self.requests = " in inspect.getsource(channel.HTTPChannel.__init__)
              else ["requests"]),
            *([] if "total_outbufs_len" in inspect.getsource(channel.HTTPChannel)
              else ["total_outbufs_len"]),
            *([] if "self.parser_class(" in inspect.getsource(channel.HTTPChannel)
              else ["self.parser_class(...)"])],
        "HTTPRequestParser.chunked, .expect_continue, .received(data)": [
            name for name in ("chunked", "expect_continue")
            if not hasattr(parser.HTTPRequestParser, name)] + missing_parameters(
            parser.HTTPRequestParser.received, "data"),
        "parser.ParsingError": [] if issubclass(parser.ParsingError, Exception) else ["it"],
        "utilities.Error: code, reason, body": [
            name for name in ("code", "reason", "body")
            if not hasattr(utilities.RequestEntityTooLarge("x"), name)],
        "wasyncore.close_all(map, ignore_all)": missing_parameters(
            wasyncore.close_all, "map", "ignore_all"),
    }
    return [f"{what}: missing {', '.join(names)}" for what, names in expected.items() if names]


def server_internals_moved() -> list[str]:
    """What serving.py needs of a server made by create_server (on a real socket), missing."""
    sock = socket.create_server(("127.0.0.1", 0))
    server = waitress.create_server(SlowApp(), sockets=[sock], ident="deferred",
                                    _dispatcher=task.ThreadedTaskDispatcher())
    try:
        shapes = {"_map": isinstance(getattr(server, "_map", None), dict),
                  "trigger.pull_trigger": callable(getattr(getattr(server, "trigger", None),
                                                           "pull_trigger", None)),
                  "channel_class": isinstance(getattr(server, "channel_class", None), type),
                  "task_dispatcher": isinstance(getattr(server, "task_dispatcher", None),
                                                task.ThreadedTaskDispatcher),
                  "adj.max_request_body_size": hasattr(getattr(server, "adj", None),
                                                       "max_request_body_size"),
                  "effective_port": str(getattr(server, "effective_port", None)) ==
                  str(sock.getsockname()[1]),  # a str in waitress 3.0; serving.py int()s it
                  "effective_host": getattr(server, "effective_host", None) == "127.0.0.1",
                  "run": callable(getattr(server, "run", None))}
    finally:
        wasyncore.close_all(getattr(server, "_map", {}), ignore_all=True)
        sock.close()
    return [f"the server's {name}" for name, present in shapes.items() if not present]


def test_the_waitress_internals_serving_uses_are_still_there():
    moved = class_internals_moved() + server_internals_moved()
    version = importlib.metadata.version("waitress")
    assert not moved, (
        f"waitress {version} moved internals that deferred/http/serving.py uses (setup.cfg "
        "pins waitress>=3,<3.1 for this reason): " + "; ".join(moved)
        + ". Adapt serving.py to this waitress before widening the pin.")


def test_it_serves_on_the_port_it_picked(server: HttpServer):
    assert server.port > 0
    assert server.url == f"http://127.0.0.1:{server.port}"
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=DEADLINE_S)
    connection.request("GET", "/")
    response = connection.getresponse()
    assert (response.status, response.read()) == (200, b"hello")
    connection.close()


def test_its_threads_are_named_and_not_daemons(server: HttpServer):
    names = {thread.name for thread in http_threads()}
    assert "deferred-http" in names
    assert "deferred-http-worker_0" in names
    assert not any(thread.daemon for thread in http_threads())


def test_starts_and_stops_cleanly_with_a_keep_alive_client_connected(app: SlowApp):
    for _ in range(CYCLES):
        server = HttpServer(app, "127.0.0.1", 0)
        server.start()
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=DEADLINE_S)
        connection.request("GET", "/")
        response = connection.getresponse()
        assert (response.status, response.read()) == (200, b"hello")
        assert not response.will_close  # the connection stays open across the stop
        assert stop_within_deadline(server) is True
        with pytest.raises((http.client.HTTPException, OSError)):
            connection.request("GET", "/")  # the server closed it
            connection.getresponse()
        connection.close()
    assert http_threads() == []


def test_a_request_in_flight_completes_during_stop(app: SlowApp):
    server = HttpServer(app, "127.0.0.1", 0)
    server.start()
    answers: list[tuple[int, bytes]] = []
    stopped: list[bool] = []

    def ask() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=DEADLINE_S)
        connection.request("GET", "/slow")
        response = connection.getresponse()
        answers.append((response.status, response.read()))
        connection.close()

    client = threading.Thread(target=ask)
    client.start()
    assert app.entered.wait(DEADLINE_S)
    stopper = threading.Thread(target=lambda: stopped.append(server.stop(DEADLINE_S)))
    stopper.start()
    # Stop has begun once the idle request threads are gone; only the busy one is left.
    wait_until(lambda: len([thread for thread in http_threads()
                            if "worker" in thread.name]) == 1)
    assert stopper.is_alive()
    app.release.set()
    stopper.join(DEADLINE_S)
    client.join(DEADLINE_S)
    assert not stopper.is_alive() and not client.is_alive()
    assert answers == [(200, b"slow " * 1000)]
    assert stopped == [True]
    assert http_threads() == []


def test_stop_before_start_and_twice_is_harmless(app: SlowApp):
    server = HttpServer(app, "127.0.0.1", 0)
    assert server.stop() is True
    server.start()
    assert stop_within_deadline(server) is True
    assert server.stop() is True
    with pytest.raises(RuntimeError):
        server.start()


def test_a_port_in_use_is_a_config_error_saying_so(server: HttpServer, app: SlowApp):
    other = HttpServer(app, "127.0.0.1", server.port)
    with pytest.raises(ConfigError) as info:
        other.start()
    assert str(info.value) == (f"http: cannot listen on 127.0.0.1:{server.port}: "
                               "Address already in use")
    assert info.value.to_json()["error_code"] == 302
    assert [thread.name for thread in http_threads()].count("deferred-http") == 1


def test_an_unknown_host_is_a_config_error(app: SlowApp):
    with pytest.raises(ConfigError, match="cannot listen on no-such-host.invalid:0"):
        HttpServer(app, "no-such-host.invalid", 0).start()


def test_a_body_over_the_limit_is_refused_from_its_headers_in_json(server: HttpServer):
    answer = raw_exchange(server.port, b"POST /api/tasks HTTP/1.1\r\nHost: x\r\n"
                                       b"Content-Type: application/json\r\n"
                                       b"Content-Length: 5000\r\n\r\n")  # and no body
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413 ")
    assert b"\r\nContent-Type: application/json" in head
    assert json.loads(body) == {
        "status": "ERROR", "error_code": 105,
        "error_msg": "the request body (5000 bytes) is over the limit of 100 bytes "
                     "(http.max_body_bytes); it was not read"}


def test_a_body_at_the_limit_reaches_the_app(server: HttpServer):
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=DEADLINE_S)
    connection.request("POST", "/", body=b"x" * 100)
    response = connection.getresponse()
    assert (response.status, response.read()) == (200, b"hello")
    connection.close()


def test_a_malformed_request_gets_a_json_error(server: HttpServer):
    head, _, body = raw_exchange(server.port, b"NONSENSE\r\n\r\n").partition(b"\r\n\r\n")
    assert b" 400 " in head.split(b"\r\n", 1)[0]
    assert json.loads(body)["error_code"] == 100


def test_a_content_length_of_thousands_of_digits_gets_a_json_error_not_a_dropped_line(
        server: HttpServer):
    request = (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: " + b"9" * 5000
               + b"\r\nConnection: close\r\n\r\n{}")
    head, _, body = raw_exchange(server.port, request).partition(b"\r\n\r\n")
    assert b" 400 " in head.split(b"\r\n", 1)[0]
    assert json.loads(body) == {"status": "ERROR", "error_code": 100,
                                "error_msg": "the request line or a header (such as "
                                             "Content-Length) is invalid"}


def test_params_as_deep_as_allowed_are_checked_stored_and_read_back(tmp_path):
    """The deepest params the parser lets through (64 levels) pass a recursive schema, a
    group commit and the read back, over real HTTP; one level more is refused up front."""
    registry = TaskRegistry()
    node = {"type": "array", "items": {"$ref": "#/$defs/node"}}

    @deferred.task(name="tree", registry=registry,
                   json_schema={"type": "object", "$defs": {"node": node},
                                "properties": {"x": {"$ref": "#/$defs/node"}}})
    def tree(x):
        return "ok"

    @deferred.task(name="anything", registry=registry)
    def anything(**params):
        return "ok"

    server = deferred.Server({"db": {"url": f"sqlite+pysqlite:///{tmp_path / 't.db'}"},
                              "http": {"port": 0}}, registry=registry)
    server.start()
    try:
        for name in ("tree", "anything"):
            for depth, expected in ((62, 200), (63, 400)):  # the body adds two levels
                params = "[" * depth + "]" * depth
                body = f'{{"task_name": "{name}", "params": {{"x": {params}}}}}'.encode()
                connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
                connection.request("POST", "/api/tasks", body,
                                   {"Content-Type": "application/json"})
                answer = connection.getresponse()
                data = json.loads(answer.read())
                connection.close()
                assert answer.status == expected, (name, depth, data)
                if expected == 400:
                    assert data["error_code"] == 103 and "nested too deeply" in data["error_msg"]
    finally:
        server.stop()
