"""The schemas of the OpenAPI document (see `openapi`): the answers, the error responses with
the codes each status carries, and the request bodies with each task's JSON Schema as the
params of its own branch. Pure functions, no bottle, no I/O."""

from __future__ import annotations

import types
from collections.abc import Mapping, Sequence
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.validators import validator_for

from ..errors import ErrorCode
from ..interfaces import TaskType
from ..patterns import EMAIL_ATOM, HOST_LABEL
from ..records import EmailStatus, TaskStatus
from ..scheduling.options import MAX_DELAY_S, MAX_KEY_CHARS, MAX_PRIORITY
from ..tasks.registry import TASK_NAME_PATTERN

SCHEMAS = "#/components/schemas/"
# What check_email_address takes: a dot-atom local part of at most 64 characters (a second
# pattern: generators cannot do lookaheads), '@', dot-separated LDH labels.
EMAIL_PATTERN = rf"^{EMAIL_ATOM}(\.{EMAIL_ATOM})*@{HOST_LABEL}(\.{HOST_LABEL})*$"
NO_CONTROL_PATTERN = "^[^\\u0000-\\u001f\\u007f-\\u009f]*$"  # no Cc character

# The error responses, each with the codes the server really answers with at that status.
ERROR_RESPONSES: Mapping[str, tuple[int, str, tuple[ErrorCode, ...]]] = types.MappingProxyType({
    "BadRequest": (400, "A malformed request (100) or bad JSON (103, with line and column).",
                   (ErrorCode.BAD_REQUEST, ErrorCode.INVALID_JSON)),
    "Unauthorized": (401, "No valid credentials, when authentication is configured (110).",
                     (ErrorCode.UNAUTHORIZED,)),
    "Forbidden": (403, "A browser post from another site (109), or a role that may not do "
                       "this (111).", (ErrorCode.CROSS_ORIGIN, ErrorCode.FORBIDDEN)),
    "NotFound": (404, "No task record or result file by that id or token (104).",
                 (ErrorCode.NOT_FOUND,)),
    "UnknownTask": (404, "No task has that name (101); the message lists the known ones.",
                    (ErrorCode.UNKNOWN_TASK,)),
    "UnknownTaskType": (404, ("No task type has that name (101; the message lists the known "
                              "ones), or the path names none (104)."),
                        (ErrorCode.UNKNOWN_TASK, ErrorCode.NOT_FOUND)),
    "Conflict": (409, "The task's status does not allow this (100).",
                 (ErrorCode.BAD_REQUEST,)),
    "TooLarge": (413, "The body is over http.max_body_bytes (105); it was not read.",
                 (ErrorCode.REQUEST_TOO_LARGE,)),
    "NotJson": (415, "The body is not declared as JSON, and does not parse as JSON (106).",
                (ErrorCode.UNSUPPORTED_MEDIA_TYPE,)),
    "Unprocessable": (422, "The params break the task's schema or run() (102), a bad email "
                           "address (108), or data the database cannot hold (504).",
                      (ErrorCode.INVALID_PARAMS, ErrorCode.INVALID_EMAIL,
                       ErrorCode.STORE_REJECTED)),
    "Unavailable": (503, "The database cannot be reached (500) or is full (501), or the "
                         "server is shutting down (502, with Retry-After: reads are still "
                         "served while its running tasks finish); nothing was stored.",
                    (ErrorCode.STORE_UNAVAILABLE, ErrorCode.STORE_FULL,
                     ErrorCode.SHUTTING_DOWN)),
    "Unhealthy": (503, "The server is stopping (502, with Retry-After), its database does not "
                       "answer (500), or its dispatcher stopped (999).",
                  (ErrorCode.STORE_UNAVAILABLE, ErrorCode.SHUTTING_DOWN, ErrorCode.INTERNAL)),
})


def ref(name: str) -> dict[str, str]:
    """A reference to a schema of the document's components."""
    return {"$ref": SCHEMAS + name}


def object_schema(required: Sequence[str], **properties: Any) -> dict[str, Any]:
    """An object with these properties, those in `required` required."""
    return {"type": "object", "required": list(required), "properties": properties}


def error_schema(codes: Sequence[ErrorCode]) -> dict[str, Any]:
    """The error shape with one of `codes`."""
    return {"allOf": [ref("Error"), {"properties": {"error_code": {
        "enum": [int(code) for code in codes]}}}]}


def error_responses() -> dict[str, Any]:
    """The document's `components.responses`: `ERROR_RESPONSES` in JSON; the 503s may carry
    `Retry-After` (the server is shutting down)."""
    retry_after = {"Retry-After": {
        "description": "Seconds to wait before trying again (this server, once started "
                       "again, or another one); sent with code 502.",
        "schema": {"type": "integer", "minimum": 1}}}
    return {name: {"description": description,
                   **({"headers": retry_after} if status == 503 else {}),
                   "content": {"application/json": {"schema": error_schema(codes)}}}
            for name, (status, description, codes) in ERROR_RESPONSES.items()}


def _nullable(schema: Mapping[str, Any]) -> dict[str, Any]:
    return {"anyOf": [dict(schema), {"type": "null"}]}


def shared_schemas() -> dict[str, Any]:
    """The schemas of the answers, for `components.schemas`."""
    integer, string = {"type": "integer"}, {"type": "string"}
    time = {"type": ["string", "null"], "format": "date-time"}
    url = {"type": "string", "format": "uri"}
    error = object_schema(["type", "message"], type=string, message=string)
    statuses = [status.value for status in TaskStatus]
    return {
        "Error": object_schema(["status", "error_code", "error_msg"], status={"const": "ERROR"},
                               error_code=integer, error_msg=string, error_where=string),
        "TaskFailed": {"allOf": [ref("Error"), object_schema(
            ["task_id"], error_code={"const": int(ErrorCode.TASK_FAILED)}, task_id=integer)]},
        "File": object_schema(["name", "url", "content_type", "size_bytes"], name=string, url=url,
                              content_type=string, size_bytes={"type": "integer", "minimum": 0}),
        "Succeeded": object_schema(["status", "task_id", "result"], status={"const": "OK"},
                                   task_id=integer, result={},
                                   files={"type": "array", "items": ref("File")}),
        "Submitted": object_schema(["status", "task_id"], status={"const": "OK"}, task_id=integer),
        "Cancelled": object_schema(["status", "task_id", "url"], status={"const": "CANCELLED"},
                                   task_id=integer, url=url),
        "Pending": object_schema(
            ["status", "task_id", "url"], task_id=integer, url=url,
            status={"enum": [TaskStatus.QUEUED.value, TaskStatus.RUNNING.value]}),
        "TaskRecord": _record_schema(integer, string, time, error, statuses),
        "TaskTypes": object_schema(["task_types", "limits"], task_types={
            "type": "array", "items": ref("TaskType")},
            limits=object_schema(["global"], **{"global": integer})),
        "TaskType": object_schema(
            ["name", "description", "json_schema", "limit", "paused", "paused_at",
             "paused_by"], name=string, description=string,
            json_schema={"type": ["object", "null"]}, limit={"type": ["integer", "null"]},
            schedule=string, next_run_at=time, paused={"type": "boolean"}, paused_at=time,
            paused_by={"type": ["string", "null"]}),
        "Health": object_schema(["status", "server_id", "server", "store"], status={"const": "OK"},
                                server_id=string, server=string, store=string),
    }


def _record_schema(integer: Any, string: Any, time: Any, error: Any,
                   statuses: list[str]) -> dict[str, Any]:
    nullable_string = {"type": ["string", "null"]}
    email_delivery = object_schema(
        ["status", "recipient", "attempts", "last_error", "next_attempt_at", "sent_at"],
        status={"enum": [status.value for status in EmailStatus]}, recipient=string,
        attempts=integer, last_error=nullable_string, next_attempt_at=time, sent_at=time)
    attempt = object_schema(["attempt", "status", "error", "started_at", "finished_at"],
                            attempt=integer, status={"enum": statuses}, error=_nullable(error),
                            started_at=time, finished_at=time)
    step = object_schema(["task_name", "params"], task_name=string, params={"type": "object"})
    progress = object_schema(["percent", "message"], percent={"type": "number"},
                             message=nullable_string)
    properties = {
        "task_id": integer, "task_name": string, "status": {"enum": statuses},
        "params": {"type": "object"}, "result": {},
        "files": {"type": "array", "items": ref("File")}, "error": _nullable(error),
        "attempts": integer, "owner": nullable_string, "email": nullable_string,
        "email_delivery": _nullable(email_delivery), "parent_id": {"type": ["integer", "null"]},
        "children": {"type": "array", "items": integer},
        "chain_next": {"type": "array", "items": step}, "priority": integer, "run_at": time,
        "cancel_requested": {"type": "boolean"}, "interruptions": integer,
        "progress": _nullable(progress),
        "history": {"type": "array", "items": attempt},
        "created_at": time, "started_at": time, "finished_at": time}
    return {"type": "object", "required": list(properties), "properties": properties}


def task_name_schema(task_types: Sequence[TaskType]) -> dict[str, Any]:
    """The name of a registered task type (any task name when none is registered)."""
    if not task_types:
        return {"type": "string", "pattern": f"^{TASK_NAME_PATTERN}$"}
    return {"enum": [item.name for item in task_types]}


def params_schema_name(task_name: str) -> str:
    """The component under which a task's params schema is documented."""
    return f"params.{task_name}"


def params_schemas(task_types: Sequence[TaskType]) -> dict[str, Any]:
    """Each task's params schema, for `components.schemas`."""
    return {params_schema_name(item.name): _params_schema(item) for item in task_types}


def _params_schema(task_type: TaskType) -> dict[str, Any]:
    """The task's own schema, its local `$ref`s pointing where it now lives; a task without
    one takes any object (its run() signature still applies)."""
    if task_type.json_schema is None:
        return {"type": "object", "description": "Checked against the task's run()."}
    prefix = SCHEMAS + params_schema_name(task_type.name)
    # A schema with its own `$id` resolves its references against it: left alone.
    return dict(_plain(task_type.json_schema,
                       None if "$id" in task_type.json_schema else prefix))


def _plain(value: Any, ref_prefix: str | None) -> Any:
    """A deep copy in plain dicts and lists, with `#...` references moved under
    `ref_prefix` (None: left alone)."""
    if isinstance(value, Mapping):
        out = {key: _plain(item, ref_prefix) for key, item in value.items()}
        ref = out.get("$ref")
        if ref_prefix and isinstance(ref, str) and ref.startswith("#"):
            out["$ref"] = ref_prefix + ref[1:]
        return out
    if isinstance(value, (list, tuple)):
        return [_plain(item, ref_prefix) for item in value]
    return value


def _accepts_no_params(task_type: TaskType) -> bool:
    """True when `{}` (what a missing or null `params` becomes) passes the task's schema."""
    schema = task_type.json_schema
    if schema is None:
        return True
    plain = _plain(schema, None)
    try:
        return bool(validator_for(plain, default=Draft202012Validator)(plain).is_valid({}))
    except Exception:  # noqa: BLE001 (a $ref that resolves nowhere: the submit will say so)
        return False


def _params_property(task_type: TaskType) -> dict[str, Any]:
    schema = ref(params_schema_name(task_type.name))
    return _nullable(schema) if _accepts_no_params(task_type) else schema


def _email_schema() -> dict[str, Any]:
    return {"type": ["string", "null"], "maxLength": 254,
            "allOf": [{"pattern": EMAIL_PATTERN}, {"pattern": "^[^@]{1,64}@"}],
            "description": "Mail the result here instead of waiting for it: one plain "
                           "address, at most 64 characters before '@'."}


def years_pattern(max_year: int) -> str:
    """A regex of the four-digit years from 1000 to `max_year` (at least 2000)."""
    digits = str(max_year)
    below = [digits[:i] + f"[0-{int(digit) - 1}]" + "[0-9]" * (len(digits) - i - 1)
             for i, digit in enumerate(digits) if i > 0 and digit != "0"]
    return "(1[0-9]{3}|" + "|".join([*below, digits]) + ")"


def _submit_options(max_year: int) -> dict[str, Any]:
    """The submit keys beside task_name and params; null counts as left out."""
    seconds = {"type": ["number", "null"], "minimum": 0}
    return {
        "email": _email_schema(),
        "wait": {**seconds, "description": "Wait at most this long (and at most "
                                           "http.sync_wait_s); 0 answers 202 at once."},
        "delay_s": {**seconds, "maximum": MAX_DELAY_S},
        "run_at": {"type": ["string", "null"], "format": "date-time",
                   "pattern": f"^{years_pattern(max_year)}-",
                   "description": "Start no sooner: a time with its zone, less than ten years "
                                  "away (the pattern bounds the year)."},
        "priority": {"type": ["integer", "null"], "minimum": -MAX_PRIORITY,
                     "maximum": MAX_PRIORITY},
        "idempotency_key": {"type": ["string", "null"], "minLength": 1,
                            "maxLength": MAX_KEY_CHARS, "pattern": NO_CONTROL_PATTERN,
                            "description": "A key already used answers for the task stored "
                                           "under it (or send the Idempotency-Key header)."},
        "timeout_s": {"type": ["number", "null"], "exclusiveMinimum": 0,
                      "maximum": MAX_DELAY_S},
    }


# delay_s and run_at exclude each other (a null one counts as left out).
def _delay_or_run_at() -> list[dict[str, Any]]:
    return [{"properties": {"delay_s": {"type": "null"}}},
            {"properties": {"run_at": {"type": "null"}}}]


def _task_branch(task_type: TaskType, **more: Any) -> dict[str, Any]:
    required = ["task_name"] + ([] if _accepts_no_params(task_type) else ["params"])
    return {"type": "object", "title": task_type.name, "required": required,
            "additionalProperties": False,
            "properties": {"task_name": {"const": task_type.name},
                           "params": _params_property(task_type), **more}}


def _any_task() -> dict[str, Any]:
    """With no task registered every name is unknown (404)."""
    return {"type": "object", "required": ["task_name"],
            "properties": {"task_name": {"type": "string"}}}


def submit_body(task_types: Sequence[TaskType], max_year: int) -> dict[str, Any]:
    """The submit's request body: one branch per task (`run_at` years up to `max_year`)."""
    branches = [{**_task_branch(item, **_submit_options(max_year)), "anyOf": _delay_or_run_at()}
                for item in task_types]
    return {"required": True, "description": "Which task to run, with which params; one "
            "branch per registered task.", "content": {"application/json": {
                "schema": {"oneOf": branches} if branches else _any_task()}}}


def chain_body(task_types: Sequence[TaskType]) -> dict[str, Any]:
    """The chain's request body: steps, each a task and its params, and an email."""
    steps = [_task_branch(item) for item in task_types]
    body = {"type": "object", "required": ["steps"], "additionalProperties": False,
            "properties": {"steps": {"type": "array", "minItems": 1,
                                     "items": {"oneOf": steps} if steps else _any_task()},
                           "email": _email_schema()}}
    return {"required": True, "content": {"application/json": {"schema": body}}}
