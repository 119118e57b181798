"""The query strings of `GET /api/tasks` and `GET /api/audit`: filters, page size and the
cursor, checked."""

from __future__ import annotations

import dataclasses
import re
import urllib.parse
from collections.abc import Sequence

from ..errors import BadRequestError, shown
from ..records import TaskRecord, TaskStatus

DEFAULT_LIMIT = 50
MAX_LIMIT = 500
PARAMETERS = ("status", "task_name", "limit", "cursor")
AUDIT_PARAMETERS = ("task_id", "limit", "cursor")
ALL, FINISHED = "all", "finished"
STATUS_FILTERS = (*(status.value for status in TaskStatus), FINISHED, ALL)
_CURSOR = re.compile(r"[1-9][0-9]{0,17}")  # a task id, below 2**63
_LIMIT = re.compile(r"[0-9]{1,4}")


@dataclasses.dataclass(frozen=True)
class ListQuery:
    """One page request: filters, how many records, and the id to list below."""

    status: TaskStatus | None = None
    task_name: str | None = None
    limit: int = DEFAULT_LIMIT
    before_id: int | None = None
    finished: bool = False  # only finished records (`status=finished`)


@dataclasses.dataclass(frozen=True)
class AuditQuery:
    """One page of the audit log: of one task or all, how many entries, below which id."""

    task_id: int | None = None
    limit: int = DEFAULT_LIMIT
    before_id: int | None = None


def parse_list_query(query_string: str) -> ListQuery:
    """Check `status=&task_name=&limit=&cursor=`. Raises `BadRequestError` naming the
    parameter and what it accepts. An empty value is the same as none."""
    values = _query_values(query_string, PARAMETERS)
    status, finished = status_arguments(parse_status_filter(values.get("status", "")))
    return ListQuery(status=status, finished=finished,
                     task_name=values.get("task_name") or None,
                     limit=parse_limit(values.get("limit", "")),
                     before_id=parse_cursor(values.get("cursor", "")))


def parse_audit_query(query_string: str) -> AuditQuery:
    """Check `task_id=&limit=&cursor=` of the audit log. Raises `BadRequestError`."""
    values = _query_values(query_string, AUDIT_PARAMETERS)
    task_id = values.get("task_id", "")
    if task_id and not _CURSOR.fullmatch(task_id):
        raise BadRequestError(f"{task_id!r} is not a task id", where="query.task_id")
    return AuditQuery(task_id=int(task_id) if task_id else None,
                      limit=parse_limit(values.get("limit", "")),
                      before_id=parse_cursor(values.get("cursor", "")))


def _query_values(query_string: str, allowed: Sequence[str]) -> dict[str, str]:
    values: dict[str, str] = {}
    for name, value in urllib.parse.parse_qsl(query_string, keep_blank_values=True,
                                              encoding="utf-8", errors="replace"):
        if name not in allowed:
            raise BadRequestError(f"unknown parameter (allowed: {', '.join(allowed)})",
                                  where=f"query.{shown(name)}")
        if name in values:
            raise BadRequestError("given more than once", where=f"query.{name}")
        values[name] = value  # as sent: the OpenAPI document allows no blanks either
    return values


def parse_status_filter(text: str) -> str:
    """A status filter of the API and the UI's task list, from any case, as one of
    `STATUS_FILTERS` ("all", "finished" or a status's value); "" for an empty one. Raises
    `BadRequestError` listing them."""
    if not text:
        return ""
    word = text.upper()
    if word in TaskStatus.__members__:
        return TaskStatus(word).value
    if text.lower() in (ALL, FINISHED):
        return text.lower()
    raise BadRequestError(f"{text!r} is not a status (allowed: {', '.join(STATUS_FILTERS)})",
                          where="query.status")


def status_arguments(word: str) -> tuple[TaskStatus | None, bool]:
    """The `status` and `finished` arguments of `RecordReader.list` for a word
    `parse_status_filter` returned: "" and "all" list every record."""
    if word == FINISHED:
        return None, True
    return (TaskStatus(word) if word in TaskStatus.__members__ else None), False


def parse_limit(text: str) -> int:
    """A page size from 1 to `MAX_LIMIT`, `DEFAULT_LIMIT` when empty. Raises
    `BadRequestError`."""
    if not text:
        return DEFAULT_LIMIT
    if not _LIMIT.fullmatch(text) or not 1 <= int(text) <= MAX_LIMIT:
        raise BadRequestError(f"{text!r} is not a whole number from 1 to {MAX_LIMIT}",
                              where="query.limit")
    return int(text)


def parse_cursor(text: str) -> int | None:
    """The id a cursor stands for, or None when empty. Raises `BadRequestError`."""
    if not text:
        return None
    if not _CURSOR.fullmatch(text):
        raise BadRequestError(f"{text!r} is not a cursor: pass the next_cursor of the page "
                              "before, or leave it out for the first page",
                              where="query.cursor")
    return int(text)


def next_cursor(records: Sequence[TaskRecord], limit: int) -> str | None:
    """The cursor of the page after `records`, fetched with `limit + 1` to know if there is
    one; None on the last page."""
    if len(records) <= limit:
        return None
    return str(records[limit - 1].id)
