"""`Runs`: the tasks running here, each in a worker thread: their contexts, time limits and
cancel requests, and the outcomes they leave for the next turn to store."""

from __future__ import annotations

import dataclasses
import functools
import logging
import queue
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from ..errors import one_line
from ..records import Outcome, TaskError, TaskRecord, TaskStatus, utcnow
from ..tasks.context import TaskContext
from .metrics import Metrics
from .runner import log_started

logger = logging.getLogger(__name__)

FollowUpSubmitter = Callable[[TaskContext, str, Mapping[str, Any] | None, Mapping[str, Any]],
                             int]
"""How a running task submits a follow-up: `(its context, name, params, options)` to the new
task's id."""

Finished = tuple[Outcome, TaskRecord]
"""An outcome to store, with the record of the run that produced it."""

SHORT_RUN_S = 0.1
"""A task whose recent runs took less than this on average is short: records of it are
taken ahead of the free workers (a turn is a few milliseconds, a good share of a short run;
a long one would show RUNNING while it waited)."""
_RECENT = 0.2  # the weight of the latest run in the running mean


def unstorable(outcome: Outcome, exc: BaseException) -> Outcome:
    """A failure to store in place of an outcome the database refused."""
    return dataclasses.replace(
        outcome, status=TaskStatus.FAILED, result_json=None, files=(),
        error=TaskError("InvalidResultError", f"the result cannot be stored: {one_line(exc)}"))


@dataclasses.dataclass(eq=False)
class _Run:
    """The bookkeeping of one run: what the task itself sees is its `context`."""

    record: TaskRecord
    context: TaskContext
    limit_s: float | None  # its time limit
    deadline: float | None  # time.monotonic() past which it is timed out
    timed_out: bool = False


class Runs:
    """Runs records in the calling (worker) thread and keeps what they produced.

    `run(record, context)` runs a task and never raises; `report_progress(record, percent,
    message)` stores a progress report. Outcomes wait in `take_finished()` for the next
    turn; `on_done(record)` is called once a run's slot may be given back.
    """

    def __init__(self, run: Callable[[TaskRecord, TaskContext], Outcome], *,
                 timeout_of: Callable[[TaskRecord], float | None],
                 report_progress: Callable[[TaskRecord, float, str | None], None],
                 submit_follow_up: FollowUpSubmitter | None, metrics: Metrics,
                 on_done: Callable[[TaskRecord], None]) -> None:
        self._run, self._timeout_of = run, timeout_of
        self._report_progress, self._submit_follow_up = report_progress, submit_follow_up
        self._metrics, self._on_done = metrics, on_done
        self._finished: queue.SimpleQueue[Finished] = queue.SimpleQueue()
        self._runs: dict[int, _Run] = {}  # the tasks running here, by id
        self._lock = threading.Lock()
        self._mean_s: dict[str, float] = {}  # recent run time per task name

    def run(self, record: TaskRecord) -> None:
        """Run `record` here (a worker thread), and leave its outcome for the next turn."""
        context = TaskContext(record.id, record.name, record.attempts,
                              functools.partial(self._report_progress, record),
                              self._submit_follow_up)
        if record.cancel_requested:
            context.request_cancel()
        limit_s = self._timeout_of(record)
        run = _Run(record, context, limit_s,
                   None if limit_s is None else time.monotonic() + limit_s)
        with self._lock:
            self._runs[record.id] = run
        self._metrics.task_started(record.name)
        log_started(record.id, record.name, record.attempts)
        clock, outcome = time.monotonic(), None
        try:
            outcome = self._run(record, context)  # never raises
        finally:
            # Under the lock: `time_out_overdue` times out only registered runs, so either
            # this outcome or the TIMED_OUT one is stored, never both.
            with self._lock:
                self._forget(run)
                timed_out = run.timed_out
            if timed_out:
                logger.warning("task %s (%s) returned after its time limit; its outcome is "
                               "dropped and its slot free again", record.id, record.name)
            elif outcome is not None:
                took_s = time.monotonic() - clock
                mean_s = self._mean_s.get(record.name)
                self._mean_s[record.name] = took_s if mean_s is None else (
                    mean_s + _RECENT * (took_s - mean_s))
                self._metrics.task_finished(record.name, outcome.status.value,
                                            _duration_s(outcome))
                self._finished.put((outcome, record))
            self._on_done(record)

    def is_short(self, name: str) -> bool:
        """True if the recent runs of `name` here were short (see `SHORT_RUN_S`); False for
        a name not run yet."""
        mean_s = self._mean_s.get(name)
        return mean_s is not None and mean_s < SHORT_RUN_S

    def cancelled_before_start(self, record: TaskRecord) -> None:
        """A record taken ahead was cancelled before a worker took it: it ends CANCELLED
        without running."""
        self._finished.put((Outcome(record.id, record.attempts, TaskStatus.CANCELLED,
                                    finished_at=utcnow(), email=record.email), record))

    def put_back(self, finished: list[Finished]) -> None:
        """Outcomes a turn could not store, for the next one."""
        for item in finished:
            self._finished.put(item)

    def take_finished(self) -> list[Finished]:
        """Every outcome waiting to be stored."""
        outcomes = []
        while True:
            try:
                outcomes.append(self._finished.get_nowait())
            except queue.Empty:
                return outcomes

    def has_finished(self) -> bool:
        """True if an outcome waits to be stored."""
        return not self._finished.empty()

    def request_cancel(self, task_id: int) -> bool:
        """Tell the run of `task_id`, if it runs here, that it was asked to stop; True if it
        does."""
        with self._lock:
            run = self._runs.get(task_id)
        if run is not None:
            run.context.request_cancel()
        return run is not None

    def cancel_all(self) -> None:
        """Ask every run to stop, which kills the child of a process-isolated one at once (a
        thread can only be asked)."""
        with self._lock:
            running = list(self._runs.values())
        for run in running:
            run.context.request_cancel()

    def not_yet_asked(self) -> list[int]:
        """The ids of the runs not asked to stop yet."""
        with self._lock:
            return [task_id for task_id, run in self._runs.items()
                    if not run.context.cancel_requested]

    def time_out_overdue(self) -> list[Finished]:
        """TIMED_OUT outcomes for the runs past their deadline, which are asked to stop.
        Python cannot stop a thread: their slots stay taken until their code returns, and
        what they return then is dropped."""
        now, overdue = time.monotonic(), []
        with self._lock:
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
            outcomes.append((outcome, record))
        return outcomes

    def until_deadline_s(self, wait_s: float) -> float:
        """`wait_s`, or less when a running task's deadline comes sooner."""
        with self._lock:
            deadlines = [run.deadline for run in self._runs.values()
                         if run.deadline is not None and not run.timed_out]
        if not deadlines:
            return wait_s
        return max(0.0, min(wait_s, min(deadlines) - time.monotonic()))

    def _forget(self, run: _Run) -> None:
        """Drop a run (the lock held): only this one, not a newer run of the same task (a
        timed-out run retried while its thread still runs)."""
        if self._runs.get(run.record.id) is run:
            del self._runs[run.record.id]


def _duration_s(outcome: Outcome) -> float | None:
    if outcome.started_at is None or outcome.finished_at is None:
        return None
    return max(0.0, (outcome.finished_at - outcome.started_at).total_seconds())
