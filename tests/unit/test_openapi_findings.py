"""What schemathesis (and reading the code for the OpenAPI document) found, kept fixed:
answers that did not match what the document can honestly say. In-process, no sockets."""

from __future__ import annotations

from typing import Any

import bottle
import pytest
from wsgi_call import call_wsgi

from deferred.config import HttpConfig
from deferred.errors import BadRequestError, ConflictError, NotFoundError
from deferred.http import make_app
from deferred.http.openapi import build_openapi
from deferred.interfaces import TaskType
from deferred.scheduling.options import submit_options


class FakeService:
    global_limit = 4
    server_id = "test"

    def task_types(self) -> list[Any]:
        return []

    def get(self, task_id: int) -> Any:
        raise NotFoundError(f"no task with id {task_id}", where="task_id")


@pytest.fixture(scope="module")
def app() -> bottle.Bottle:
    return make_app(FakeService(), None, None, HttpConfig())  # type: ignore[arg-type]


def call(app: bottle.Bottle, method: str, path: str) -> tuple[str, dict[str, str], bytes]:
    return call_wsgi(app, method, path)


@pytest.mark.parametrize("method, path", [("GET", "/api/chains"),
                                          ("GET", "/api/tasks/1/cancel"),
                                          ("OPTIONS", "/api/tasks/1/retry")])
def test_another_method_on_a_post_only_api_path_is_405_allowing_post(
        app: bottle.Bottle, method: str, path: str) -> None:
    # The UI's catch-all GET route used to take these: 404, and GET in every Allow.
    status, headers, body = call(app, method, path)
    assert status.startswith("405"), body
    assert headers["Allow"] == "POST"
    assert b'"error_code":107' in body


def test_an_unknown_api_path_is_still_the_json_404(app: bottle.Bottle) -> None:
    status, headers, body = call(app, "GET", "/api/nothing")
    assert status.startswith("404") and headers["Content-Type"] == "application/json", body


@pytest.mark.parametrize("path", ["/api/tasks/\u0663", "/api/tasks/\uff13", "/tasks/\u0663"])
def test_a_task_id_in_a_path_is_ascii_digits(app: bottle.Bottle, path: str) -> None:
    # bottle's int filter is `-?\d+`: Arabic-Indic or full-width digits read as task 3.
    status, _, body = call(app, "GET", path)
    assert status.startswith("404") and b"no route" in body, body


def test_a_whole_number_written_as_a_float_is_a_priority() -> None:
    # JSON Schema's "integer" (and every JSON encoder that writes 3.0) say 3.0 is 3.
    assert submit_options(priority=3.0).priority == 3
    with pytest.raises(BadRequestError, match="whole number"):
        submit_options(priority=3.5)


def test_retrying_a_task_that_has_not_failed_is_a_conflict() -> None:
    # A well-formed request the task's state refuses: 409, still the bad-request code.
    assert ConflictError.http_status == 409
    assert issubclass(ConflictError, BadRequestError)
    assert ConflictError("x").to_json()["error_code"] == 100


def test_a_task_whose_schema_refers_nowhere_does_not_break_the_document():
    broken = TaskType("broken", "Refers nowhere.",
                      {"type": "object", "allOf": [{"$ref": "urn:example:missing"}]}, None)
    document = build_openapi([broken], HttpConfig(), base_url="http://x")
    body = document["components"]["requestBodies"]["Submit"]["content"]["application/json"]
    assert "params" in body["schema"]["oneOf"][0]["required"]  # {} cannot be shown to pass
