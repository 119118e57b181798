"""`TaskHandle`: what `Server.submit()` and `task.delay()` give back."""

from __future__ import annotations

import math
from typing import Any

from ..errors import TaskCancelledError, TaskFailedError
from ..interfaces import TaskService
from ..records import TaskError, TaskRecord, TaskStatus


class TaskHandle:
    """A submitted task record: its id, and its status and result as they are now."""

    def __init__(self, service: TaskService, record: TaskRecord) -> None:
        self._service = service
        self.id: int = record.id
        self.name: str = record.name

    def __repr__(self) -> str:
        return f"<TaskHandle {self.id} {self.name!r}>"

    @property
    def record(self) -> TaskRecord:
        """The whole record, read now."""
        return self._service.get(self.id)

    @property
    def status(self) -> TaskStatus:
        """The status now."""
        return self.record.status

    @property
    def ready(self) -> bool:
        """True once the task has finished, well or not."""
        return self.status.is_terminal

    @property
    def result(self) -> Any:
        """The result if the task succeeded, else None."""
        record = self.record
        return record.result if record.status is TaskStatus.SUCCEEDED else None

    @property
    def error(self) -> TaskError | None:
        """Why the task failed, if it did."""
        return self.record.error

    def wait(self, timeout_s: float | None = None) -> Any:
        """Wait until the task finishes and return its result.

        Raises `TaskFailedError` if it failed or timed out, `TaskCancelledError` if it was cancelled, and
        `TimeoutError` if it has not finished within `timeout_s` (None: as long as it takes).
        """
        record = self._service.wait(self.id, math.inf if timeout_s is None else timeout_s)
        if record.status is TaskStatus.SUCCEEDED:
            return record.result
        if record.status in (TaskStatus.FAILED, TaskStatus.TIMED_OUT):
            error = record.error
            detail = f"{error.type}: {error.message}" if error else "unknown error"
            raise TaskFailedError(f"task {record.name!r} ({record.id}) failed: {detail}")
        if record.status is TaskStatus.CANCELLED:
            raise TaskCancelledError(f"task {record.name!r} ({record.id}) was cancelled")
        raise TimeoutError(f"task {record.name!r} ({record.id}) is still {record.status}")
