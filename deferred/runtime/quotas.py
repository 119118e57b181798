"""`Quotas`: how many tasks run now, in total and per name, against the configured limits."""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from typing import Protocol


class TaskNames(Protocol):
    """Where the names of the tasks this server runs come from (a `TaskRegistry`): a task
    registered after the start is claimed too."""

    @property
    def revision(self) -> int:
        """A number that changes whenever a name is added."""

    def names(self) -> Sequence[str]:
        """The names now."""


class Quotas:
    """Counts running tasks of this server against `global_limit` and per-name limits.

    A slot is taken when a worker starts a record (`ReadyRuns.take`) and given back when
    its task returns. Guards memory only; callers never hold it across SQL or task code.
    """

    def __init__(self, global_limit: int, name_limits: Mapping[str, int],
                 task_names: TaskNames) -> None:
        self.global_limit = global_limit
        self.name_limits = dict(name_limits)
        self._source = task_names
        self._revision = task_names.revision
        self._task_names = tuple(task_names.names())
        self._running: dict[str, int] = {}
        self._total = 0
        self._changed = threading.Condition()

    @property
    def task_names(self) -> tuple[str, ...]:
        """The names whose records this server may claim, read again once one is added."""
        revision = self._source.revision
        if revision != self._revision:  # one attribute read per turn otherwise
            self._task_names = tuple(self._source.names())
            self._revision = revision
        return self._task_names

    def running(self) -> tuple[int, dict[str, int]]:
        """How many tasks run now, in total and per name."""
        with self._changed:
            return self._total, dict(self._running)

    def try_acquire(self, name: str) -> bool:
        """Take a slot for `name` if the limits allow; True if taken."""
        with self._changed:
            limit = self.name_limits.get(name)
            if self._total >= self.global_limit or (
                    limit is not None and self._running.get(name, 0) >= limit):
                return False
            self._running[name] = self._running.get(name, 0) + 1
            self._total += 1
            return True

    def release(self, name: str) -> None:
        """Count one task of `name` fewer."""
        with self._changed:
            self._running[name] -= 1
            self._total -= 1
            self._changed.notify_all()

    def wait_until_idle(self, timeout_s: float) -> bool:
        """Wait until nothing runs, at most `timeout_s`. True if nothing runs."""
        deadline = time.monotonic() + timeout_s
        with self._changed:
            while self._total:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._changed.wait(left)
            return True
