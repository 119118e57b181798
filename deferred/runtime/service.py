"""`LocalTaskService`: submitting, waiting and reading task records, for the HTTP app and
`Server.submit`."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import Any, Protocol

from ..addresses import check_email_address
from ..access.audit import Actor
from ..bulk import BulkAction, BulkCounts, TaskSelection
from ..config import LimitsConfig
from ..errors import (BadRequestError, ConflictError, DeferredError, InvalidParamsError,
                     NotFoundError, ShuttingDownError, UnknownTaskError)
from ..interfaces import Health, NewTask, RunParams, TaskStore, TaskType
from ..jsontext import encode_json
from .intake import SHUTTING_DOWN_MESSAGE
from .metrics import Metrics
from ..records import MAX_TASK_ID, ChainStep, TaskRecord, TaskStatus, utcnow
from ..scheduling.options import SubmitOptions
from ..tasks.registry import TaskRegistry
from .waiters import Waiters

WAIT_POLL_S = 1.0  # a record finished by another server wakes no one here


class TaskStarter(Protocol):
    """What the service needs of the dispatcher (see `Dispatcher`)."""

    def admit(self, task: NewTask) -> TaskRecord: ...
    def notify(self, *, queued: bool = True) -> None: ...
    def request_cancel(self, task_id: int) -> None: ...
    def is_alive(self) -> bool: ...
    def pauses_changed(self, committed_at: float | None = None) -> None: ...


class LocalTaskService:
    """The `TaskService` of one server: checks submits and hands them to the dispatcher to
    store and start; answers waiters, whom `waiters` wakes when records finish."""

    def __init__(self, store: TaskStore, registry: TaskRegistry, limits: LimitsConfig,
                 starter: TaskStarter, waiters: Waiters, *, retention_s: float | None = None,
                 metrics: Metrics | None = None) -> None:
        self._store, self._registry, self._limits = store, registry, limits
        self._retention_s = retention_s
        self._metrics = metrics or Metrics()
        self._starter = starter
        self._waiters = waiters
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
        already used: the record stored under it), with the `actor`'s audit entry. Raises
        `UnknownTaskError`, `InvalidParamsError`, `BadRequestError`, `ShuttingDownError` or a
        store error."""
        options = options or SubmitOptions()
        if self._closing.is_set():
            raise ShuttingDownError(SHUTTING_DOWN_MESSAGE)
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
        record = self._starter.admit(NewTask(task_name, params, email, options,
                                             tuple(chain_next), actor,
                                             may_start=not options.is_delayed))
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

    def get(self, task_id: int) -> TaskRecord:
        """The record. Raises `NotFoundError`."""
        record = self._store.get(task_id) if 1 <= task_id <= MAX_TASK_ID else None
        if record is None:
            raise _not_found(task_id)
        return record

    def cancel(self, task_id: int, actor: Actor | None = None) -> TaskRecord:
        """Cancel a queued (or delayed) task at once; ask a running one to stop (it sees the
        request through `deferred.current()`). A finished task is left as it is. Raises
        `NotFoundError`."""
        record = self._store.cancel(task_id, actor) if 1 <= task_id <= MAX_TASK_ID else None
        if record is None:
            raise _not_found(task_id)
        if record.status is TaskStatus.CANCELLED:
            self._waiters.wake([task_id])
        elif record.cancel_requested:
            self._starter.request_cancel(task_id)
        return record

    def retry(self, task_id: int, actor: Actor | None = None) -> TaskRecord:
        """Queue a FAILED or CANCELLED task again (its history kept). Raises `NotFoundError`,
        and `BadRequestError` for a task in any other status."""
        if self._closing.is_set():
            raise ShuttingDownError(SHUTTING_DOWN_MESSAGE)
        before = self.get(task_id)
        record = self._store.retry(task_id, actor)
        if record is None:
            raise _not_found(task_id)
        self._starter.notify()
        if record.status is not TaskStatus.QUEUED:
            raise ConflictError(f"task {task_id} is {before.status}: only a failed, "
                                "cancelled or timed-out task can be retried", where="task_id")
        return record

    def bulk(self, action: BulkAction, selection: TaskSelection,
             actor: Actor | None = None) -> BulkCounts:
        """Cancel, retry or delete every record of `selection` the action applies to, in
        batches (each its own transaction), as the single actions do: after each batch the
        cancelled records' waiters answer, the running ones asked to stop are told, and the
        dispatcher looks for the retried ones. What it found and changed. Raises
        `ShuttingDownError` for a retry while stopping."""
        if action is BulkAction.RETRY and self._closing.is_set():
            raise ShuttingDownError(SHUTTING_DOWN_MESSAGE)
        total = BulkCounts()
        for batch in self._store.bulk(action, selection, actor):
            total += batch.counts
            if batch.cancelled:
                self._waiters.wake(batch.cancelled)
            for task_id in batch.asked_to_stop:
                self._starter.request_cancel(task_id)
            if batch.queued:
                self._starter.notify()
        return total

    def metrics_text(self) -> str:
        """This server's counters and histograms, and the cluster's queues, in Prometheus'
        text format."""
        pending = {(name, status.value): count
                   for (name, status), count in self._store.pending_counts().items()}
        limits = {task_class.name: self._limits.names.get(task_class.name)
                  for task_class in self._registry}
        return self._metrics.render(pending=pending, limits=limits,
                                    global_limit=self._limits.global_limit,
                                    outbox=self._store.outbox.counts())

    def task_types(self) -> list[TaskType]:
        """The registered tasks, by name, each with its pause if it is paused."""
        now, paused = utcnow(), self._store.pauses.paused()
        return [TaskType(name=task_class.name, description=task_class.description,
                         json_schema=task_class.json_schema,
                         limit=self._limits.names.get(task_class.name),
                         run_params=RunParams(task_class.param_spec.names,
                                              task_class.param_spec.required,
                                              task_class.param_spec.takes_any),
                         schedule=None if task_class.schedule is None
                         else task_class.schedule.describe(),
                         next_run_at=None if task_class.schedule is None
                         else task_class.schedule.next_after(now),
                         keep_s=task_class.ttl_s or self._retention_s,
                         paused_at=paused[task_class.name].paused_at
                         if task_class.name in paused else None,
                         paused_by=paused[task_class.name].paused_by
                         if task_class.name in paused else None)
                for task_class in self._registry]

    def pause(self, name: str, actor: Actor | None = None) -> TaskType:
        """Pause the task type `name` on every server of the database, kept across restarts:
        its queued tasks wait (submits are still stored), its running ones finish, and none
        starts once this returns; one claimed ahead here is queued again. Pausing a paused
        type changes nothing. Returns the type. Raises `UnknownTaskError`."""
        self._task_class_named(name)
        self._store.pauses.pause(name, actor)
        self._starter.pauses_changed(committed_at=time.monotonic())
        return self._task_type(name)

    def resume(self, name: str, actor: Actor | None = None) -> TaskType:
        """Resume the task type `name`: its queued tasks start (on every server). Resuming
        one not paused changes nothing. Returns the type. Raises `UnknownTaskError`."""
        self._task_class_named(name)
        self._store.pauses.resume(name, actor)
        self._starter.pauses_changed()
        return self._task_type(name)

    def _task_class_named(self, name: str) -> None:
        try:
            self._registry.get(name)
        except UnknownTaskError as exc:
            raise UnknownTaskError(exc.message, where="name") from None

    def _task_type(self, name: str) -> TaskType:
        return next(item for item in self.task_types() if item.name == name)

    def health(self) -> Health:
        """Whether the server takes work, runs it, and its database answers, each part on
        its own; the store is asked even while stopping, so that an operator sees both."""
        reachable = self._store.is_reachable()
        return Health(stopping=self._closing.is_set(), dispatcher_alive=self._starter.is_alive(),
                      store_reachable=reachable,
                      store_write_failure=self._store.write_failure() if reachable else None)

    def close(self) -> None:
        """Take no new work and let every waiter answer now."""
        self._closing.set()
        self._waiters.wake_all()


def _not_found(task_id: int) -> NotFoundError:
    return NotFoundError(f"no task with id {task_id}", where="task_id")
