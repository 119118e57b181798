"""`TaskContext`: what a running task can know about its own run, through
`deferred.current()`: its id and attempt, and whether someone asked it to stop."""

from __future__ import annotations

import contextlib
import contextvars
import math
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from ..errors import NoServerError, NotInTaskError, TaskCancelledError

PROGRESS_EVERY_S = 0.2


class TaskContext:
    """One run of a task, as the task itself sees it."""

    def __init__(self, task_id: int | None, name: str, attempt: int,
                 report: Callable[[float, str | None], object] | None = None,
                 submit: Callable[..., int] | None = None) -> None:
        self.task_id, self.name, self.attempt = task_id, name, attempt
        self._submit = submit
        self._cancel = threading.Event()
        self._report = report
        self._reported_at = -math.inf

    def progress(self, percent: float, message: str | None = None) -> None:
        """Say how far the task is (0 to 100), with an optional message; the API and the UI
        show it while the task runs. Reports closer together than 0.2 s are dropped, except
        100 %. Raises `ValueError` for a percentage outside 0 to 100."""
        if isinstance(percent, bool) or not isinstance(percent, (int, float)) \
                or not 0 <= percent <= 100:
            raise ValueError(f"progress must be a number from 0 to 100, got {percent!r}")
        now = time.monotonic()
        if self._report is None or (now - self._reported_at < PROGRESS_EVERY_S
                                    and percent < 100):
            return
        self._reported_at = now
        self._report(float(percent), None if message is None else str(message)[:1000])

    @property
    def cancel_requested(self) -> bool:
        """True once someone asked this run to stop (`POST /api/tasks/{id}/cancel`)."""
        return self._cancel.is_set()

    def detach(self) -> None:
        """In a child process: no progress reports or follow-ups through the parent's
        connections."""
        self._report, self._submit = None, None

    def submit(self, task_name: str, params: Mapping[str, Any] | None = None,
               **options: Any) -> int:
        """Submit a follow-up task (its record links to this one); its id. `options` as
        `Server.submit` takes them. Raises `NoServerError` outside a server."""
        if self._submit is None:
            raise NoServerError("follow-up tasks need a server: this run is not on one")
        return self._submit(self, task_name, params, options)

    def check_cancelled(self) -> None:
        """Raise `TaskCancelledError` if this run was asked to stop: call it between steps."""
        if self._cancel.is_set():
            raise TaskCancelledError(f"task {self.task_id} was cancelled")

    def wait_cancelled(self, timeout_s: float) -> bool:
        """Sleep up to `timeout_s`, waking early when asked to stop; True if asked."""
        return self._cancel.wait(timeout_s)

    def request_cancel(self) -> None:
        """Ask this run to stop (the server calls it when the cancel reaches it)."""
        self._cancel.set()


# A context variable, not module state: each worker thread sees only its own run.
_CURRENT: contextvars.ContextVar[TaskContext | None] = contextvars.ContextVar(
    "deferred_task_context", default=None)


def current() -> TaskContext:
    """The context of the task running in this thread. Raises `NotInTaskError` elsewhere."""
    context = _CURRENT.get()
    if context is None:
        raise NotInTaskError("deferred.current() is only available inside a running task")
    return context


@contextlib.contextmanager
def running(context: TaskContext) -> Iterator[TaskContext]:
    """Make `context` the current one for the block (the task's run)."""
    token = _CURRENT.set(context)
    try:
        yield context
    finally:
        _CURRENT.reset(token)
