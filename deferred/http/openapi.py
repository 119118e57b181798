"""The OpenAPI 3.1 document of the JSON API (`GET /api/openapi.json`): a pure function of the
registered task types and the HTTP config, no bottle, no I/O. The paths and operations are
here, the schemas of bodies and answers in `openapi_schemas`.

Each task's JSON Schema is the `params` of its own branch of the submit body (told apart by
`task_name`), and every error status is documented with the codes it really carries. A unit
test fails on a route of the API app missing here; an end-to-end test runs schemathesis
against a real server with this document.
"""

from __future__ import annotations

import datetime
import importlib.metadata
from collections.abc import Mapping, Sequence
from typing import Any

from ..access.audit import AuditAction
from ..config import HttpConfig
from ..access.identity import ROLE_LABELS
from ..errors import ErrorCode
from ..interfaces import TaskType
from ..records import MAX_TASK_ID, utcnow
from ..scheduling.options import MAX_DELAY_S
from .auth import TOKEN_NAME
from .listquery import DEFAULT_LIMIT, MAX_LIMIT, STATUS_FILTERS
from .serverlist import servers_operation
from .statsjson import stats_operation
from .openapi_bulk import bulk_operation, status_words
from .openapi_schemas import (ERROR_RESPONSES, chain_body, error_responses, error_schema,
                              object_schema, params_schemas, ref, shared_schemas, submit_body,
                              task_name_schema)

OPENAPI_VERSION = "3.1.0"
CURSOR_PATTERN = "^[1-9][0-9]{0,17}$"  # a record id as a query value
# No credentials are needed when the server runs without auth (on a loopback address only).
SECURITY_SCHEMES = ("bearer", "session")


def build_openapi(task_types: Sequence[TaskType], config: HttpConfig, *, base_url: str,
                  version: str = "0", now: datetime.datetime | None = None) -> dict[str, Any]:
    """The OpenAPI 3.1 document of the API served at `base_url`, with `task_types`' schemas
    as the params of their submits. `now` (default: the current time) bounds `run_at`."""
    # Every time of that year is within MAX_DELAY_S (a day to spare for zones like -14:00).
    max_year = ((now or utcnow()) + datetime.timedelta(seconds=MAX_DELAY_S - 86400)).year - 1
    return {
        "openapi": OPENAPI_VERSION,
        "info": {"title": "deferred", "version": version, "description": _DESCRIPTION.format(
            max_body_bytes=config.max_body_bytes, sync_wait_s=config.sync_wait_s)},
        "servers": [{"url": base_url}],
        "security": [{}, *({scheme: []} for scheme in SECURITY_SCHEMES)],
        "paths": _paths(),
        "components": {
            "schemas": {**shared_schemas(), **params_schemas(task_types),
                        "TaskTypeName": task_name_schema(task_types)},
            "requestBodies": {"Submit": submit_body(task_types, max_year),
                              "Chain": chain_body(task_types)},
            "responses": error_responses(),
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer",
                           "description": "An API token: `Authorization: Bearer TOKEN`."},
                "session": {"type": "apiKey", "in": "cookie", "name": "deferred_session",
                            "description": "The web UI's session cookie."}},
        },
    }


_DESCRIPTION = """\
Deferred tasks over HTTP. Every answer is JSON except a result file, the metrics and the web \
UI; every error is `{{"status": "ERROR", "error_code", "error_msg", "error_where"?}}` with a \
code from the table in deferred's docs/errors.md. A known path with another method is 405 \
(107, with `Allow`); any other path is 404 (104); a bug in deferred is 500 (999), its \
details only in the log. Request bodies are at most {max_body_bytes} bytes; a submit \
without email waits at most {sync_wait_s} s for its result."""


def package_version() -> str:
    """deferred's version as installed, for the document's `info.version`."""
    try:
        return importlib.metadata.version("deferred")
    except importlib.metadata.PackageNotFoundError:
        return "0"


def _json(schema: Mapping[str, Any], description: str = "OK",
          headers: Mapping[str, Any] | None = None) -> dict[str, Any]:
    response: dict[str, Any] = {"description": description,
                                "content": {"application/json": {"schema": dict(schema)}}}
    if headers:
        response["headers"] = dict(headers)
    return response


def _errors(*names: str, access: tuple[str, ...] = ("Unauthorized", "Forbidden")
            ) -> dict[str, Any]:
    """Responses by status for the named `ERROR_RESPONSES`, and those of the access check
    (401 and 403 for a route that needs a role)."""
    out: dict[str, Any] = {}
    for name in (*access, *names):
        out[str(ERROR_RESPONSES[name][0])] = {"$ref": f"#/components/responses/{name}"}
    return out


def _operation(operation_id: str, summary: str, responses: Mapping[str, Any],
               **extra: Any) -> dict[str, Any]:
    return {"operationId": operation_id, "summary": summary, **extra,
            "responses": dict(sorted(responses.items()))}


def _task_id_parameter() -> dict[str, Any]:
    return {"name": "task_id", "in": "path", "required": True,
            "schema": {"type": "integer", "minimum": 1, "maximum": MAX_TASK_ID}}


def _paths() -> dict[str, Any]:
    submit = _submit_operation
    record = _json(ref("TaskRecord"), "The task record.")
    task_id = [_task_id_parameter()]
    return {
        "/": {"get": _operation("webUi", "The web UI's overview page (HTML; a browser "
                                "refused gets the login form or an error page instead).", {
                  "200": {"description": "The page.",
                          "content": {"text/html": {"schema": {"type": "string"}}}},
                  **_errors()}),
              "post": submit("submitTaskAtRoot", "Submit a task (as POST /api/tasks).")},
        "/api/tasks": {
            "post": submit("submitTask", "Submit a task; wait for it unless it has an email."),
            "get": _list_operation()},
        "/api/tasks/{task_id}": {"get": _operation(
            "getTask", "Read a task record.",
            {"200": record, **_errors("NotFound", "Unavailable")}, parameters=task_id)},
        "/api/tasks/{task_id}/cancel": {"post": _operation(
            "cancelTask", "Cancel a queued task, or ask a running one to stop.",
            {"200": record, **_errors("NotFound", "Unavailable")}, parameters=task_id)},
        "/api/tasks/{task_id}/retry": {"post": _operation(
            "retryTask", "Queue a failed, timed-out or cancelled task again (any other "
            "status is 409).", {"200": record, **_errors("NotFound", "Conflict",
                                                         "Unavailable")},
            parameters=task_id)},
        "/api/tasks/bulk": {"post": bulk_operation(
            any_case_pattern(status_words()),
            _errors("BadRequest", "TooLarge", "NotJson", "Unavailable"))},
        "/api/chains": {"post": _operation(
            "submitChain", "Submit tasks that run one after another, each once the one "
            "before succeeded; answers the first task's id at once.",
            {"200": _json({"allOf": [ref("Submitted"), object_schema(["url"], url={
                "type": "string", "format": "uri"})]}, "The first task is stored."),
             **_errors("BadRequest", "UnknownTask", "TooLarge", "NotJson", "Unprocessable",
                       "Unavailable")},
            requestBody={"$ref": "#/components/requestBodies/Chain"})},
        **_other_paths()}


def _other_paths() -> dict[str, Any]:
    return {
        "/api/audit": {"get": _audit_operation()},
        **_token_paths(),
        "/api/task-types": {"get": _operation(
            "listTaskTypes", "The registered tasks, their schemas, limits and pauses.",
            {"200": _json(ref("TaskTypes")), **_errors()})},
        "/api/servers": {"get": servers_operation(_errors("Unavailable"))},
        "/api/stats": {"get": stats_operation(_errors("BadRequest", "UnknownTask",
                                                      "Unavailable"))},
        **_pause_paths(),
        "/results/{token}": {"get": _operation(
            "getResultFile", "Download a result file (its link is its capability).",
            {"200": {"description": "The file, as an attachment, with its own type.",
                     "content": {"*/*": {"schema": {}}}},
             **_errors("NotFound", "Unavailable", access=("Unauthorized",))},
            parameters=[{"name": "token", "in": "path", "required": True,
                         "schema": {"type": "string"}}])},
        "/healthz": {"get": _operation(
            "health", "200 while the server takes work and its database answers.",
            {"200": _json(ref("Health")), **_errors("Unhealthy", access=())},
            security=[{}])},
        "/metrics": {"get": _operation(
            "metrics", "Prometheus' text format.",
            {"200": {"description": "The metrics.",
                     "content": {"text/plain": {"schema": {"type": "string"}}}},
             **_errors("Unavailable")})},
        "/api/openapi.json": {"get": _operation(
            "openapi", "This document.",
            {"200": _json({"type": "object", "required": ["openapi", "info", "paths"]}),
             **_errors()})},
    }


def _submit_operation(operation_id: str, summary: str) -> dict[str, Any]:
    url = {"type": "string", "format": "uri"}
    return _operation(operation_id, summary, {
        "200": _json({"anyOf": [ref("Succeeded"), ref("Submitted"), ref("Cancelled")]},
                     "Succeeded (with its result), stored with an email (the result goes "
                     "by email), or cancelled while waiting."),
        "202": _json(ref("Pending"), "Still queued or running when the wait was over: "
                     "poll `url`.", headers={"Location": {"required": True, "schema": url}}),
        "500": _json({"anyOf": [ref("TaskFailed"), error_schema((ErrorCode.INTERNAL,))]},
                     "The task raised or timed out (200, with its task_id)."),
        **_errors("BadRequest", "UnknownTask", "TooLarge", "NotJson", "Unprocessable",
                  "Unavailable"),
    }, requestBody={"$ref": "#/components/requestBodies/Submit"})


def _query(name: str, description: str, schema: Mapping[str, Any]) -> dict[str, Any]:
    """A query parameter; an empty value is the same as none, as the server reads them."""
    return {"name": name, "in": "query", "description": description,
            "schema": dict(schema), "allowEmptyValue": True}


def _audit_operation() -> dict[str, Any]:
    ids = {"type": "string", "pattern": CURSOR_PATTERN}
    parameters = [_query("task_id", "Only the entries of this task.", ids), _limit_parameter(),
                  _query("cursor", "The next_cursor of the page before.", ids)]
    entry = object_schema(
        ["id", "at", "actor", "role", "address", "action", "task_id", "task_name", "detail"],
        id={"type": "integer"}, at={"type": "string", "format": "date-time"},
        actor={"type": "string"}, role={"type": "string"}, address={"type": "string"},
        action={"enum": [action.value for action in AuditAction]},
        task_id={"type": ["integer", "null"]}, task_name={"type": ["string", "null"]},
        detail={"type": "string"})
    page = object_schema(["entries", "next_cursor"], entries={"type": "array", "items": entry},
                         next_cursor={"type": ["string", "null"]})
    return _operation("auditLog", "The audit log (launches, cancels, retries, logins), "
                      "newest first; needs the admin role.",
                      {"200": _json(page), **_errors("BadRequest", "Unavailable")},
                      parameters=parameters)


def _token_paths() -> dict[str, Any]:
    name = {"type": "string", "pattern": f"^{TOKEN_NAME.pattern}$"}
    role = {"enum": list(ROLE_LABELS)}
    listed = object_schema(
        ["name", "role", "source", "created_at", "created_by"], name={"type": "string"},
        role=role, source={"enum": ["config", "database"]},
        created_at={"type": ["string", "null"], "format": "date-time"},
        created_by={"type": ["string", "null"]})
    made = object_schema(["status", "name", "role", "token"], status={"const": "OK"},
                         name={"type": "string"}, role=role, token={"type": "string"})
    body = {"required": True, "content": {"application/json": {"schema": {
        "type": "object", "additionalProperties": False, "required": ["name"],
        "properties": {"name": name, "role": role}}}}}
    return {
        "/api/tokens": {
            "get": _operation("listTokens", "Every API token by name and role (never a "
                              "hash); needs the admin role.", {
                                  "200": _json(object_schema(["tokens"], tokens={
                                      "type": "array", "items": listed})),
                                  **_errors("Unavailable")}),
            "post": _operation("createToken", "Make an API token, kept by its hash; the "
                               "answer shows the token this once. Needs the admin role.", {
                                   "201": _json(made, "The token is made."),
                                   **_errors("BadRequest", "Conflict", "TooLarge", "NotJson",
                                             "Unavailable")}, requestBody=body)},
        "/api/tokens/{name}": {"delete": _operation(
            "revokeToken", "Revoke a token made over HTTP: it stops working at once (one of "
            "config.json is 409). Needs the admin role.", {
                "200": _json(object_schema(["status", "name"], status={"const": "OK"},
                                           name={"type": "string"})),
                **_errors("NotFound", "Conflict", "Unavailable")},
            parameters=[{"name": "name", "in": "path", "required": True,
                         "schema": {"type": "string"}}])},
    }


def _pause_paths() -> dict[str, Any]:
    name = [{"name": "name", "in": "path", "required": True, "schema": ref("TaskTypeName")}]
    answer = {"200": _json(ref("TaskType"), "The task type, as it is now."),
              **_errors("UnknownTaskType", "Unavailable")}
    return {
        "/api/task-types/{name}/pause": {"post": _operation(
            "pauseTaskType", "Pause a task type on every server: its queued tasks wait "
            "(submits are still stored), its running ones finish, none starts once this is "
            "answered. Pausing a paused type changes nothing. Needs the admin role.",
            answer, parameters=name)},
        "/api/task-types/{name}/resume": {"post": _operation(
            "resumeTaskType", "Resume a paused task type: its queued tasks start. Resuming "
            "one not paused changes nothing. Needs the admin role.", answer,
            parameters=name)},
    }


def _limit_parameter() -> dict[str, Any]:
    return _query("limit", "How many on a page.", {"type": "integer", "minimum": 1,
                                                    "maximum": MAX_LIMIT,
                                                    "default": DEFAULT_LIMIT})


def any_case_pattern(words: Sequence[str]) -> str:
    """A regex of exactly these words in any case (ECMA regexes have no inline flags)."""
    def any_case(word: str) -> str:
        return "".join(f"[{char.upper()}{char.lower()}]" if char.isalpha() else char
                       for char in word)
    return "^(" + "|".join(any_case(word) for word in words) + ")$"


def _list_operation() -> dict[str, Any]:
    parameters = [
        _query("status", "Only records in this status, `finished` for every finished one, "
               "`all` (or none) for every record; any case.",
               {"type": "string", "pattern": any_case_pattern(STATUS_FILTERS)}),
        _query("task_name", "Only records of this task.", {"type": "string"}),
        _limit_parameter(),
        _query("cursor", "The next_cursor of the page before.",
               {"type": "string", "pattern": CURSOR_PATTERN})]
    page = {"type": "object", "required": ["tasks", "next_cursor"], "properties": {
        "tasks": {"type": "array", "items": ref("TaskRecord")},
        "next_cursor": {"type": ["string", "null"]}}}
    return _operation("listTasks", "Task records, newest first, a page at a time.",
                      {"200": _json(page), **_errors("BadRequest", "Unavailable")},
                      parameters=parameters)
