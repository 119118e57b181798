"""`Dispatcher`: one thread that moves queued records into the worker pool while quotas allow."""

from __future__ import annotations

import dataclasses
import functools
import logging
import queue
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ..tasks.context import TaskContext
from .metrics import Metrics
from ..errors import StoreFullError, StoreUnavailableError, one_line
from ..interfaces import TaskStore
from .quotas import Quotas
from ..records import Outcome, TaskError, TaskRecord, TaskStatus, utcnow
from .runner import log_finished, log_started

logger = logging.getLogger(__name__)

POLL_S = 1.0  # finds rows added by other servers; one server's submits wake us at once
CANCEL_CHECK_S = 0.5  # how often the cancel requests of running tasks are read
RETRY_S = 1.0  # after the store failed
JOIN_S = 30.0


FollowUpSubmitter = Callable[[TaskContext, str, Mapping[str, Any] | None, Mapping[str, Any]],
                            int]
"""How a running task submits a follow-up: `(its context, name, params, options)` to the new
task's id."""


@dataclasses.dataclass(eq=False)
class _Run:
    """The dispatcher's bookkeeping of one run: what the task itself sees is its `context`."""

    record: TaskRecord
    context: TaskContext
    limit_s: float | None  # its time limit
    deadline: float | None  # time.monotonic() past which it is timed out
    timed_out: bool = False


def unstorable(outcome: Outcome, exc: BaseException) -> Outcome:
    """A failure to store in place of an outcome the database refused."""
    return dataclasses.replace(
        outcome, status=TaskStatus.FAILED, result_json=None, files=(),
        error=TaskError("InvalidResultError", f"the result cannot be stored: {one_line(exc)}"))


class Dispatcher:
    """Claims queued records when slots are free and runs them on a thread pool.

    Each turn stores the outcomes of the tasks that returned since the last turn and claims
    as many records as there are free slots, in one transaction. A slot is freed when its task
    returns; its record stays RUNNING until that commit, so nothing is claimed twice, and a
    crash before the commit runs the task again.
    """

    def __init__(self, store: TaskStore, quotas: Quotas,
                 run: Callable[[TaskRecord, TaskContext], Outcome], *, poll_s: float = POLL_S,
                 direct_start: bool = True,
                 timeout_of: Callable[[TaskRecord], float | None] = lambda record: None,
                 metrics: Metrics | None = None,
                 on_finished: Callable[[Sequence[Outcome]], None] = lambda outcomes: None,
                 submit_follow_up: FollowUpSubmitter | None = None) -> None:
        """`on_finished` is called with each batch of outcomes once it is committed;
        `submit_follow_up` is how a running task submits follow-ups (none: it cannot)."""
        self._store, self._quotas, self._run = store, quotas, run
        self._poll_s = poll_s
        # Off when servers share the database: only a claim can count the cluster's quotas.
        self._direct_start = direct_start
        self._on_finished_callback = on_finished
        self._submit_follow_up = submit_follow_up
        self._pool = ThreadPoolExecutor(quotas.global_limit, thread_name_prefix="deferred-worker")
        self._finished: queue.SimpleQueue[Outcome] = queue.SimpleQueue()
        self._wake, self._stopping = threading.Event(), threading.Event()
        self._thread = threading.Thread(target=self._loop, name="deferred-dispatcher")
        # True when the last claim left nothing queued that could run: a submit may then
        # skip the queue without overtaking an older task.
        self._drained = False
        self._queued_in_flight = 0  # queued inserts not yet committed
        self._drained_lock = threading.Lock()
        self._timeout_of = timeout_of
        self._metrics = metrics or Metrics()
        self._runs: dict[int, _Run] = {}  # the tasks running here, by id
        self._runs_lock = threading.Lock()
        self._cancel_checked_at = 0.0

    def _on_finished(self, outcomes: Sequence[Outcome]) -> None:
        try:
            self._on_finished_callback(outcomes)
        except Exception:
            logger.exception("a finished-task listener failed")

    def start(self) -> None:
        """Start the dispatcher thread."""
        self._thread.start()

    def admit(self, name: str, insert: Callable[[bool], TaskRecord | None], *,
              may_start: bool = True) -> TaskRecord | None:
        """Store a task through `insert(running)` and see that it runs; return what `insert`
        returned.

        This is the one place of the rule "no direct start overtakes a queued task". With
        `may_start`, a free slot for `name` and nothing older waiting, the task is stored
        already running (`insert(True)`) and handed to the pool at once: one commit instead
        of an insert and a claim. Otherwise it is stored queued (`insert(False)`), no direct
        start may skip ahead until that insert is over, and a claim then finds it.
        """
        if may_start and self._reserve(name):
            try:
                record = insert(True)
            except BaseException:
                self._quotas.release(name)
                self.notify()
                raise
            assert record is not None, "insert(True) returns the record it stored"
            self._submit_to_pool(record)
            return record
        with self._drained_lock:
            self._drained = False
            self._queued_in_flight += 1
        try:
            return insert(False)
        finally:
            with self._drained_lock:
                self._queued_in_flight -= 1
            self._wake.set()

    def _reserve(self, name: str) -> bool:
        """Take a slot for a task of `name` to be stored running, if one is free and nothing
        older waits."""
        with self._drained_lock:
            if not self._direct_start or not self._drained or self._stopping.is_set():
                self._drained = False
                return False
            return self._quotas.try_acquire(name)

    def request_cancel(self, task_id: int) -> None:
        """Tell the task `task_id`, if it runs here, that it was asked to stop."""
        with self._runs_lock:
            run = self._runs.get(task_id)
        if run is not None:
            run.context.request_cancel()

    def _pass_on_cancel_requests(self) -> None:
        """Cancel requests stored for tasks running here (from another server, too)."""
        now = time.monotonic()
        with self._runs_lock:
            if not self._runs or now - self._cancel_checked_at < CANCEL_CHECK_S:
                return
            waiting = [task_id for task_id, run in self._runs.items()
                       if not run.context.cancel_requested]
        self._cancel_checked_at = now
        if not waiting:
            return
        try:
            asked = self._store.cancel_requests(waiting)
        except Exception:  # the store is down: the next turn asks again
            return
        for task_id in asked:
            self.request_cancel(task_id)

    def is_alive(self) -> bool:
        """True while the dispatcher thread runs."""
        return self._thread.is_alive()

    def notify(self) -> None:
        """There may be work: a task was submitted or a slot was freed."""
        self._wake.set()

    def stop(self, grace_s: float) -> bool:
        """Claim nothing more; give running tasks `grace_s`, store what they produced.

        True if all of them finished. Those still running keep their RUNNING rows, which the
        next start queues again; their threads are left to the caller's exit.
        """
        with self._drained_lock:  # no reservation may slip in once stopping has begun
            self._stopping.set()
            self._drained = False
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(JOIN_S)  # it never waits on task code: a claim at most
        finished = self._quotas.wait_until_idle(grace_s)
        if not finished:
            # Out of grace: ask every run to stop, which kills the child of a process-
            # isolated one at once (a thread can only be asked).
            with self._runs_lock:
                running = list(self._runs.values())
            for run in running:
                run.context.request_cancel()
        self._flush()
        self._pool.shutdown(wait=finished, cancel_futures=True)
        return finished

    def _loop(self) -> None:
        pending: list[Outcome] = []
        while not self._stopping.is_set():
            self._wake.clear()  # before claiming, so a notify() during the claim is not lost
            self._pass_on_cancel_requests()
            with self._drained_lock:
                # No submit may take a slot between reading the room and acquiring the slots
                # of what the claim returns: both would count the same free slot.
                self._drained = False
            room, total = self._quotas.room()
            # After reading the room: a worker queues its outcome before freeing its slot, so
            # every slot counted free has its outcome stored in this turn, and no finished
            # row stays RUNNING (counted against the cluster's limits) for a turn more.
            pending.extend(self._take_finished())
            pending.extend(self._time_out_overdue())
            if not pending and total == 0:
                self._wake.wait(self._until_deadline_s(self._poll_s))
                continue
            try:
                records = self._store.claim(room, total, pending)
            except Exception as exc:
                logger.warning("claiming tasks failed (%s); trying again in %.1fs", exc, RETRY_S)
                pending = self._store_one_by_one(pending)
                self._stopping.wait(RETRY_S)
                continue
            with self._drained_lock:
                for record in records:  # counted before any submit may take a slot again
                    self._quotas.acquire(record.name)
                self._drained = (len(records) < total and self._queued_in_flight == 0
                                 and self._quotas.has_every_name(room))
            done, pending = pending, []
            if done:
                self._on_finished(done)
            for record in records:
                self._submit_to_pool(record)
            if not records and not done:
                self._wake.wait(self._until_deadline_s(self._idle_wait_s()))
        for outcome in pending:  # not stored yet: stop() stores them
            self._finished.put(outcome)

    def _time_out_overdue(self) -> list[Outcome]:
        """TIMED_OUT outcomes for the runs past their deadline, which are asked to stop.
        Python cannot stop a thread: their slots stay taken until their code returns, and
        what they return then is dropped."""
        now, overdue = time.monotonic(), []
        with self._runs_lock:
            for run in self._runs.values():
                if not run.timed_out and run.deadline is not None and now >= run.deadline:
                    run.timed_out = True
                    overdue.append(run)
        outcomes = []
        for run in overdue:
            run.context.request_cancel()
            record, limit_s = run.record, run.limit_s or 0.0
            self._metrics.task_finished(record.name, TaskStatus.TIMED_OUT.value, limit_s)
            outcome = Outcome(
                record.id, record.attempts, TaskStatus.TIMED_OUT,
                error=TaskError("TimeoutError", f"the task ran longer than its time limit of "
                                                f"{limit_s:g}s (timeout_s)"),
                finished_at=utcnow(), email=record.email)
            log_finished(record.name, outcome, now - (run.deadline or now) + limit_s,
                         "asked to stop, its slot stays taken until it returns")
            outcomes.append(outcome)
        return outcomes

    def _until_deadline_s(self, wait_s: float) -> float:
        """`wait_s`, or less when a running task's deadline comes sooner."""
        with self._runs_lock:
            deadlines = [run.deadline for run in self._runs.values()
                         if run.deadline is not None and not run.timed_out]
        if not deadlines:
            return wait_s
        return max(0.0, min(wait_s, min(deadlines) - time.monotonic()))

    def _report_progress(self, record: TaskRecord, percent: float, message: str | None
                         ) -> None:
        # In the task's thread; a progress report that cannot be stored is not the task's
        # failure.
        try:
            self._store.set_progress(record.id, record.attempts, percent, message)
        except Exception as exc:
            logger.warning("progress of task %s not stored: %s", record.id, exc)

    def _idle_wait_s(self) -> float:
        """How long to sleep with nothing to claim: the poll interval, or less when a delayed
        task falls due sooner (so that it starts on time, not at the next poll)."""
        try:
            due = self._store.next_run_at()
        except Exception:  # the store is down: the next claim says so
            return self._poll_s
        if due is None:
            return self._poll_s
        return max(0.0, min(self._poll_s, (due - utcnow()).total_seconds()))

    def _submit_to_pool(self, record: TaskRecord) -> None:
        context = TaskContext(record.id, record.name, record.attempts,
                              functools.partial(self._report_progress, record),
                              self._submit_follow_up)
        if record.cancel_requested:
            context.request_cancel()
        limit_s = self._timeout_of(record)
        run = _Run(record, context, limit_s,
                   None if limit_s is None else time.monotonic() + limit_s)
        with self._runs_lock:
            self._runs[record.id] = run
        self._metrics.task_started(record.name)
        try:
            self._pool.submit(self._run_and_release, run)
        except RuntimeError:  # the pool is shut down: the row stays RUNNING, run at restart
            with self._runs_lock:
                self._forget(run)
            self._quotas.release(record.name)
            logger.warning("task %s claimed while stopping; it runs at the next start",
                           record.id)

    def _store_one_by_one(self, outcomes: list[Outcome]) -> list[Outcome]:
        """After a failed turn: store each outcome alone, so that one the database refuses
        (a result too big for it) cannot block every other task. One refused alone is stored
        as a failure of its task; the others stay pending if the database is down."""
        still_pending: list[Outcome] = []
        for outcome in outcomes:
            try:
                self._store.finish([outcome])
            except (StoreUnavailableError, StoreFullError):
                still_pending.append(outcome)
                continue
            except Exception as exc:
                replacement = unstorable(outcome, exc)
                try:
                    self._store.finish([replacement])
                except Exception:
                    still_pending.append(outcome)
                    continue
                logger.error("the outcome of task %s cannot be stored (%s); stored as failed",
                             outcome.task_id, exc)
                outcome = replacement
            self._on_finished([outcome])
        return still_pending

    def _run_and_release(self, run: _Run) -> None:
        record, outcome = run.record, None
        log_started(record.id, record.name, record.attempts)
        clock = time.monotonic()
        try:
            outcome = self._run(record, run.context)  # run() never raises
        finally:
            # Under the lock: `_time_out_overdue` times out only registered runs, so either
            # this outcome or the TIMED_OUT one is stored, never both.
            with self._runs_lock:
                self._forget(run)
                timed_out = run.timed_out
            if timed_out:
                logger.warning("task %s (%s) returned after its time limit; its outcome is "
                               "dropped and its slot free again", record.id, record.name)
            elif outcome is not None:
                log_finished(record.name, outcome, time.monotonic() - clock)
                self._metrics.task_finished(record.name, outcome.status.value,
                                            _duration_s(outcome))
                self._finished.put(outcome)
            self._quotas.release(record.name)
            self.notify()

    def _forget(self, run: _Run) -> None:
        """Drop a run (the lock held): only this one, not a newer run of the same task (a
        timed-out run retried while its thread still runs)."""
        if self._runs.get(run.record.id) is run:
            del self._runs[run.record.id]

    def _take_finished(self) -> list[Outcome]:
        outcomes = []
        while True:
            try:
                outcomes.append(self._finished.get_nowait())
            except queue.Empty:
                return outcomes

    def _flush(self) -> None:
        outcomes = self._take_finished()
        if not outcomes:
            return
        try:
            self._store.finish(outcomes)
        except Exception:
            if self._store_one_by_one(outcomes):
                logger.error("could not store every finished task; those not stored run "
                             "again at the next start")
            return
        self._on_finished(outcomes)


def _duration_s(outcome: Outcome) -> float | None:
    if outcome.started_at is None or outcome.finished_at is None:
        return None
    return max(0.0, (outcome.finished_at - outcome.started_at).total_seconds())
