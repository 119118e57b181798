"""The seams between the parts, as Protocols: what the server needs of a store, and what the
HTTP app needs of the server. The mail seams are in `mail`, the pauses' in `pauses`; all are
named here too."""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Protocol

from ..records import ChainStep, Outcome, QueueDepth, StoredFile, TaskRecord, TaskStatus
from ..access.audit import Actor, AuditAction, AuditEntry, StoredToken
from ..bulk import BulkAction, BulkBatch, BulkCounts, TaskSelection
from ..errors import StoreError
from ..scheduling.options import SubmitOptions
from ..stats import StatsRange, StatsView
from ..servers import ServerRecord
from .mail import MailFile, Mailer, Outbox, OutgoingMail
from .pauses import PausedNames, PausedType, PauseStore

__all__ = ["AccessStore", "Health", "MailFile", "Mailer", "NewTask", "Outbox", "OutgoingMail",
           "PauseStore", "PausedNames", "PausedType", "RecordReader", "RunParams", "TaskService",
           "TaskStore", "TaskType", "Turn", "TurnResult"]


@dataclasses.dataclass(frozen=True)
class NewTask:
    """A checked submit for the store to add: its task, params, email, scheduling, the chain
    steps that follow it and the actor whose audit entry commits with it. `may_start`: it
    may be stored already running here (not delayed, and the submitter allows it)."""

    name: str
    params: Mapping[str, Any]
    email: str | None = None
    options: SubmitOptions = SubmitOptions()
    chain_next: tuple[ChainStep, ...] = ()
    actor: Actor | None = None
    may_start: bool = True


@dataclasses.dataclass(frozen=True)
class Turn:
    """One write transaction of the dispatcher: store `finished` (each outcome with the
    record of its run), claim up to `total` queued records, at most `room[name]` of a name
    and none of a name not in `room`, and add `new`. With `look` False the caller knows that
    nothing queued could be claimed (its last claim found less than it asked for, and
    nothing was queued since), so the store does not look: the room goes to `new` tasks
    that may start. With `suspect` it may claim one record of a run that a crash
    interrupted (which the other claims leave alone: see `store.turn.start_a_suspect`)."""

    finished: Sequence[tuple[Outcome, TaskRecord]] = ()
    new: Sequence[NewTask] = ()
    room: Mapping[str, int] = dataclasses.field(default_factory=dict)
    total: int = 0
    look: bool = True
    suspect: bool = False  # may claim one record of an interrupted run (none runs here)


@dataclasses.dataclass(frozen=True)
class TurnResult:
    """What a committed `Turn` did.

    `added` has one record per new task, in order: as stored (running here or queued), or
    the record already stored under its idempotency key. `started` holds the records now
    running here, oldest claim first, then the new ones stored running. `drained` is True
    when the claim took less than it was allowed and no name's whole room: nothing else
    queued of a name with room was due. `queued` is True when the turn queued work that may start now (a new task, a
    chain's next step), which a later claim must find; `next_due` is the earliest time a
    delayed task or a retry it queued may start. `dropped` names the outcomes of `finished`
    that were not stored (task id and attempt): their records no longer ran that attempt
    here.
    """

    added: list[TaskRecord]
    started: list[TaskRecord]
    drained: bool
    queued: bool
    next_due: datetime.datetime | None = None
    dropped: frozenset[tuple[int, int]] = frozenset()
    suspect_started: bool = False  # the turn claimed a record of an interrupted run
    paused: PausedNames | None = None  # what its claim read of the paused types (shared)


class AccessStore(Protocol):
    """The audit log, login sessions and API tokens made at run time."""

    def record_audit(self, actor: Actor, action: AuditAction, *, task_id: int | None = None,
                     task_name: str | None = None, detail: str = "") -> None:
        """Write one audit entry (logins and logouts; changes write theirs themselves)."""

    def audit_entries(self, *, limit: int, before_id: int | None = None,
                      task_id: int | None = None) -> list[AuditEntry]:
        """Audit entries, newest first."""

    def open_session(self, token_hash: str, principal: str, role: str, credential: str,
                     expires_at: datetime.datetime) -> None:
        """Store a login session by the hash of its cookie, with what it was opened with."""

    def find_session(self, token_hash: str) -> tuple[str, str, str] | None:
        """A live session's (principal, role, credential), None if unknown or expired."""

    def close_session(self, token_hash: str) -> bool:
        """Forget a session; False if there was none."""

    def add_token(self, name: str, role: str, token_hash: str, actor: Actor) -> bool:
        """Store a new API token by its hash (and its audit entry); False if the name is
        taken."""

    def stored_tokens(self) -> list[StoredToken]:
        """The API tokens made at run time, by name."""

    def find_token(self, token_hash: str) -> tuple[str, str] | None:
        """The (name, role) of the stored token with this hash, None if there is none."""

    def revoke_token(self, name: str, actor: Actor) -> bool:
        """Delete a stored token (and write its audit entry); False if there is none."""


class RecordReader(Protocol):
    """What the HTTP app reads from the store itself, with no rule of the service between:
    records, queue counts and result files."""

    def list(self, *, status: TaskStatus | None = None, name: str | None = None,
             limit: int = 50, before_id: int | None = None, finished: bool = False,
             text: str | None = None) -> list[TaskRecord]:
        """Records newest first, filtered, older than `before_id` when given; `finished`
        keeps terminal ones, `text` those containing it."""

    def read_file(self, token: str) -> tuple[StoredFile, bytes] | None:
        """A result file and its content by its token, or None."""

    def pending_counts(self) -> dict[tuple[str, TaskStatus], int]:
        """How many records are queued and running, per task name."""

    def queue_depths(self) -> dict[str, QueueDepth]:
        """Per task name, how many records are queued (may start now), delayed (wait for
        their start time) and running; names with none are left out."""

    def stats_view(self, stats_range: StatsRange, name: str | None = None) -> StatsView:
        """The dashboard's statistics over `stats_range` up to now, of task `name` or all."""

    def servers(self) -> list[ServerRecord]:
        """Every server's row, oldest first, with its state and running records."""

    def bulk_preview(self, action: BulkAction, selection: TaskSelection) -> BulkCounts:
        """What a bulk `action` would find and change in `selection` now."""

    def count(self, selection: TaskSelection, *, at_most: int | None = None) -> int:
        """How many records `selection` takes (counting no further than `at_most`)."""


class TaskStore(RecordReader, Protocol):
    """Durable task records. Each method is one transaction, committed when it returns.

    Raises `StoreUnavailableError` when the database cannot be reached and `StoreFullError`
    when it cannot grow; nothing is half-done either way.
    """

    server_id: str

    @property
    def access(self) -> AccessStore:
        """The audit log, sessions and tokens, on the same database."""

    @property
    def outbox(self) -> Outbox:
        """The result emails to send, on the same database."""

    @property
    def pauses(self) -> PauseStore:
        """The paused task types, on the same database."""

    @property
    def is_shared(self) -> bool:
        """True when several servers may share the database (quotas counted there)."""

    def join(self) -> None:
        """Announce this server with its row and a fresh heartbeat."""

    def beat(self) -> bool:
        """Refresh this server's heartbeat; False if it had been taken for dead."""

    def mark_stopping(self) -> None:
        """Say in this server's row that its stop has begun."""

    def add(self, name: str, params: Mapping[str, Any], email: str | None = None,
            options: SubmitOptions | None = None, *, running: bool = False,
            chain_next: Sequence[ChainStep] = (), actor: Actor | None = None) -> TaskRecord:
        """Store a new record, queued (not before `options.run_at`) or (`running`) already
        running here; return it. A used idempotency key returns the record stored under it.
        The `actor`'s audit entry commits with the record."""

    def set_progress(self, task_id: int, attempt: int, percent: float,
                     message: str | None) -> bool:
        """Record a running task's progress; False if that attempt no longer runs here."""

    def retry(self, task_id: int, actor: Actor | None = None) -> TaskRecord | None:
        """Queue a FAILED or CANCELLED record again, keeping its history."""

    def cancel_requests(self, task_ids: Sequence[int]) -> list[int]:
        """Which of these running records were asked to stop."""

    def next_run_at(self) -> datetime.datetime | None:
        """When the earliest delayed queued record becomes due, if any is not yet."""

    def cancel(self, task_id: int, actor: Actor | None = None) -> TaskRecord | None:
        """Cancel a queued record at once, or ask a running one to stop; the record (None if
        there is none). A finished record is left as it is."""

    def bulk(self, action: BulkAction, selection: TaskSelection,
             actor: Actor | None = None) -> Iterator[BulkBatch]:
        """Act on every record of `selection`, one transaction per batch, each yielded once
        committed; the `actor`'s one audit entry counts what has committed."""

    def turn(self, turn: Turn) -> TurnResult:
        """Run one `Turn` in one transaction. Raises `StoreRejectedError` when the database
        refuses a row (nothing of the turn is stored), and the errors above."""

    def release(self, records: Sequence[TaskRecord]) -> None:
        """Queue again records claimed here that never started (their attempt not counted):
        what a stopping server had taken ahead."""

    def claim(self, room: Mapping[str, int], total: int,
              finished: Sequence[Outcome] = ()) -> list[TaskRecord]:
        """Store `finished`, then mark up to `total` of the oldest queued records as running
        here, at most `room[name]` of each name and none of a name not in `room`."""

    def finish(self, outcomes: Sequence[Outcome]) -> None:
        """Store outcomes; one whose record is no longer running that attempt here is
        dropped (and logged)."""

    def requeue_running(self) -> list[TaskRecord]:
        """Queue again every record left running by a server that is gone (on a shared
        database: silent for longer than the lease); return them."""

    def get(self, task_id: int) -> TaskRecord | None:
        """The record with its files, or None."""

    def is_reachable(self) -> bool:
        """True if the database answers."""

    def write_failure(self) -> StoreError | None:
        """Why the database takes no writes now (a full disk, ...), None while it does."""

    def close(self) -> None:
        """Release connections and locks."""


@dataclasses.dataclass(frozen=True)
class RunParams:
    """The keyword params a task's `run()` takes, read from its signature: what a task
    without a schema accepts. The default (`**kwargs` only) is "any JSON object"."""

    names: tuple[str, ...] = ()
    required: frozenset[str] = frozenset()
    takes_any: bool = True  # run() has **kwargs

    @property
    def takes_none(self) -> bool:
        """True when run() takes no params at all."""
        return not self.names and not self.takes_any


@dataclasses.dataclass(frozen=True)
class TaskType:
    """A registered task as the API and UI show it."""

    name: str
    description: str
    json_schema: Mapping[str, Any] | None
    limit: int | None
    run_params: RunParams = RunParams()
    schedule: str | None = None  # a periodic task's rule, `every 60 s` or `cron ...`
    next_run_at: datetime.datetime | None = None  # its next firing
    keep_s: float | None = None  # how long its finished runs are kept (None: for ever)
    paused_at: datetime.datetime | None = None  # paused since then (None: not paused)
    paused_by: str | None = None  # who paused it

    @property
    def paused(self) -> bool:
        """True while nothing of this type starts (see `PauseStore`)."""
        return self.paused_at is not None


@dataclasses.dataclass(frozen=True)
class Health:
    """What `GET /healthz` checks: the server takes work, runs it, and its store answers."""

    stopping: bool  # shutting down: no new work
    dispatcher_alive: bool  # the thread that starts tasks runs
    store_reachable: bool  # a trivial query on the database succeeded just now
    store_write_failure: StoreError | None = None  # why writes fail now (a full disk, ...)

    @property
    def is_healthy(self) -> bool:
        """True when all is well."""
        return (not self.stopping and self.dispatcher_alive and self.store_reachable
                and self.store_write_failure is None)


class TaskService(Protocol):
    """What the HTTP app needs: submitting, waiting, reading. Raises `DeferredError`s."""

    global_limit: int
    server_id: str  # this server's id, the `owner` of the records it runs

    def submit(self, task_name: str, params: Any, email: str | None = None,
               options: SubmitOptions | None = None, *,
               actor: Actor | None = None) -> TaskRecord:
        """Validate and store a task record (and the `actor`'s audit entry with it); return
        it once it is committed."""

    def submit_chain(self, steps: Sequence[tuple[str, Any]], email: str | None = None,
                     options: SubmitOptions | None = None, *,
                     actor: Actor | None = None) -> TaskRecord:
        """Submit a chain: the first step now, each next one once the one before
        succeeded. Returns the first record."""

    def cancel(self, task_id: int, actor: Actor | None = None) -> TaskRecord:
        """Cancel a queued task, or ask a running one to stop. Raises `NotFoundError`."""

    def retry(self, task_id: int, actor: Actor | None = None) -> TaskRecord:
        """Run a failed or cancelled task again. Raises `NotFoundError`, `BadRequestError`."""

    def bulk(self, action: BulkAction, selection: TaskSelection,
             actor: Actor | None = None) -> BulkCounts:
        """Cancel, retry or delete every record of `selection` the action applies to, in
        batches; what it found and changed. Raises `ShuttingDownError` for a retry while
        stopping, and store errors (the batches before stay done)."""

    def wait(self, task_id: int, timeout_s: float) -> TaskRecord:
        """The record once it is finished, or as it is when `timeout_s` has passed."""

    def get(self, task_id: int) -> TaskRecord:
        """The record. Raises `NotFoundError`."""

    def metrics_text(self) -> str:
        """The Prometheus text exposition of this server's metrics."""

    def task_types(self) -> list[TaskType]:
        """The registered tasks, by name."""

    def pause(self, name: str, actor: Actor | None = None) -> TaskType:
        """Pause a task type on every server (none of it starts until resumed); the type.
        Raises `UnknownTaskError`."""

    def resume(self, name: str, actor: Actor | None = None) -> TaskType:
        """Resume a paused task type; the type. Raises `UnknownTaskError`."""

    def health(self) -> Health:
        """What is checked for `GET /healthz`, each part on its own (the store is queried)."""
