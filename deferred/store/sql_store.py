"""`SqlTaskStore`: task records in SQL through SQLAlchemy Core, one transaction per method."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import logging
import math
import mimetypes
import secrets
import threading
import uuid
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import sqlalchemy as sa

from ..access.audit import Actor, AuditAction
from ..config import DbConfig, LimitsConfig
from ..jsontext import encode_json
from ..scheduling.options import SubmitOptions
from ..records import (ChainStep, EmailStatus, Outcome, PendingEmail, StoredFile,
                       TaskRecord, TaskStatus, utcnow)
from . import cluster
from .access import AccessRecords, audit_values, insert_audit
from .controls import PRIORITY_STEP_S, TaskControls
from . import outbox as outbox_sql
from ..errors import StoreRejectedError
from .engine import database_errors, make_engine
from .group_commit import GroupCommitter
from .lock import SqliteServerLock
from .rows import (attempt_from_row, chain_from_json, chain_to_json, group_files,
                   record_from_row, stored_file_from_row)
from .schema import ensure_schema, outbox, task_attempts, task_files, tasks
from .statements import build_hot_statements

logger = logging.getLogger(__name__)

CLAIM_PAGE_FACTOR = 4
FILE_TOKEN_BYTES = 32  # 256 bits: a link to a result file is an unguessable capability
_FILE_COLUMNS = (task_files.c.task_id, task_files.c.position, task_files.c.token,
                 task_files.c.name, task_files.c.content_type, task_files.c.size_bytes)


class SqlTaskStore(TaskControls, AccessRecords):
    """Task records in a SQL database (SQLite or PostgreSQL).

    Every public method is one transaction. Writes from this process go through one lock:
    SQLite's busy handler sleeps in steps up to 100 ms, so two writer threads would wait on
    each other far longer than on a lock. With `exclusive=True` on SQLite the store also takes
    the one-server lock. Raises `StoreUnavailableError`, `StoreFullError`, `ConfigError`,
    `ServerAlreadyRunningError` or `DatabaseVersionError`.
    """

    def __init__(self, config: DbConfig, *, server_id: str | None = None,
                 exclusive: bool = False, limits: LimitsConfig | None = None) -> None:
        self.server_id = server_id or uuid.uuid4().hex
        self._engine = make_engine(config.url)
        self._lease_s = config.lease_s
        self._limits = limits  # counted over every server on a shared database
        self._joined = False
        self._write_lock = threading.Lock()
        self._adds: GroupCommitter[tuple[dict[str, Any], Actor | None], TaskRecord] = \
            GroupCommitter(self._add_batch)
        self._hot = build_hot_statements()
        self._lock: SqliteServerLock | None = None
        try:
            with database_errors("prepare the database"):
                if exclusive and self._engine.dialect.name == "sqlite":
                    self._lock = SqliteServerLock(self._engine.url.database or "")
                    self._lock.acquire()
                ensure_schema(self._engine)
        except BaseException:
            self.close()
            raise

    @property
    def dialect(self) -> str:
        """`sqlite` or `postgresql`."""
        return self._engine.dialect.name

    @property
    def is_shared(self) -> bool:
        """True when several servers may use the database at once (PostgreSQL): quotas are
        counted in the database, and servers keep heartbeats."""
        return self.dialect == "postgresql"

    @property
    def url(self) -> sa.URL:
        """The database's URL (with its password, for a listening connection)."""
        return self._engine.url

    def join(self) -> None:
        """Announce this server with a heartbeat row (a shared database only)."""
        if self.is_shared:
            with self._write("announce the server") as conn:
                cluster.join(conn, self.server_id)
            self._joined = True

    def beat(self) -> bool:
        """Refresh this server's heartbeat. False when other servers had taken it for dead
        (its running tasks may have been queued again and taken elsewhere)."""
        if not self.is_shared:
            return True
        with self._write("refresh the heartbeat") as conn:
            return cluster.beat(conn, self.server_id, self._lease_s)

    @contextlib.contextmanager
    def _write(self, action: str) -> Iterator[sa.Connection]:
        with database_errors(action), self._write_lock, self._engine.begin() as conn:
            yield conn

    @contextlib.contextmanager
    def _read(self, action: str) -> Iterator[sa.Connection]:
        with database_errors(action), self._engine.connect() as conn:
            conn = conn.execution_options(read_only=True)
            with conn.begin():
                yield conn

    def add(self, name: str, params: Mapping[str, Any], email: str | None = None,
            options: SubmitOptions | None = None, *, running: bool = False,
            chain_next: Sequence[ChainStep] = (), actor: Actor | None = None) -> TaskRecord:
        """Store a new record and return it, committed: queued (not to start before
        `options.run_at` when given), or with `running` already running here (the caller
        holds a free slot for it, so it skips the queue). With an idempotency key already
        stored, nothing is added and the record stored under it is returned. With an `actor`,
        its audit entry (a launch, or a chain's) commits with the record.

        Threads adding at the same time share one transaction (group commit): a commit costs
        an fsync, and a request waiting for its own would wait for everyone else's.
        """
        options = options or SubmitOptions()
        now, run_at = utcnow(), options.run_at
        values: dict[str, Any] = {
            "name": name, "params": encode_json(params), "email": email, "created_at": now,
            "status": TaskStatus.QUEUED.value, "attempts": 0, "owner": None, "started_at": None,
            "run_at": run_at, "priority": options.priority,
            "idempotency_key": options.idempotency_key,
            "sort_key": (run_at or now).timestamp() - options.priority * PRIORITY_STEP_S,
            "cancel_requested": False, "timeout_s": options.timeout_s,
            "parent_id": options.parent_id, "chain_next": chain_to_json(chain_next)}
        if running:
            values.update(status=TaskStatus.RUNNING.value, attempts=1, owner=self.server_id,
                          started_at=now)
        if options.idempotency_key is not None:
            return self._add_once(values, actor)
        return self._adds.submit((values, actor))

    def _add_once(self, values: dict[str, Any], actor: Actor | None) -> TaskRecord:
        key = values["idempotency_key"]
        by_key = sa.select(tasks).where(tasks.c.idempotency_key == key)
        for _ in range(2):  # a second try finds the row a concurrent submit stored
            try:
                with self._write("store the task") as conn:
                    row = conn.execute(by_key).one_or_none()
                    if row is None:
                        row = conn.execute(tasks.insert().returning(*tasks.c), values).one()
                        if actor is not None:
                            insert_audit(conn, [_launch_audit(actor, row)])
                        if self.is_shared:
                            cluster.notify(conn)
                return self.get(row.id) or record_from_row(row)
            except StoreRejectedError:
                continue
        raise StoreRejectedError(f"cannot store the task under idempotency key {key!r}")

    def _add_batch(self, batch: Sequence[tuple[dict[str, Any], Actor | None]]
                   ) -> list[TaskRecord]:
        with self._write("store the task") as conn:
            rows = conn.execute(
                tasks.insert().returning(*tasks.c, sort_by_parameter_order=True),
                [values for values, _ in batch]).all()
            insert_audit(conn, [_launch_audit(actor, row)
                                for (_, actor), row in zip(batch, rows) if actor is not None])
            if self.is_shared:
                cluster.notify(conn)
        return [record_from_row(row) for row in rows]

    def claim(self, room: Mapping[str, int], total: int,
              finished: Sequence[Outcome] = ()) -> list[TaskRecord]:
        """Store `finished`, then mark up to `total` of the oldest queued records as running
        here, at most `room[name]` of each name and none of a name not in `room`: one
        transaction, so a finished batch and the next claim cost one commit."""
        with self._write("claim tasks") as conn:
            self._store_outcomes(conn, finished)
            if self.is_shared and total > 0:
                cluster.lock_claims(conn)
                if self._limits is not None:
                    room, total = cluster.cluster_room(conn, room, total, self._limits)
            ids = self._pick(conn, room, total) if total > 0 else []
            if self.is_shared and len(ids) < len(finished):
                # Slots freed here that this claim did not take again: wake the others. (When
                # it took them all, waking the others would only cost them an empty claim.)
                cluster.notify(conn)
            if not ids:
                return []
            rows = conn.execute(self._hot.mark_running,
                                {"ids": ids, "owner": self.server_id, "now": utcnow()}).all()
        # UPDATE ... RETURNING gives rows in no set order.
        return sorted((record_from_row(row) for row in rows), key=lambda record: record.id)

    def _pick(self, conn: sa.Connection, room: Mapping[str, int], total: int) -> list[int]:
        remaining = {name: min(slots, total) for name, slots in room.items() if slots > 0}
        picked: list[int] = []
        after_key, after_id, page_size = -math.inf, 0, max(total * CLAIM_PAGE_FACTOR, 16)
        now = utcnow()
        while remaining and len(picked) < total:
            page = conn.execute(self._hot.pick_queued,
                                {"names": list(remaining), "after_key": after_key,
                                 "after_id": after_id, "page_size": page_size,
                                 "now": now}).all()
            for task_id, name, _ in page:
                if remaining.get(name, 0) > 0:
                    picked.append(task_id)
                    remaining[name] -= 1
                    if remaining[name] == 0:
                        del remaining[name]
                    if len(picked) == total:
                        break
            if len(page) < page_size:
                break
            after_key, after_id = page[-1].sort_key, page[-1].id
        return picked

    def finish(self, outcomes: Sequence[Outcome]) -> None:
        """Store outcomes; one whose record is no longer running that attempt here is dropped
        and logged."""
        if outcomes:
            with self._write("store task outcomes") as conn:
                self._store_outcomes(conn, outcomes)
                if self.is_shared:  # slots are free: a server waiting at a limit may claim
                    cluster.notify(conn)

    def _store_outcomes(self, conn: sa.Connection, outcomes: Sequence[Outcome]) -> None:
        if not outcomes:
            return
        running = {row.id: row for row in conn.execute(
            self._hot.running_here,
            {"ids": [outcome.task_id for outcome in outcomes], "owner": self.server_id})}
        current, follow_ups = [], []
        for outcome in outcomes:
            row = running.get(outcome.task_id)
            if row is None or row.attempts != outcome.attempt:
                logger.warning("task %s attempt %s is no longer running here; its outcome is "
                               "dropped", outcome.task_id, outcome.attempt)
            else:
                current.append((outcome, row.email))
                if outcome.status is TaskStatus.SUCCEEDED and row.chain_next:
                    follow_ups.append(next_in_chain(row, utcnow()))
        if follow_ups:  # the next step of a chain commits with the success before it
            conn.execute(tasks.insert(), follow_ups)
            if self.is_shared:
                cluster.notify(conn)
        if not current:
            return
        conn.execute(self._hot.insert_attempt, [{
            "task_id": outcome.task_id, "number": outcome.attempt,
            "status": outcome.status.value, "owner": self.server_id,
            "started_at": outcome.started_at, "finished_at": outcome.finished_at or utcnow(),
            "error_type": outcome.error and outcome.error.type,
            "error_message": outcome.error and outcome.error.message}
            for outcome, _ in current])
        retried = [outcome for outcome, _ in current if outcome.retry_at is not None]
        if retried:
            conn.execute(self._hot.retry_later, [
                {**self._outcome_values(outcome), "b_retry_at": outcome.retry_at,
                 "b_retry_ts": outcome.retry_at.timestamp(), "b_step": PRIORITY_STEP_S}
                for outcome in retried])
            current = [(outcome, email) for outcome, email in current
                       if outcome.retry_at is None]
        if not current:
            return
        conn.execute(self._hot.write_outcome, [self._outcome_values(outcome)
                                                for outcome, _ in current])
        files = [{"task_id": outcome.task_id, "position": position,
                  "token": secrets.token_urlsafe(FILE_TOKEN_BYTES), "name": item.name,
                  "content_type": item.content_type or guess_content_type(item.name),
                  "size_bytes": len(item.data), "data": item.data}
                 for outcome, _ in current for position, item in enumerate(outcome.files)]
        if files:
            conn.execute(self._hot.insert_file, files)
        emails = [outcome_email(outcome, email) for outcome, email in current if email]
        if emails:  # the result and its email commit together
            conn.execute(self._hot.insert_email, emails)

    def _outcome_values(self, outcome: Outcome) -> dict[str, Any]:
        error = outcome.error
        return {"b_id": outcome.task_id, "b_owner": self.server_id, "b_attempt": outcome.attempt,
                "b_status": outcome.status.value, "b_result": outcome.result_json,
                "b_error_type": error and error.type, "b_error_message": error and error.message,
                "b_error_traceback": error and error.traceback,
                "b_finished_at": outcome.finished_at or utcnow()}

    def claim_emails(self, limit: int) -> list[PendingEmail]:
        """Mark up to `limit` due emails as being sent here; return them with their task
        records and file contents."""
        with self._read("read the outbox") as conn:
            if not outbox_sql.any_due(conn, utcnow()):
                return []
        with self._write("claim emails") as conn:
            rows = outbox_sql.claim_due(conn, self.server_id, limit, utcnow())
            if not rows:
                return []
            task_ids = [row.task_id for row in rows]
            records = {row.id: row for row in conn.execute(
                sa.select(tasks).where(tasks.c.id.in_(task_ids))).all()}
            file_rows = conn.execute(sa.select(*_FILE_COLUMNS, task_files.c.data)
                                     .where(task_files.c.task_id.in_(task_ids))
                                     .order_by(task_files.c.position)).all()
        files: dict[int, list[tuple[StoredFile, bytes]]] = {}
        for row in file_rows:
            files.setdefault(row.task_id, []).append((stored_file_from_row(row), bytes(row.data)))
        return [PendingEmail(outbox_id=row.id, attempt=row.attempts,
                             record=record_from_row(records[row.task_id],
                                                    [f for f, _ in files.get(row.task_id, [])]),
                             files=tuple(files.get(row.task_id, [])))
                for row in rows]

    def finish_email(self, outbox_id: int, attempt: int, status: EmailStatus, *,
                     error: str | None = None, retry_at: datetime.datetime | None = None) -> bool:
        """Record how a try went: SENT, FAILED, or PENDING again at `retry_at`. False if the
        email was no longer being sent here."""
        with self._write("record the email's delivery") as conn:
            done = outbox_sql.finish_sending(conn, outbox_id, self.server_id, attempt,
                                             status=status, error=error, retry_at=retry_at,
                                             now=utcnow())
        if not done:
            logger.warning("email %s try %s is no longer being sent here", outbox_id, attempt)
        return done

    def requeue_emails(self) -> int:
        """Put back the emails an earlier run was sending when it stopped. On a shared
        database `requeue_running` does it, for dead servers only."""
        if self.is_shared:
            return 0
        with self._write("queue interrupted emails again") as conn:
            return outbox_sql.requeue_sending(conn, self.server_id)

    def next_email_due(self) -> datetime.datetime | None:
        """When the next pending email is due, if any."""
        with self._read("read the outbox") as conn:
            return outbox_sql.next_due(conn)

    def requeue_running(self) -> list[TaskRecord]:
        """Queue again every record left running by a server that is gone; return them.

        On SQLite the one-server lock makes every running record an orphan at start; on a
        shared database, those of servers whose heartbeat is older than the lease.
        """
        with self._write("queue interrupted tasks again") as conn:
            if self.is_shared:
                rows = cluster.requeue_orphans(conn, self.server_id, self._lease_s)
                if rows:
                    cluster.notify(conn)
                return sorted((record_from_row(row) for row in rows),
                              key=lambda record: record.id)
            rows = conn.execute(
                tasks.update()
                .where(tasks.c.status == TaskStatus.RUNNING.value,
                       tasks.c.owner != self.server_id)
                .values(status=TaskStatus.QUEUED.value, owner=None, started_at=None)
                .returning(*tasks.c)).all()
        return sorted((record_from_row(row) for row in rows), key=lambda record: record.id)

    def get(self, task_id: int) -> TaskRecord | None:
        """The record with its files, or None."""
        with self._read("read the task") as conn:
            row = conn.execute(sa.select(tasks).where(tasks.c.id == task_id)).one_or_none()
            if row is None:
                return None
            files = conn.execute(sa.select(*_FILE_COLUMNS)
                                 .where(task_files.c.task_id == task_id)).all()
            delivery = outbox_sql.deliveries(conn, [task_id]).get(task_id)
            history = conn.execute(sa.select(task_attempts)
                                   .where(task_attempts.c.task_id == task_id)
                                   .order_by(task_attempts.c.id)).all()
            children = conn.execute(sa.select(tasks.c.id).where(tasks.c.parent_id == task_id)
                                    .order_by(tasks.c.id)).scalars().all()
        return dataclasses.replace(record_from_row(row, group_files(files).get(task_id, [])),
                                   email_delivery=delivery, children=tuple(children),
                                   history=tuple(attempt_from_row(item) for item in history))

    def list(self, *, status: TaskStatus | None = None, name: str | None = None,
             limit: int = 50, before_id: int | None = None, finished: bool = False,
             text: str | None = None) -> list[TaskRecord]:
        """Records newest first, filtered, older than `before_id` when given. `finished`
        keeps only records in a terminal status; `text` keeps those whose id, name, params,
        result or error message contain it (any case)."""
        query = sa.select(tasks).order_by(tasks.c.id.desc()).limit(limit)
        if status is not None:
            query = query.where(tasks.c.status == TaskStatus(status).value)
        if finished:
            # "Not unfinished" rather than "in the terminal statuses": the planner then walks
            # the primary key newest first and stops at `limit`, instead of reading every
            # finished row through the status index and sorting them.
            query = query.where(tasks.c.status.not_in(
                [status.value for status in TaskStatus if not status.is_terminal]))
        if text:
            query = query.where(text_matches(text, ignore_case_by_like=self.dialect == "sqlite"))
        if name is not None:
            query = query.where(tasks.c.name == name)
        if before_id is not None:
            query = query.where(tasks.c.id < before_id)
        with self._read("list tasks") as conn:
            rows = conn.execute(query).all()
            ids = [row.id for row in rows]
            files = group_files(conn.execute(
                sa.select(*_FILE_COLUMNS).where(task_files.c.task_id.in_(ids))).all()
            ) if ids else {}
            delivered = outbox_sql.deliveries(conn, ids)
        return [dataclasses.replace(record_from_row(row, files.get(row.id, [])),
                                    email_delivery=delivered.get(row.id)) for row in rows]

    def pending_counts(self) -> dict[tuple[str, TaskStatus], int]:
        """How many records are queued and running, per task name."""
        unfinished = (TaskStatus.QUEUED.value, TaskStatus.RUNNING.value)
        with self._read("count tasks") as conn:
            rows = conn.execute(
                sa.select(tasks.c.name, tasks.c.status, sa.func.count())
                .where(tasks.c.status.in_(unfinished))
                .group_by(tasks.c.name, tasks.c.status)).all()
        return {(name, TaskStatus(status)): count for name, status, count in rows}

    def outbox_counts(self) -> dict[str, int]:
        """How many result emails are in each state (PENDING, SENDING, SENT, FAILED)."""
        with self._read("count emails") as conn:
            rows = conn.execute(sa.select(outbox.c.status, sa.func.count())
                                .group_by(outbox.c.status)).all()
        return {status: count for status, count in rows}

    def read_file(self, token: str) -> tuple[StoredFile, bytes] | None:
        """A result file and its content by its token, or None."""
        with self._read("read the result file") as conn:
            row = conn.execute(sa.select(*_FILE_COLUMNS, task_files.c.data)
                               .where(task_files.c.token == token)).one_or_none()
        return None if row is None else (stored_file_from_row(row), bytes(row.data))

    def is_reachable(self) -> bool:
        """True if a trivial query succeeds."""
        try:
            with self._read("check the database") as conn:
                conn.execute(sa.text("SELECT 1"))
        except Exception:  # any failure means "not reachable"; the cause was logged
            return False
        return True

    def close(self) -> None:
        """Leave the cluster, release connections and the one-server lock."""
        if self._joined:
            self._joined = False
            try:
                with self._write("remove the server's heartbeat") as conn:
                    cluster.leave(conn, self.server_id)
            except Exception:  # the others will find it dead once its lease is over
                logger.warning("could not remove this server's heartbeat row")
        self._engine.dispose()
        if self._lock is not None:
            self._lock.release()
            self._lock = None


def next_in_chain(row: sa.Row[Any], now: datetime.datetime) -> dict[str, Any]:
    """The row of a chain's next step, queued now, after the step in `row` succeeded."""
    first, *rest = chain_from_json(row.chain_next)
    return {"name": first.task_name, "params": encode_json(first.params), "email": None,
            "created_at": now, "status": TaskStatus.QUEUED.value, "attempts": 0,
            "priority": row.priority,
            "sort_key": now.timestamp() - row.priority * PRIORITY_STEP_S,
            "cancel_requested": False, "parent_id": row.id, "chain_next": chain_to_json(rest)}


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


def outcome_email(outcome: Outcome, recipient: str) -> dict[str, Any]:
    """The outbox row of a finished task's email."""
    finished_at = outcome.finished_at or utcnow()
    return {"task_id": outcome.task_id, "recipient": recipient,
            "status": EmailStatus.PENDING.value, "attempts": 0, "created_at": finished_at,
            "next_attempt_at": finished_at}


def guess_content_type(name: str) -> str:
    """The MIME type for a file name, `application/octet-stream` when unknown."""
    content_type, encoding = mimetypes.guess_type(name, strict=False)
    if content_type is None or encoding is not None:
        return "application/octet-stream"
    return content_type


def _launch_audit(actor: Actor, row: sa.Row[Any]) -> dict[str, object]:
    if row.chain_next:
        steps = len(chain_from_json(row.chain_next)) + 1
        return audit_values(actor, AuditAction.CHAIN, row.id, row.name,
                            f"a chain of {steps} tasks")
    return audit_values(actor, AuditAction.LAUNCH, row.id, row.name)
