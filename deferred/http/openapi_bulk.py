"""The OpenAPI operation of `POST /api/tasks/bulk` (see `bulkrequest`): its body, exactly
one of `ids` and `filter`, and its answer. A pure function, like the rest of `openapi`."""

from __future__ import annotations

from typing import Any

from ..bulk import MAX_BULK_IDS, BulkAction
from ..records import MAX_TASK_ID, TaskStatus
from .bulkrequest import FINISHED, MAX_FILTER_CHARS
from .openapi_schemas import NO_CONTROL_PATTERN, object_schema

# A lone surrogate is no UTF-8 character: the server refuses it (a driver would).
_FILTER_TEXT = {"type": ["string", "null"], "maxLength": MAX_FILTER_CHARS,
                "pattern": NO_CONTROL_PATTERN}


def bulk_operation(status_pattern: str, responses: dict[str, Any]) -> dict[str, Any]:
    """The operation, with the error `responses` the caller's table gives; `status_pattern`
    matches the statuses (and `finished`) in any case."""
    count = {"type": "integer", "minimum": 0}
    answer = object_schema(
        ["status", "action", "matched", "changed", "skipped", "not_found"],
        status={"const": "OK"}, action={"enum": [action.value for action in BulkAction]},
        matched=count, changed=count, skipped=count, not_found=count)
    body = {
        "type": "object", "additionalProperties": False, "required": ["action"],
        "properties": {
            "action": {"enum": [action.value for action in BulkAction],
                       "description": "cancel (queued and running tasks: a running one is "
                                      "asked to stop) and retry (failed, cancelled, timed "
                                      "out) need the submit role; delete (finished tasks) "
                                      "needs admin."},
            "ids": {"type": "array", "minItems": 1, "maxItems": MAX_BULK_IDS,
                    "items": {"type": "integer", "minimum": 1, "maximum": MAX_TASK_ID}},
            "filter": {
                "type": "object", "additionalProperties": False,
                "description": "The task list's filters; null or left out: any. No filter "
                               "at all takes every task.",
                "properties": {
                    "status": {"type": ["string", "null"], "pattern": status_pattern,
                               "description": f"A status in any case, or {FINISHED!r} for "
                                              "every finished one."},
                    "task_name": {**_FILTER_TEXT, "minLength": 1},
                    "q": {**_FILTER_TEXT, "description": "Text in the id, task name, "
                                                         "params, result or error message, "
                                                         "in any case."}}}},
        "oneOf": [{"required": ["ids"]}, {"required": ["filter"]}]}
    return {
        "operationId": "bulkTasks",
        "summary": "Cancel, retry or delete many tasks, by ids or by filter, in batches; "
                   "answers how many matched, changed and were skipped (the action does not "
                   "apply to their status) and how many ids no task has.",
        "requestBody": {"required": True, "content": {"application/json": {"schema": body}}},
        "responses": dict(sorted({
            "200": {"description": "Done.",
                    "content": {"application/json": {"schema": answer}}},
            **responses}.items()))}


def status_words() -> list[str]:
    """The words a filter's `status` may be (in any case)."""
    return [*(status.value for status in TaskStatus), FINISHED]
