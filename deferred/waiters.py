"""`Waiters`: threads waiting for task records to finish, woken when they do."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterable, Iterator


class Waiters:
    """An event per watched task id, shared by everyone watching it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._events: dict[int, tuple[threading.Event, int]] = {}

    @contextlib.contextmanager
    def watch(self, task_id: int) -> Iterator[threading.Event]:
        """An event set whenever `task_id` may have finished, for the time of the block."""
        with self._lock:
            event, count = self._events.get(task_id, (threading.Event(), 0))
            self._events[task_id] = (event, count + 1)
        try:
            yield event
        finally:
            with self._lock:
                event, count = self._events[task_id]
                if count == 1:
                    del self._events[task_id]
                else:
                    self._events[task_id] = (event, count - 1)

    def wake(self, task_ids: Iterable[int]) -> None:
        """Wake the watchers of these ids."""
        with self._lock:
            events = [self._events[task_id][0] for task_id in task_ids if task_id in self._events]
        for event in events:
            event.set()

    def wake_all(self) -> None:
        """Wake every watcher (the server is stopping)."""
        with self._lock:
            events = [event for event, _ in self._events.values()]
        for event in events:
            event.set()
