"""Queries that read task records: each a function of a connection, run by `SqlTaskStore`
in a read-only transaction."""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from ..records import QueueDepth, StoredFile, TaskRecord, TaskStatus
from .outbox import deliveries
from .rows import (CLAIMED_COLUMNS, FILE_COLUMNS, attempt_from_row, claimed_record,
                   group_files, record_from_row, stored_file_from_row)
from .schema import firings, task_attempts, task_files, tasks


def get_record(conn: sa.Connection, task_id: int) -> TaskRecord | None:
    """The record with its files, email delivery, history and children, or None."""
    row = conn.execute(sa.select(tasks).where(tasks.c.id == task_id)).one_or_none()
    if row is None:
        return None
    files = conn.execute(sa.select(*FILE_COLUMNS).where(task_files.c.task_id == task_id)).all()
    delivery = deliveries(conn, [task_id]).get(task_id)
    history = conn.execute(sa.select(task_attempts).where(task_attempts.c.task_id == task_id)
                           .order_by(task_attempts.c.id)).all()
    children = conn.execute(sa.select(tasks.c.id).where(tasks.c.parent_id == task_id)
                            .order_by(tasks.c.id)).scalars().all()
    return dataclasses.replace(record_from_row(row, group_files(files).get(task_id, [])),
                               email_delivery=delivery, children=tuple(children),
                               history=tuple(attempt_from_row(item) for item in history))


def list_query(*, status: TaskStatus | None, name: str | None, limit: int,
               before_id: int | None, finished: bool, text: str | None,
               ignore_case_by_like: bool) -> sa.Select[Any]:
    """The task rows of a list, newest first (see `SqlTaskStore.list`)."""
    query = sa.select(tasks).order_by(tasks.c.id.desc()).limit(limit)
    if status is not None:
        query = query.where(tasks.c.status == TaskStatus(status).value)
    if finished:
        # "Not unfinished" rather than "in the terminal statuses": the planner then walks the
        # primary key newest first and stops at `limit`, instead of reading every finished
        # row through the status index and sorting them.
        query = query.where(tasks.c.status.not_in(
            [status.value for status in TaskStatus if not status.is_terminal]))
    if text:
        query = query.where(text_matches(text, ignore_case_by_like=ignore_case_by_like))
    if name is not None:
        query = query.where(tasks.c.name == name)
    if before_id is not None:
        query = query.where(tasks.c.id < before_id)
    return query


def list_records(conn: sa.Connection, query: sa.Select[Any]) -> list[TaskRecord]:
    """The records `query` selects, with their files and email deliveries."""
    rows = conn.execute(query).all()
    ids = [row.id for row in rows]
    files = group_files(conn.execute(
        sa.select(*FILE_COLUMNS).where(task_files.c.task_id.in_(ids))).all()) if ids else {}
    delivered = deliveries(conn, ids)
    return [dataclasses.replace(record_from_row(row, files.get(row.id, [])),
                                email_delivery=delivered.get(row.id)) for row in rows]


def text_matches(text: str, *, ignore_case_by_like: bool) -> sa.ColumnElement[bool]:
    """Records whose name, params, result or error message contain `text` in any case, or
    whose id is `text`. Scans rows: fine for pages of tens, the price of no search index.

    SQLite's LIKE already ignores the case of ASCII letters (`ignore_case_by_like`), where
    ILIKE would add `lower()` on every column of every row; PostgreSQL needs ILIKE.
    """
    pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    found = sa.or_(*(
        column.like(pattern, escape="\\") if ignore_case_by_like
        else column.ilike(pattern, escape="\\")
        for column in (tasks.c.name, tasks.c.params, tasks.c.result, tasks.c.error_message)))
    if text.isdigit() and len(text) < 19:
        found = sa.or_(found, tasks.c.id == int(text))
    return found


def pending_counts(conn: sa.Connection) -> dict[tuple[str, TaskStatus], int]:
    """How many records are queued and running, per task name."""
    unfinished = (TaskStatus.QUEUED.value, TaskStatus.RUNNING.value)
    rows = conn.execute(sa.select(tasks.c.name, tasks.c.status, sa.func.count())
                        .where(tasks.c.status.in_(unfinished))
                        .group_by(tasks.c.name, tasks.c.status)).all()
    return {(name, TaskStatus(status)): count for name, status, count in rows}


def queue_depths(conn: sa.Connection, now: datetime.datetime) -> dict[str, QueueDepth]:
    """Per task name, how many records are queued (may start by `now`), delayed (a start
    time after `now`) and running; names with none are left out."""
    queued, running = TaskStatus.QUEUED.value, TaskStatus.RUNNING.value
    is_delayed = sa.and_(tasks.c.status == queued, tasks.c.run_at.is_not(None),
                         tasks.c.run_at > now)
    rows = conn.execute(
        sa.select(tasks.c.name, tasks.c.status, is_delayed.label("delayed"), sa.func.count())
        .where(tasks.c.status.in_((queued, running)))
        .group_by(tasks.c.name, tasks.c.status, is_delayed)).all()
    counts: dict[str, dict[str, int]] = {}
    for name, status, delayed, count in rows:
        kind = "running" if status == running else "delayed" if delayed else "queued"
        by_kind = counts.setdefault(name, {})
        by_kind[kind] = by_kind.get(kind, 0) + count
    return {name: QueueDepth(**by_kind) for name, by_kind in counts.items()}


def read_file(conn: sa.Connection, token: str) -> tuple[StoredFile, bytes] | None:
    """A result file and its content by its token, or None."""
    row = conn.execute(sa.select(*FILE_COLUMNS, task_files.c.data)
                       .where(task_files.c.token == token)).one_or_none()
    return None if row is None else (stored_file_from_row(row), bytes(row.data))


def next_run_at(conn: sa.Connection, now: datetime.datetime) -> datetime.datetime | None:
    """When the earliest delayed queued record becomes due, if any is not yet."""
    return conn.execute(sa.select(sa.func.min(tasks.c.run_at)).where(
        tasks.c.status == TaskStatus.QUEUED.value, tasks.c.run_at > now)).scalar_one()


def last_firing(conn: sa.Connection, name: str) -> datetime.datetime | None:
    """The time of the latest stored firing of the periodic task `name`."""
    return conn.execute(sa.select(sa.func.max(firings.c.fire_at))
                        .where(firings.c.schedule == name)).scalar_one()


def cancel_requests(conn: sa.Connection, task_ids: Sequence[int]) -> list[int]:
    """Which of these records, running, were asked to stop."""
    return list(conn.execute(sa.select(tasks.c.id).where(
        tasks.c.id.in_(list(task_ids)), tasks.c.cancel_requested.is_(True),
        tasks.c.status == TaskStatus.RUNNING.value)).scalars())


def running_here(conn: sa.Connection, task_ids: Sequence[int], owner: str
                 ) -> dict[int, TaskRecord]:
    """The records of these ids that run here, as a claim returned them, by id."""
    rows = conn.execute(sa.select(*CLAIMED_COLUMNS).where(
        tasks.c.id.in_(list(task_ids)), tasks.c.status == TaskStatus.RUNNING.value,
        tasks.c.owner == owner)).all()
    return {row.id: claimed_record(row, owner, None) for row in rows}
