"""Group commit: threads that add rows at the same time share one transaction and one fsync."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

In = TypeVar("In")
Out = TypeVar("Out")


class _Slot(Generic[In, Out]):
    __slots__ = ("value", "result", "error", "done")

    def __init__(self, value: In) -> None:
        self.value = value
        self.result: Out | None = None
        self.error: BaseException | None = None
        self.done = False


class GroupCommitter(Generic[In, Out]):
    """Commits values in batches without a thread of its own.

    The first caller to find no commit under way becomes the leader: it commits every value
    waiting at that moment, its own included, and wakes their callers. Callers that arrive
    during a commit wait for it and then one of them leads the next. Each caller returns once
    its value is committed, or raises the batch's error.
    """

    def __init__(self, commit: Callable[[Sequence[In]], Sequence[Out]]) -> None:
        self._commit = commit
        self._changed = threading.Condition()
        self._waiting: list[_Slot[In, Out]] = []
        self._committing = False

    def submit(self, value: In) -> Out:
        """Commit `value` (with whatever else waits) and return what the commit made of it."""
        slot: _Slot[In, Out] = _Slot(value)
        with self._changed:
            self._waiting.append(slot)
            while self._committing and not slot.done:
                self._changed.wait()
            if not slot.done:
                self._committing = True
                batch, self._waiting = self._waiting, []
        if not slot.done:
            self._lead(batch)
        if slot.error is not None:
            raise slot.error
        return slot.result  # type: ignore[return-value]

    def _lead(self, batch: list[_Slot[In, Out]]) -> None:
        try:
            results = self._commit([item.value for item in batch])
            for item, result in zip(batch, results, strict=True):
                item.result = result
        except BaseException as exc:  # every caller of the batch sees the error
            for item in batch:
                item.error = exc
        finally:
            with self._changed:
                for item in batch:
                    item.done = True
                self._committing = False
                self._changed.notify_all()
