"""`LocalTaskService`: submitting, waiting and reading task records, for the HTTP app and
`Server.submit`."""

from __future__ import annotations

import datetime
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from ..addresses import check_email_address
from ..access.audit import Actor, AuditAction, AuditEntry, StoredToken
from ..config import LimitsConfig
from ..errors import (BadRequestError, ConflictError, DeferredError, InvalidParamsError,
                     NotFoundError, ShuttingDownError)
from ..interfaces import Health, TaskStore, TaskType
from ..jsontext import encode_json
from .metrics import Metrics
from ..records import ChainStep, Outcome, StoredFile, TaskRecord, TaskStatus, utcnow
from ..scheduling.options import SubmitOptions
from ..tasks.registry import TaskRegistry
from .waiters import Waiters

WAIT_POLL_S = 1.0  # a record finished by another server wakes no one here


class TaskStarter(Protocol):
    """What the service needs of the dispatcher (see `Dispatcher`)."""

    def try_reserve(self, name: str) -> bool: ...
    def expect_queued(self) -> None: ...
    def queued_stored(self) -> None: ...
    def start_reserved(self, record: TaskRecord) -> None: ...
    def cancel_reservation(self, name: str) -> None: ...
    def request_cancel(self, task_id: int) -> None: ...
    def is_alive(self) -> bool: ...


class LocalTaskService:
    """The `TaskService` of one server: checks and stores submits, wakes the dispatcher, and
    wakes waiters when the dispatcher reports finished records."""

    def __init__(self, store: TaskStore, registry: TaskRegistry, limits: LimitsConfig,
                 starter: TaskStarter, *, retention_s: float | None = None,
                 metrics: Metrics | None = None) -> None:
        self._store, self._registry, self._limits = store, registry, limits
        self._retention_s = retention_s
        self._metrics = metrics or Metrics()
        self._starter = starter
        self._waiters = Waiters()
        self._closing = threading.Event()
        self.global_limit = limits.global_limit
        self.server_id = store.server_id

    def submit_chain(self, steps: Sequence[tuple[str, Any]], email: str | None = None,
                     options: SubmitOptions | None = None, *,
                     actor: Actor | None = None) -> TaskRecord:
        """Submit a chain: the first step now, each next one once the one before succeeded
        (a step that fails ends the chain). Every step is checked now. Returns the first
        record. Raises what `submit` raises, naming the step, and `BadRequestError` for an
        empty chain."""
        if not steps:
            raise BadRequestError("a chain needs at least one task", where="steps")
        checked = []
        for index, (task_name, params) in enumerate(steps):
            try:
                if not isinstance(task_name, str):
                    raise BadRequestError("task_name must be a string", where="task_name")
                task_class = self._registry.get(task_name)
                checked.append(ChainStep(task_name, task_class.check_params(
                    {} if params is None else params)))
            except DeferredError as exc:
                raise type(exc)(exc.message, where=f"steps[{index}]"
                                + (f".{exc.where}" if exc.where else "")) from None
        first, *rest = checked
        return self.submit(first.task_name, dict(first.params), email, options,
                           chain_next=tuple(rest), actor=actor)

    def submit(self, task_name: str, params: Any, email: str | None = None,
               options: SubmitOptions | None = None, *,
               chain_next: Sequence[ChainStep] = (), actor: Actor | None = None) -> TaskRecord:
        """Check and store a task record; return it once committed (with an idempotency key
        already used: the record stored under it), with the `actor`'s audit entry. Raises `UnknownTaskError`,
        `InvalidParamsError`, `BadRequestError`, `ShuttingDownError` or a store error."""
        options = options or SubmitOptions()
        if self._closing.is_set():
            raise ShuttingDownError("the server is shutting down and takes no new tasks")
        if not isinstance(task_name, str):
            raise BadRequestError("task_name must be a string", where="task_name")
        task_class = self._registry.get(task_name)
        params = task_class.check_params({} if params is None else params)
        try:
            encode_json(params).encode("utf-8")  # a lone surrogate would fail in the driver
        except (TypeError, ValueError) as exc:
            raise InvalidParamsError(f"params must be JSON values: {exc}", where="$") from None
        if email is not None:
            email = check_email_address(email)
        scheduling = {"run_at": options.run_at, "priority": options.priority,
                      "idempotency_key": options.idempotency_key,
                      "timeout_s": options.timeout_s, "parent_id": options.parent_id,
                      "chain_next": chain_next, "actor": actor}
        # With a slot free and nothing older waiting, the task is stored already running and
        # starts at once: one commit instead of a queued insert and a claim. Not a delayed
        # one, nor one that may repeat an earlier submit.
        if (options.is_delayed or options.idempotency_key is not None
                or not self._starter.try_reserve(task_name)):
            self._starter.expect_queued()
            try:
                record = self._store.add(task_name, params, email, **scheduling)
            finally:
                self._starter.queued_stored()
        else:
            try:
                record = self._store.add(task_name, params, email, running=True,
                                         **scheduling)
            except BaseException:
                self._starter.cancel_reservation(task_name)
                raise
            self._starter.start_reserved(record)
        self._metrics.task_submitted(task_name)  # once stored: a refused submit is no submit
        return record

    def wait(self, task_id: int, timeout_s: float) -> TaskRecord:
        """The record once it is finished, or as it is after `timeout_s` (or at shutdown)."""
        deadline = time.monotonic() + timeout_s
        with self._waiters.watch(task_id) as finished:
            while True:
                finished.clear()  # before reading: a finish after the read still wakes us
                record = self.get(task_id)
                left = deadline - time.monotonic()
                if record.status.is_terminal or left <= 0 or self._closing.is_set():
                    return record
                finished.wait(min(left, WAIT_POLL_S))

    def on_finished(self, outcomes: Sequence[Outcome]) -> None:
        """Wake whoever waits for these records (their outcomes are committed)."""
        self._waiters.wake(outcome.task_id for outcome in outcomes)

    def get(self, task_id: int) -> TaskRecord:
        """The record. Raises `NotFoundError`."""
        record = self._store.get(task_id)
        if record is None:
            raise NotFoundError(f"no task with id {task_id}", where="task_id")
        return record

    def cancel(self, task_id: int, actor: Actor | None = None) -> TaskRecord:
        """Cancel a queued (or delayed) task at once; ask a running one to stop (it sees the
        request through `deferred.current()`). A finished task is left as it is. Raises
        `NotFoundError`."""
        record = self._store.cancel(task_id, actor)
        if record is None:
            raise NotFoundError(f"no task with id {task_id}", where="task_id")
        if record.status is TaskStatus.CANCELLED:
            self._waiters.wake([task_id])
        elif record.cancel_requested:
            self._starter.request_cancel(task_id)
        return record

    def retry(self, task_id: int, actor: Actor | None = None) -> TaskRecord:
        """Queue a FAILED or CANCELLED task again (its history kept). Raises `NotFoundError`,
        and `BadRequestError` for a task in any other status."""
        if self._closing.is_set():
            raise ShuttingDownError("the server is shutting down and takes no new tasks")
        before = self.get(task_id)
        self._starter.expect_queued()  # no direct start may overtake it
        try:
            record = self._store.retry(task_id, actor)
        finally:
            self._starter.queued_stored()
        if record is None:
            raise NotFoundError(f"no task with id {task_id}", where="task_id")
        if record.status is not TaskStatus.QUEUED:
            raise ConflictError(f"task {task_id} is {before.status}: only a failed, "
                                "cancelled or timed-out task can be retried", where="task_id")
        return record

    def list_tasks(self, *, status: TaskStatus | None = None, task_name: str | None = None,
                   limit: int = 50, before_id: int | None = None, finished: bool = False,
                   text: str | None = None) -> list[TaskRecord]:
        """Records newest first (`finished`: terminal ones only; `text`: containing it)."""
        return self._store.list(status=status, name=task_name, limit=limit,
                                before_id=before_id, finished=finished, text=text)

    def pending_counts(self) -> Mapping[tuple[str, TaskStatus], int]:
        """How many records are queued and running, per task name, on every server."""
        return self._store.pending_counts()

    def metrics_text(self) -> str:
        """This server's counters and histograms, and the cluster's queues, in Prometheus'
        text format."""
        pending = {(name, status.value): count
                   for (name, status), count in self._store.pending_counts().items()}
        limits = {task_class.name: self._limits.names.get(task_class.name)
                  for task_class in self._registry}
        return self._metrics.render(pending=pending, limits=limits,
                                    global_limit=self._limits.global_limit,
                                    outbox=self._store.outbox_counts())

    def task_types(self) -> list[TaskType]:
        """The registered tasks, by name."""
        now = utcnow()
        return [TaskType(name=task_class.name, description=task_class.description,
                         json_schema=task_class.json_schema,
                         limit=self._limits.names.get(task_class.name),
                         schedule=None if task_class.schedule is None
                         else task_class.schedule.describe(),
                         next_run_at=None if task_class.schedule is None
                         else task_class.schedule.next_after(now),
                         keep_s=task_class.ttl_s or self._retention_s)
                for task_class in self._registry]

    def read_file(self, token: str) -> tuple[StoredFile, bytes]:
        """A result file by its token. Raises `NotFoundError`."""
        found = self._store.read_file(token)
        if found is None:
            raise NotFoundError("no result file answers to this link", where="token")
        return found

    def health(self) -> Health:
        """Whether the server takes work, runs it, and its database answers, each part on
        its own; the store is asked even while stopping, so that an operator sees both."""
        return Health(stopping=self._closing.is_set(), dispatcher_alive=self._starter.is_alive(),
                      store_reachable=self._store.is_reachable())

    def record_audit(self, actor: Actor, action: AuditAction, *, task_id: int | None = None,
                     task_name: str | None = None, detail: str = "") -> None:
        """Write one audit entry (logins and logouts)."""
        self._store.record_audit(actor, action, task_id=task_id, task_name=task_name,
                                 detail=detail)

    def audit_entries(self, *, limit: int, before_id: int | None = None,
                      task_id: int | None = None) -> list[AuditEntry]:
        """Audit entries, newest first."""
        return self._store.audit_entries(limit=limit, before_id=before_id, task_id=task_id)

    def open_session(self, token_hash: str, principal: str, role: str, credential: str,
                     expires_at: datetime.datetime) -> None:
        """Store a login session by the hash of its cookie, with what it was opened with."""
        self._store.open_session(token_hash, principal, role, credential, expires_at)

    def find_session(self, token_hash: str) -> tuple[str, str, str] | None:
        """A live session's (principal, role, credential), None if unknown or expired."""
        return self._store.find_session(token_hash)

    def close_session(self, token_hash: str) -> bool:
        """Forget a session; False if there was none."""
        return self._store.close_session(token_hash)

    def add_token(self, name: str, role: str, token_hash: str, actor: Actor) -> bool:
        """Store a new API token by its hash (and its audit entry); False if the name is
        taken."""
        return self._store.add_token(name, role, token_hash, actor)

    def stored_tokens(self) -> list[StoredToken]:
        """The API tokens made at run time, by name."""
        return self._store.stored_tokens()

    def find_token(self, token_hash: str) -> tuple[str, str] | None:
        """The (name, role) of the stored token with this hash, None if there is none."""
        return self._store.find_token(token_hash)

    def revoke_token(self, name: str, actor: Actor) -> bool:
        """Delete a stored token (and write its audit entry); False if there is none."""
        return self._store.revoke_token(name, actor)

    def close(self) -> None:
        """Take no new work and let every waiter answer now."""
        self._closing.set()
        self._waiters.wake_all()

    @property
    def name_limits(self) -> Mapping[str, int]:
        """The per-name limits in force."""
        return self._limits.names
