"""`POST /api/tasks/bulk`: its JSON body checked into a `BulkAction` and a `TaskSelection`,
the role each action needs, and the answer.

`{"action": "cancel" | "retry" | "delete", "ids": [3, 4]}` or `{"action": ..., "filter":
{"status"?, "task_name"?, "q"?}}`: exactly one of `ids` and `filter`, with the filters of the
task list (`status` any case, or `finished` for every finished status; null or left out:
any).
"""

from __future__ import annotations

import re
from typing import Any

from ..access.identity import Role
from ..bulk import MAX_BULK_IDS, BulkAction, BulkCounts, TaskSelection
from ..errors import BadRequestError, ForbiddenError, shown
from ..jsontext import json_type_name, parse_json_object
from ..records import MAX_TASK_ID, TaskStatus
from .auth import current_principal

BULK_KEYS = ("action", "ids", "filter")
FILTER_KEYS = ("status", "task_name", "q")
FINISHED = "finished"  # the filter of every finished status, as the task list's default
MAX_FILTER_CHARS = 200
BULK_ROLES = {BulkAction.CANCEL: Role.SUBMIT, BulkAction.RETRY: Role.SUBMIT,
              BulkAction.DELETE: Role.ADMIN}
"""The role each bulk action needs: cancel and retry as their single actions, delete (which
nothing undoes) an admin's."""
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")


def parse_bulk(body: bytes) -> tuple[BulkAction, TaskSelection]:
    """Check a bulk body. Raises `InvalidJsonError` (line and column) or `BadRequestError`
    naming the key."""
    raw = parse_json_object(body, where="body")
    unknown = [key for key in raw if key not in BULK_KEYS]
    if unknown:
        raise BadRequestError(f"unknown key {shown(unknown[0])!r} (allowed: "
                              f"{', '.join(BULK_KEYS)})", where="body")
    action = parse_action(raw.get("action"))
    if "ids" in raw and "filter" in raw:
        raise BadRequestError("give either 'ids' or 'filter', not both", where="body")
    if "ids" not in raw and "filter" not in raw:
        raise BadRequestError("'ids' or 'filter' is missing: a list of task ids, or an "
                              "object of status, task_name and q", where="body")
    if "ids" in raw:
        return action, TaskSelection(ids=_parse_ids(raw["ids"]))
    return action, _parse_filter(raw["filter"])


def parse_action(value: Any) -> BulkAction:
    """The action named by `value`. Raises `BadRequestError`."""
    allowed = ", ".join(action.value for action in BulkAction)
    if value is None:
        raise BadRequestError(f"'action' is missing: one of {allowed}", where="body")
    if not isinstance(value, str):
        raise BadRequestError(f"must be a string, got {json_type_name(value)}",
                              where="body.action")
    try:
        return BulkAction(value)
    except ValueError:
        raise BadRequestError(f"{shown(value)!r} is not an action (allowed: {allowed})",
                              where="body.action") from None


def _parse_ids(value: Any) -> tuple[int, ...]:
    if not isinstance(value, list):
        raise BadRequestError(f"must be a list of task ids, got {json_type_name(value)}",
                              where="body.ids")
    if not 1 <= len(value) <= MAX_BULK_IDS:
        raise BadRequestError(f"must hold 1 to {MAX_BULK_IDS} task ids, got {len(value)}; "
                              "select more by 'filter'", where="body.ids")
    ids = []
    for index, task_id in enumerate(value):
        if isinstance(task_id, float) and task_id.is_integer():
            task_id = int(task_id)  # JSON Schema's integer: 3.0 is one
        if isinstance(task_id, bool) or not isinstance(task_id, int) \
                or not 1 <= task_id <= MAX_TASK_ID:
            raise BadRequestError(f"must be a task id (a whole number from 1 to "
                                  f"{MAX_TASK_ID}), got {shown(repr(value[index]))[:40]}",
                                  where=f"body.ids[{index}]")
        ids.append(task_id)
    return tuple(ids)


def _parse_filter(value: Any) -> TaskSelection:
    if not isinstance(value, dict):
        raise BadRequestError(f"must be an object of {', '.join(FILTER_KEYS)}, got "
                              f"{json_type_name(value)}", where="body.filter")
    unknown = [key for key in value if key not in FILTER_KEYS]
    if unknown:
        raise BadRequestError(f"unknown key {shown(unknown[0])!r} (allowed: "
                              f"{', '.join(FILTER_KEYS)})", where="body.filter")
    status, name, text = (_filter_text(value, key) for key in FILTER_KEYS)
    if status is None or status.lower() == FINISHED:
        return TaskSelection(finished=status is not None, name=name, text=text or None)
    try:
        return TaskSelection(status=TaskStatus(status.upper()), name=name, text=text or None)
    except ValueError:
        allowed = ", ".join([*(item.value for item in TaskStatus), FINISHED])
        raise BadRequestError(f"{shown(status)!r} is not a status (allowed, in any case: "
                              f"{allowed})", where="body.filter.status") from None


def _filter_text(values: dict[str, Any], key: str) -> str | None:
    value = values.get(key)
    where = f"body.filter.{key}"
    if value is None:
        return None
    if not isinstance(value, str):
        raise BadRequestError(f"must be a string or null, got {json_type_name(value)}",
                              where=where)
    if key != "q" and not value:
        raise BadRequestError("must not be empty (null or left out: any)", where=where)
    if len(value) > MAX_FILTER_CHARS:
        raise BadRequestError(f"must be at most {MAX_FILTER_CHARS} characters, got "
                              f"{len(value)}", where=where)
    if _CONTROL.search(value) or not _is_utf8(value):
        raise BadRequestError(f"must hold no control characters: {shown(value)[:60]}",
                              where=where)
    return value


def _is_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")  # a lone surrogate would fail in the driver
    except UnicodeEncodeError:
        return False
    return True


def check_bulk_role(action: BulkAction) -> None:
    """Refuse `action` to a principal whose role is below what it needs (the route already
    asked for `submit`). Raises `ForbiddenError`."""
    needed = BULK_ROLES[action]
    principal = current_principal()
    if principal is not None and not principal.may(needed):
        raise ForbiddenError(f"{principal.name!r} has the role {principal.role.label!r}; a "
                             f"bulk {action} needs {needed.label!r}")


def bulk_json(action: BulkAction, counts: BulkCounts) -> dict[str, Any]:
    """The answer of a bulk action: what it matched, changed and skipped."""
    return {"status": "OK", "action": action.value, "matched": counts.matched,
            "changed": counts.changed, "skipped": counts.skipped,
            "not_found": counts.not_found}
