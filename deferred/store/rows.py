"""Rows to frozen records, at the store's edge."""

from __future__ import annotations

import datetime
import json
from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa

from ..records import (Attempt, ChainStep, Progress, StoredFile, TaskError, TaskRecord,
                       TaskStatus)
from .schema import task_files, tasks

FILE_COLUMNS = (task_files.c.task_id, task_files.c.position, task_files.c.token,
                task_files.c.name, task_files.c.content_type, task_files.c.size_bytes)
"""A file row's columns but its data."""

CLAIMED_COLUMNS = (tasks.c.id, tasks.c.name, tasks.c.params, tasks.c.attempts, tasks.c.email,
                   tasks.c.priority, tasks.c.timeout_s, tasks.c.cancel_requested,
                   tasks.c.chain_next, tasks.c.parent_id, tasks.c.interruptions,
                   tasks.c.sort_key)
"""What a claim returns of each row: what its run and its finish need."""


def stored_file_from_row(row: sa.Row[Any]) -> StoredFile:
    """A file row (without its data) as a `StoredFile`."""
    return StoredFile(token=row.token, name=row.name, content_type=row.content_type,
                      size_bytes=row.size_bytes)


def record_from_row(row: sa.Row[Any], files: Sequence[StoredFile] = ()) -> TaskRecord:
    """A task row and its files as a `TaskRecord`."""
    error = None
    if row.error_type is not None:
        error = TaskError(type=row.error_type, message=row.error_message or "",
                          traceback=row.error_traceback or "")
    return TaskRecord(
        id=row.id, name=row.name, params=json.loads(row.params), status=TaskStatus(row.status),
        attempts=row.attempts, result=None if row.result is None else json.loads(row.result),
        error=error, owner=row.owner, email=row.email, created_at=row.created_at,
        started_at=row.started_at, finished_at=row.finished_at, files=tuple(files),
        run_at=row.run_at, priority=row.priority, cancel_requested=bool(row.cancel_requested),
        interruptions=row.interruptions, idempotency_key=row.idempotency_key, timeout_s=row.timeout_s,
        parent_id=row.parent_id, chain_next=chain_from_json(row.chain_next),
        progress=None if row.progress_percent is None else Progress(row.progress_percent,
                                                                    row.progress_message))


def attempt_from_row(row: sa.Row[Any]) -> Attempt:
    """A row of the attempts table as an `Attempt`."""
    error = None if row.error_type is None else TaskError(row.error_type,
                                                          row.error_message or "")
    return Attempt(number=row.number, status=TaskStatus(row.status), owner=row.owner,
                   started_at=row.started_at, finished_at=row.finished_at, error=error)


def group_files(rows: Iterable[sa.Row[Any]]) -> dict[int, list[StoredFile]]:
    """File rows, ordered by position, grouped by task id."""
    grouped: dict[int, list[StoredFile]] = {}
    for row in sorted(rows, key=lambda row: (row.task_id, row.position)):
        grouped.setdefault(row.task_id, []).append(stored_file_from_row(row))
    return grouped


def chain_from_json(text: str | None) -> tuple[ChainStep, ...]:
    """The stored steps of a chain (a JSON list of `{"task_name", "params"}`)."""
    if not text:
        return ()
    return tuple(ChainStep(step["task_name"], step["params"]) for step in json.loads(text))


def chain_to_json(steps: Sequence[ChainStep]) -> str | None:
    """Steps of a chain as stored; None for none."""
    if not steps:
        return None
    return json.dumps([{"task_name": step.task_name, "params": dict(step.params)}
                       for step in steps], ensure_ascii=False, separators=(",", ":"))


def claimed_record(row: Sequence[Any], owner: str,
                   started_at: datetime.datetime | None) -> TaskRecord:
    """The record of a row claimed by `owner` (its `CLAIMED_COLUMNS`), with what its run
    and its finish need."""
    task_id, name, params, attempts, email, priority, timeout_s, cancel_requested, \
        chain_next, parent_id, interruptions, _ = row
    return TaskRecord(id=task_id, name=name, params=json.loads(params),
                      status=TaskStatus.RUNNING, attempts=attempts, email=email,
                      owner=owner, started_at=started_at,
                      priority=priority, timeout_s=timeout_s,
                      cancel_requested=bool(cancel_requested), parent_id=parent_id,
                      interruptions=interruptions,
                      chain_next=chain_from_json(chain_next) if chain_next else ())
