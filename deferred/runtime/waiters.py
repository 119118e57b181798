"""`Waiters`: threads waiting for task records to finish, woken when they do."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterable, Iterator


class Waiters:
    """An event per watcher, set when the task it watches may have finished.

    Each watcher has its own event, so one clearing it never hides a wake-up from another.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._events: dict[int, list[threading.Event]] = {}

    @contextlib.contextmanager
    def watch(self, task_id: int) -> Iterator[threading.Event]:
        """An event set whenever `task_id` may have finished, for the time of the block."""
        event = threading.Event()
        with self._lock:
            self._events.setdefault(task_id, []).append(event)
        try:
            yield event
        finally:
            with self._lock:
                watchers = self._events[task_id]
                watchers.remove(event)
                if not watchers:
                    del self._events[task_id]

    def wake(self, task_ids: Iterable[int]) -> None:
        """Wake the watchers of these ids."""
        with self._lock:
            events = [event for task_id in task_ids for event in self._events.get(task_id, ())]
        for event in events:
            event.set()

    def wake_all(self) -> None:
        """Wake every watcher (the server is stopping)."""
        with self._lock:
            events = [event for watchers in self._events.values() for event in watchers]
        for event in events:
            event.set()
