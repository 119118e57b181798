"""How task records and result files look in the API: pure functions, no bottle, no I/O."""

from __future__ import annotations

import datetime
import json
import urllib.parse
from collections.abc import Mapping, Sequence
from typing import Any

from ..access.audit import AuditEntry
from ..errors import TaskFailedError
from ..interfaces import TaskType
from ..links import file_url, task_url
from ..records import StoredFile, TaskRecord, TaskStatus

# RFC 5987 attr-char, beyond the letters, digits and "_.-~" that quote() always keeps.
_ATTR_CHAR_EXTRA = "!#$&+^`|"


def timestamp_json(moment: datetime.datetime | None) -> str | None:
    """ISO 8601 in UTC with a `Z` (`2024-05-01T12:00:00.250000Z`), or None.

    A naive datetime is taken to be UTC already.
    """
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.timezone.utc)
    utc = moment.astimezone(datetime.timezone.utc).replace(tzinfo=None)
    return utc.isoformat(timespec="microseconds") + "Z"


def file_json(stored: StoredFile, base_url: str) -> dict[str, Any]:
    """A result file as the API shows it: name, absolute URL, type and size."""
    return {"name": stored.name, "url": file_url(base_url, stored.token),
            "content_type": stored.content_type, "size_bytes": stored.size_bytes}


def error_json(record: TaskRecord) -> dict[str, str] | None:
    """A failed record's error as `{"type", "message"}`; the traceback stays on the server."""
    if record.error is None:
        return None
    return {"type": record.error.type, "message": record.error.message}


def record_json(record: TaskRecord, base_url: str) -> dict[str, Any]:
    """A task record as `GET /api/tasks/{id}` and the list show it."""
    return {
        "task_id": record.id,
        "task_name": record.name,
        "status": str(record.status),
        "params": record.params,
        "result": record.result,
        "files": [file_json(stored, base_url) for stored in record.files],
        "error": error_json(record),
        "attempts": record.attempts,
        "owner": record.owner,
        "email": record.email,
        "email_delivery": email_delivery_json(record),
        "parent_id": record.parent_id,
        "children": list(record.children),
        "chain_next": [{"task_name": step.task_name, "params": step.params}
                       for step in record.chain_next],
        "priority": record.priority,
        "run_at": timestamp_json(record.run_at),
        "cancel_requested": record.cancel_requested,
        "interruptions": record.interruptions,
        "progress": None if record.progress is None else {
            "percent": record.progress.percent, "message": record.progress.message},
        "history": [{"attempt": item.number, "status": str(item.status),
                     "error": None if item.error is None else {
                         "type": item.error.type, "message": item.error.message},
                     "started_at": timestamp_json(item.started_at),
                     "finished_at": timestamp_json(item.finished_at)}
                    for item in record.history],
        "created_at": timestamp_json(record.created_at),
        "started_at": timestamp_json(record.started_at),
        "finished_at": timestamp_json(record.finished_at),
    }


def email_delivery_json(record: TaskRecord) -> dict[str, Any] | None:
    """The state of the task's result email, or None when it has none (yet)."""
    delivery = record.email_delivery
    if delivery is None:
        return None
    return {
        "status": str(delivery.status),
        "recipient": delivery.recipient,
        "attempts": delivery.attempts,
        "last_error": delivery.last_error,
        "next_attempt_at": (timestamp_json(delivery.next_attempt_at)
                            if delivery.status.value == "PENDING" else None),
        "sent_at": timestamp_json(delivery.sent_at),
    }


def failure_message(record: TaskRecord) -> str:
    """One line saying which task failed and why: `task 'fail' failed: RuntimeError: boom`."""
    if record.error is None:
        return f"task {record.name!r} failed"
    message = " ".join(record.error.message.split())
    reason = f"{record.error.type}: {message}" if message else record.error.type
    return f"task {record.name!r} failed: {reason}"


def submit_answer(record: TaskRecord, base_url: str
                  ) -> tuple[int, dict[str, Any], dict[str, str]]:
    """The answer to a submit without email, from the record as it is after waiting:
    (HTTP status, body, headers)."""
    if record.status is TaskStatus.SUCCEEDED:
        body: dict[str, Any] = {"status": "OK", "task_id": record.id, "result": record.result}
        if record.files:
            body["files"] = [file_json(stored, base_url) for stored in record.files]
        return 200, body, {}
    if record.status in (TaskStatus.FAILED, TaskStatus.TIMED_OUT):
        failed = TaskFailedError(failure_message(record))
        return failed.http_status, {**failed.to_json(), "task_id": record.id}, {}
    url = task_url(base_url, record.id)
    if record.status is TaskStatus.CANCELLED:  # finished, but with no result to give
        return 200, {"status": "CANCELLED", "task_id": record.id, "url": url}, {}
    return 202, {"status": str(record.status), "task_id": record.id, "url": url}, {
        "Location": url}


def accepted_answer(record: TaskRecord) -> dict[str, Any]:
    """The answer to a submit with email: the record is stored, the result will be mailed."""
    return {"status": "OK", "task_id": record.id}


def task_types_json(task_types: Sequence[TaskType], global_limit: int) -> dict[str, Any]:
    """`GET /api/task-types`: the registered tasks with their limits."""
    return {
        "task_types": [task_type_json(item) for item in task_types],
        "limits": {"global": global_limit},
    }


def task_type_json(item: TaskType) -> dict[str, Any]:
    """One task type as the API shows it: with its limit, schedule and pause."""
    return {"name": item.name, "description": item.description,
            "json_schema": item.json_schema, "limit": item.limit,
            **({"schedule": item.schedule, "next_run_at": timestamp_json(item.next_run_at)}
               if item.schedule is not None else {}),
            "paused": item.paused, "paused_at": timestamp_json(item.paused_at),
            "paused_by": item.paused_by}


def audit_json(entry: AuditEntry) -> dict[str, Any]:
    """An audit entry as the API writes it."""
    return {"id": entry.id, "at": timestamp_json(entry.at), "actor": entry.actor.name,
            "role": entry.actor.role, "address": entry.actor.address,
            "action": entry.action.value, "task_id": entry.task_id,
            "task_name": entry.task_name, "detail": entry.detail}


def content_disposition(file_name: str) -> str:
    """`Content-Disposition: attachment` for a file name, per RFC 6266 and RFC 5987.

    `filename` carries an ASCII stand-in (quotes, backslashes, percent signs and anything
    outside printable ASCII become `_`); `filename*` carries the exact name in UTF-8.
    """
    fallback = "".join(
        char if " " <= char <= "~" and char not in '"\\%' else "_" for char in file_name)
    encoded = urllib.parse.quote(file_name, safe=_ATTR_CHAR_EXTRA, encoding="utf-8")
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{encoded}"


def plain_json(value: Any) -> Any:
    """`json.dumps(default=...)`: frozen mappings (a record's params, a schema) as objects.

    Raises `TypeError` for anything else JSON cannot carry.
    """
    if isinstance(value, Mapping):
        return dict(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def json_bytes(body: Mapping[str, Any]) -> bytes:
    """Compact UTF-8 JSON of an answer. Raises `TypeError` or `ValueError` for a value JSON
    cannot carry."""
    return json.dumps(body, ensure_ascii=False, allow_nan=False, default=plain_json,
                      separators=(",", ":")).encode("utf-8")
