"""Every error a bottle app built like the API answers is JSON in the spec's shape, without a
traceback: the plugin for route errors, the error pages for bottle's own. Called in-process
through WSGI, no sockets."""

from __future__ import annotations

import json
import logging
from typing import Any

import bottle
import pytest
from wsgi_call import call_wsgi

from deferred.errors import NotFoundError, ShuttingDownError
from deferred.http.jsonerrors import JsonErrorPlugin, install_error_pages


def build_app() -> bottle.Bottle:
    app = bottle.Bottle()
    app.uninstall(True)
    app.install(JsonErrorPlugin())
    install_error_pages(app, max_body_bytes=100)

    def user_mistake() -> Any:
        raise NotFoundError("no task with id 5", where="task_id")

    def bug() -> Any:
        return {"ratio": 1 / 0}

    def unserializable() -> Any:
        return {"value": object()}

    def shutting_down() -> Any:
        raise ShuttingDownError("the server is shutting down and takes no new tasks")

    def teapot() -> Any:
        bottle.abort(418, "short and stout")

    app.route("/ok", "GET", lambda: {"status": "OK"})
    app.route("/user-mistake", "GET", user_mistake)
    app.route("/bug", "GET", bug)
    app.route("/unserializable", "GET", unserializable)
    app.route("/teapot", "GET", teapot)
    app.route("/shutting-down", "POST", shutting_down)
    app.route("/post-only", "POST", lambda: {"status": "OK"})
    return app


def call(app: bottle.Bottle, method: str, path: str) -> tuple[str, dict[str, str], bytes]:
    return call_wsgi(app, method, path)


def json_answer(app: bottle.Bottle, method: str, path: str) -> tuple[int, dict[str, Any]]:
    status, headers, body = call(app, method, path)
    assert headers["Content-Type"] == "application/json"
    assert b"Traceback" not in body and b"ZeroDivisionError" not in body
    return int(status.split()[0]), json.loads(body)


def test_a_dict_is_answered_as_json():
    assert json_answer(build_app(), "GET", "/ok") == (200, {"status": "OK"})


def test_a_deferred_error_gets_its_status_and_code():
    assert json_answer(build_app(), "GET", "/user-mistake") == (404, {
        "status": "ERROR", "error_code": 104, "error_msg": "task_id: no task with id 5",
        "error_where": "task_id"})


@pytest.mark.parametrize("path", ["/bug", "/unserializable"])
def test_a_bug_is_logged_and_answered_999_without_details(path, caplog):
    with caplog.at_level(logging.ERROR, logger="deferred.http.jsonerrors"):
        status, body = json_answer(build_app(), "GET", path)
    assert status == 500
    assert body["error_code"] == 999
    assert "server log" in body["error_msg"]
    assert any(record.exc_info for record in caplog.records)


def test_an_unknown_route_is_104():
    assert json_answer(build_app(), "GET", "/nowhere") == (404, {
        "status": "ERROR", "error_code": 104, "error_msg": "no route for GET /nowhere"})


def test_a_wrong_method_is_107_with_the_allow_header():
    status, headers, body = call(build_app(), "GET", "/post-only")
    assert status.startswith("405")
    assert headers["Allow"] == "POST"
    assert json.loads(body)["error_code"] == 107


def test_another_client_error_keeps_its_status_with_code_100():
    status, body = json_answer(build_app(), "GET", "/teapot")
    assert (status, body["error_code"], body["error_msg"]) == (418, 100, "short and stout")


def test_a_crash_outside_the_routes_is_999(caplog):
    app = build_app()

    def broken_hook() -> None:
        raise RuntimeError("hook broke")

    app.add_hook("before_request", broken_hook)
    with caplog.at_level(logging.ERROR, logger="deferred.http.jsonerrors"):
        status, body = json_answer(app, "GET", "/ok")
    assert (status, body["error_code"]) == (500, 999)
    assert "hook broke" not in json.dumps(body)


def test_a_server_shutting_down_answers_503_with_retry_after():
    status, headers, body = call(build_app(), "POST", "/shutting-down")
    assert (status, headers["Retry-After"]) == ("503 Service Unavailable", "5")
    assert json.loads(body) == {"status": "ERROR", "error_code": 502, "error_msg":
                                "the server is shutting down and takes no new tasks"}


def test_other_errors_carry_no_retry_after():
    _, headers, _ = call(build_app(), "GET", "/user-mistake")
    assert "Retry-After" not in headers
