"""What one row of a task list shows (the task list, the overview's running and recent tasks):
the time that fits the record's status, and its result or error on one short line. Pure
functions; the templates escape every text these return."""

from __future__ import annotations

import dataclasses
import datetime
import re
from typing import Any

from ...records import TaskRecord, TaskStatus
from .pages import LIST_RESULT_CHARS, compact_json, cut

LINE_BREAK = " ↵ "  # where a multi-line text was joined into one line
_BREAKS = re.compile(r"[ \t]*(?:\r\n|[\r\n\v\f\u2028\u2029])\s*")


@dataclasses.dataclass(frozen=True)
class RowTime:
    """The moment a row shows and what it is: `finished`, `started`, `may start` (a start
    time still ahead) or `created`."""

    label: str
    moment: datetime.datetime | None


def row_time(record: TaskRecord, now: datetime.datetime) -> RowTime:
    """When a finished record finished, a running one started, a delayed one may start (its
    `run_at` is after `now`), and a queued one was created."""
    if record.status.is_terminal:
        return RowTime("finished", record.finished_at or record.created_at)
    if record.status is TaskStatus.RUNNING:
        return RowTime("started", record.started_at or record.created_at)
    if record.run_at is not None and record.run_at > now:
        return RowTime("may start", record.run_at)
    return RowTime("created", record.created_at)


def one_line(text: str) -> str:
    """The text on one line: each line break (with the blanks around it) becomes `↵`."""
    return _BREAKS.sub(LINE_BREAK, text.strip())


def list_result(result: Any) -> tuple[str, bool]:
    """A result as a list shows it: a string as is, anything else as compact JSON, on one
    line, cut at `LIST_RESULT_CHARS`; and whether it was cut (the row then links to the
    task's page, which shows the whole, indented)."""
    if result is None:
        return "", False
    text = result if isinstance(result, str) else compact_json(result)
    return cut(one_line(text), LIST_RESULT_CHARS)


def list_error(message: str) -> str:
    """An error message as a list shows it: on one line, cut at `LIST_RESULT_CHARS`."""
    return cut(one_line(message), LIST_RESULT_CHARS)[0]
