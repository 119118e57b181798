"""Running one claimed record: its task, in this thread, to an `Outcome`."""

from __future__ import annotations

import dataclasses
import datetime
import functools
import logging
import traceback
from collections.abc import Collection, Sequence
from typing import Any

from ..tasks.context import TaskContext, running
from ..errors import (DeferredError, InvalidResultError, TaskCancelledError, TaskProcessError,
                      one_line)
from .isolation import run_in_process
from ..records import Outcome, TaskError, TaskRecord, TaskStatus, utcnow
from ..tasks.registry import TaskRegistry
from ..result import Result, ResultFile, encode_result
from ..tasks import BaseTask

logger = logging.getLogger(__name__)

DEFAULT_MAX_RESULT_BYTES = 100 * 1024 * 1024


def check_result_size(result_json: str, files: tuple[ResultFile, ...], limit_bytes: int) -> None:
    """Raise `InvalidResultError` when a result is too big to keep."""
    size = len(result_json.encode("utf-8")) + sum(len(item.data) for item in files)
    if size > limit_bytes:
        raise InvalidResultError(f"the result is {size} bytes, over the limit of {limit_bytes} "
                                 "(max_result_bytes)", where="result")


def log_started(task_id: int, name: str, attempt: int) -> None:
    """The line (INFO) that says a run starts; `extra=` carries its fields for the JSON log."""
    if logger.isEnabledFor(logging.INFO):
        logger.info("task %s (%s) attempt %d started", task_id, name, attempt,
                    extra={"task_id": task_id, "task_name": name, "attempt": attempt})


def log_finished(name: str, outcome: Outcome, duration_s: float, note: str = "") -> None:
    """The line that says how a run ended: INFO (WARNING for a time-out), with its status
    (FAILED, and when, for a failure that will be retried), duration and error."""
    status = TaskStatus.FAILED if outcome.status is TaskStatus.QUEUED else outcome.status
    level = logging.WARNING if status is TaskStatus.TIMED_OUT else logging.INFO
    if not logger.isEnabledFor(level):
        return
    text = "task %s (%s) attempt %d %s in %.3fs"
    args: list[Any] = [outcome.task_id, name, outcome.attempt, status.value, duration_s]
    extra: dict[str, Any] = {"task_id": outcome.task_id, "task_name": name,
                             "attempt": outcome.attempt, "duration_s": round(duration_s, 6),
                             "status": status.value}
    if outcome.error is not None:
        extra["error"] = f"{outcome.error.type}: {outcome.error.message}"
        text, args = text + ": %s", [*args, extra["error"]]
    if outcome.retry_at is not None:
        extra["retry_at"] = outcome.retry_at.isoformat(timespec="milliseconds").replace(
            "+00:00", "Z")
        text, args = text + "; will retry at %s", [*args, extra["retry_at"]]
    if note:
        text, args = text + "; %s", [*args, note]
    logger.log(level, text, *args, extra=extra)


def log_stored(finished: Sequence[tuple[Outcome, TaskRecord]],
               dropped: Collection[tuple[int, int]] = ()) -> None:
    """The lines that say how runs ended, once their outcomes are committed (a crash before
    the commit runs them again, so the log never says SUCCEEDED for a run that is redone);
    those in `dropped` (task id, attempt) were not stored and were logged as such."""
    for outcome, record in finished:
        if (outcome.task_id, outcome.attempt) in dropped:
            continue
        started = outcome.started_at or record.started_at
        finished_at = outcome.finished_at
        took_s = (finished_at - started).total_seconds() if started and finished_at else 0.0
        note = ""
        if outcome.status is TaskStatus.TIMED_OUT:
            note = "asked to stop, its slot stays taken until it returns"
        elif outcome.status is TaskStatus.SUCCEEDED and outcome.asked_to_stop:
            note = "asked to stop, finished anyway"
        log_finished(record.name, outcome, max(took_s, 0.0), note)


def run_record(registry: TaskRegistry, record: TaskRecord, context: TaskContext | None = None,
               *, max_result_bytes: int = DEFAULT_MAX_RESULT_BYTES) -> Outcome:
    """Run the record's task with its params and return what happened; never raises.

    The params are checked again: the task's schema may have changed since the submit. A
    result (its JSON and files together) over `max_result_bytes` is a failure. A run asked
    to stop (through `context`) that did not finish its work ends CANCELLED, with whatever
    error it left; one that returned its result anyway SUCCEEDED (its record keeps that it
    was asked to stop).
    """
    context = context or TaskContext(record.id, record.name, record.attempts)
    outcome = _run(registry, record, context, max_result_bytes)
    if not context.cancel_requested:
        return outcome
    if outcome.status is TaskStatus.SUCCEEDED:
        return dataclasses.replace(outcome, asked_to_stop=True)
    return dataclasses.replace(outcome, status=TaskStatus.CANCELLED, retry_at=None,
                               asked_to_stop=True)


def _run(registry: TaskRegistry, record: TaskRecord, context: TaskContext,
         max_result_bytes: int) -> Outcome:
    started = utcnow()  # a record claimed ahead started later than its claim
    task_class = None
    try:
        task_class = registry.get(record.name)
        params = task_class.check_params(dict(record.params))
        if task_class.percent is not None:
            _start_percent(task_class, params, context)
        with running(context):
            if task_class.isolation == "process":
                value: Any = run_in_process(functools.partial(_call, task_class, params),
                                            context)
            else:
                value = task_class().run(**params)
        result_json = encode_result(value.msg if isinstance(value, Result) else value)
        files = value.files if isinstance(value, Result) else ()
        check_result_size(result_json, files, max_result_bytes)
    except BaseException as exc:  # a worker thread never sees KeyboardInterrupt
        # A user mistake shows its code; a task's own error (in a child too) does not.
        coded = isinstance(exc, DeferredError) and not isinstance(
            exc, (TaskCancelledError, TaskProcessError))
        message = f"error {int(exc.code)}: {exc}" if coded else one_line(exc)
        type_name = getattr(exc, "type_name", type(exc).__name__)[:200]
        error = TaskError(type_name, message,
                          getattr(exc, "child_traceback", "") or traceback.format_exc())
        retry_at = _retry_time(task_class, record, exc)
        return Outcome(record.id, record.attempts,
                       TaskStatus.FAILED if retry_at is None else TaskStatus.QUEUED,
                       error=error, started_at=started, finished_at=utcnow(),
                       email=record.email, retry_at=retry_at)
    return Outcome(record.id, record.attempts, TaskStatus.SUCCEEDED, result_json=result_json,
                   files=files, started_at=started, finished_at=utcnow(), email=record.email)


def _start_percent(task_class: type[BaseTask], params: dict[str, Any],
                   context: TaskContext) -> None:
    """Report the progress a task's `percent` function gives for its params."""
    percent = task_class.__dict__.get("percent") or task_class.percent
    try:
        value = percent(**params)  # type: ignore[misc]
        if value is not None:
            context.progress(max(0.0, min(100.0, float(value))))
    except Exception as exc:  # a progress figure is never worth failing the task for
        logger.warning("percent() of task %s (%s) failed: %s", context.task_id,
                       task_class.name, one_line(exc))


def _call(task_class: type[BaseTask], params: dict[str, Any]) -> Any:
    return task_class().run(**params)


def _retry_time(task_class: type[BaseTask] | None, record: TaskRecord, exc: BaseException
                ) -> datetime.datetime | None:
    """When a failed attempt runs again under its task's retry policy, or None."""
    if task_class is None:
        return None
    policy = task_class.retry_policy
    if not isinstance(exc, TaskProcessError) and isinstance(exc, DeferredError):
        return None  # a mistake in the params or the result does not get better by waiting
    if isinstance(exc, TaskProcessError):  # raised in a child: matched by class names
        named = any(kind.__name__ in exc.type_names for kind in policy.retry_on)
        if not (named and record.attempts <= policy.retries):
            return None
    elif not policy.should_retry(record.attempts, exc):
        return None
    delay_s = policy.delay_s(record.attempts)
    logger.debug("task %s (%s) runs again in %.1fs (attempt %d of %d)", record.id,
                 record.name, delay_s, record.attempts + 1, policy.retries + 1)
    return utcnow() + datetime.timedelta(seconds=delay_s)
