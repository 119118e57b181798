"""`GET /api/openapi.json`: a valid OpenAPI 3.1 document that schemathesis loads, naming
every route of the API app (a new route without docs fails here), with each task's schema as
the params of its submit. Called in-process through WSGI, no sockets."""

from __future__ import annotations

import datetime
import json
import re
from typing import Any

import bottle
import jsonschema
import pytest
import schemathesis
from schemathesis.specs.openapi.definitions import OPENAPI_31
from wsgi_call import call_wsgi

from deferred import errors
from deferred.config import HttpConfig
from deferred.http import make_app
from deferred.http.api import ApiRoutes
from deferred.http.task_type_routes import PauseRoutes
from deferred.http.openapi import any_case_pattern, build_openapi
from deferred.http.openapi_schemas import ERROR_RESPONSES, params_schema_name, years_pattern
from deferred.interfaces import TaskType
from deferred.scheduling.options import MAX_DELAY_S

POINT = {"type": "object", "properties": {"x": {"type": "number"}}, "required": ["x"]}
TASK_TYPES = [
    TaskType("mult", "Multiply.", {"type": "object", "required": ["operands"], "properties": {
        "operands": {"type": "array", "items": {"type": "number"}}}}, None),
    TaskType("points", "Count points.", {"type": "object", "$defs": {"point": POINT},
                                         "properties": {"points": {
                                             "type": "array",
                                             "items": {"$ref": "#/$defs/point"}}}}, 2),
    TaskType("noschema", "Takes anything.", None, None),
]


class FakeService:
    """What building the app and answering the document need of a `TaskService`."""

    global_limit = 4
    server_id = "test"

    def task_types(self) -> list[TaskType]:
        return list(TASK_TYPES)


@pytest.fixture(scope="module")
def app() -> bottle.Bottle:
    return make_app(FakeService(), None, None, HttpConfig())  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def document(app: bottle.Bottle) -> dict[str, Any]:
    status, headers, body = call_wsgi(app, "GET", "/api/openapi.json")
    assert status == "200 OK", body
    assert headers["Content-Type"] == "application/json"
    return json.loads(body)


def openapi_path(rule: str) -> str:
    """`/api/tasks/<task_id:int>` as OpenAPI writes it: `/api/tasks/{task_id}`."""
    return re.sub(r"<([^:>]+)(:[^>]*)?>", r"{\1}", rule)


def test_the_document_is_valid_openapi_3_1(document: dict[str, Any]) -> None:
    # The official OpenAPI 3.1 schema, as schemathesis ships it.
    validator = jsonschema.Draft202012Validator(OPENAPI_31)
    problems = [f"{error.json_path}: {error.message}" for error in validator.iter_errors(
        document)]
    assert not problems, problems
    assert document["openapi"] == "3.1.0"
    assert document["servers"] == [{"url": "http://127.0.0.1"}]


def test_schemathesis_loads_every_operation(document: dict[str, Any]) -> None:
    schema = schemathesis.openapi.from_dict(document)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == sum(len(item) for item in document["paths"].values())


def test_every_api_route_is_documented_and_every_operation_served(
        app: bottle.Bottle, document: dict[str, Any]) -> None:
    api_routes = {(openapi_path(route.rule), route.method.lower()) for route in app.routes
                  if isinstance(getattr(route.callback, "__self__", None),
                                (ApiRoutes, PauseRoutes))}
    documented = {(path, method) for path, item in document["paths"].items()
                  for method in item}
    assert api_routes - documented == set(), "API routes missing from the OpenAPI document"
    served = {(openapi_path(route.rule), route.method.lower()) for route in app.routes}
    assert documented - served == set(), "documented operations no route serves"
    assert documented - api_routes == {("/", "get")}  # the web UI's overview page


def test_each_task_schema_is_the_params_of_its_submit(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    body = document["components"]["requestBodies"]["Submit"]["content"]["application/json"]
    branches = {branch["properties"]["task_name"]["const"]: branch
                for branch in body["schema"]["oneOf"]}
    assert set(branches) == {"mult", "points", "noschema"}
    mult = branches["mult"]
    assert mult["required"] == ["task_name", "params"]  # {} breaks its schema
    assert mult["properties"]["params"] == {"$ref": "#/components/schemas/params.mult"}
    assert schemas[params_schema_name("mult")] == TASK_TYPES[0].json_schema
    assert branches["points"]["required"] == ["task_name"]  # params may be left out or null
    assert mult["additionalProperties"] is False
    assert set(mult["properties"]) == {"task_name", "params", "email", "wait", "delay_s",
                                       "run_at", "priority", "idempotency_key", "timeout_s"}


def test_a_local_ref_of_a_task_schema_points_where_the_schema_now_lives(
        document: dict[str, Any]) -> None:
    points = document["components"]["schemas"]["params.points"]
    ref = points["properties"]["points"]["items"]["$ref"]
    assert ref == "#/components/schemas/params.points/$defs/point"
    target: Any = document
    for part in ref[2:].split("/"):
        target = target[part]
    assert target == POINT


def test_documented_error_codes_have_the_documented_http_status() -> None:
    def subclasses(cls: type) -> list[type]:
        return [cls] + [sub for child in cls.__subclasses__() for sub in subclasses(child)]

    statuses: dict[int, set[int]] = {}
    for cls in subclasses(errors.DeferredError):
        statuses.setdefault(int(cls.code), set()).add(cls.http_status)
    for name, (status, _, codes) in ERROR_RESPONSES.items():
        if name == "Unhealthy":
            continue  # /healthz answers 503 whatever the error, a stopped dispatcher too
        for code in codes:
            assert status in statuses[int(code)], (name, code)


def test_run_at_years_stop_short_of_ten_years_ahead() -> None:
    document = build_openapi([TASK_TYPES[0]], HttpConfig(), base_url="http://x",
                             now=datetime.datetime(2026, 12, 31, tzinfo=datetime.timezone.utc))
    body = document["components"]["requestBodies"]["Submit"]["content"]["application/json"]
    pattern = re.compile(body["schema"]["oneOf"][0]["properties"]["run_at"]["pattern"])
    assert pattern.match("2035-12-31T23:59:59Z") and pattern.match("1970-01-01T00:00:00Z")
    assert not pattern.match("2036-01-01T00:00:00Z")
    assert not pattern.match("0001-01-01T00:00:00+14:00")
    years = re.compile(f"^{years_pattern(2999)}$")
    assert [year for year in range(10000) if years.match(f"{year:04d}")] == list(
        range(1000, 3000))


def test_run_at_years_stay_within_ten_years_on_the_first_day_of_a_year_too() -> None:
    now = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
    document = build_openapi([TASK_TYPES[0]], HttpConfig(), base_url="http://x", now=now)
    body = document["components"]["requestBodies"]["Submit"]["content"]["application/json"]
    pattern = re.compile(body["schema"]["oneOf"][0]["properties"]["run_at"]["pattern"])
    latest = datetime.datetime.fromisoformat("2034-12-31T23:59:59-14:00")
    assert pattern.match(latest.isoformat()) and not pattern.match("2035-01-01T00:00:00Z")
    assert (latest - now).total_seconds() < MAX_DELAY_S  # the server takes it too


def test_the_status_filter_is_documented_in_any_case() -> None:
    pattern = re.compile(any_case_pattern(["QUEUED", "TIMED_OUT"]))
    assert pattern.match("queued") and pattern.match("Timed_Out")
    assert not pattern.match("queue") and not pattern.match("QUEUED ")


def test_pause_and_resume_name_a_registered_task_type(document: dict[str, Any]) -> None:
    assert document["components"]["schemas"]["TaskTypeName"] == {
        "enum": ["mult", "points", "noschema"]}
    for action in ("pause", "resume"):
        operation = document["paths"][f"/api/task-types/{{name}}/{action}"]["post"]
        assert operation["parameters"][0]["schema"] == {
            "$ref": "#/components/schemas/TaskTypeName"}
        assert set(operation["responses"]) == {"200", "401", "403", "404", "503"}
        assert operation["responses"]["200"]["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/TaskType"}
