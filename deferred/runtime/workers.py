"""`Workers`: the threads that run tasks, each taking the next ready record itself."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from ..records import TaskRecord
from .ready import ReadyRuns

logger = logging.getLogger(__name__)


class Workers:
    """`size` named threads; each takes the next record from `ready` and runs it with
    `run`, until `ready` is closed.

    A worker that is done starts its next task at once when one is ready: no hand-over
    through another thread. A task that never returns keeps its thread, as a thread pool's
    would: `runserver` exits without it (`os._exit`) once `stop` gave up on it.
    """

    def __init__(self, size: int, ready: ReadyRuns,
                 run: Callable[[TaskRecord], None]) -> None:
        self._ready, self._run = ready, run
        self._threads = [threading.Thread(target=self._loop, name=f"deferred-worker_{number}")
                         for number in range(1, size + 1)]

    def start(self) -> None:
        """Start the threads."""
        for thread in self._threads:
            thread.start()

    def _loop(self) -> None:
        while (record := self._ready.take()) is not None:
            try:
                self._run(record)
            except BaseException:  # `run` stores every outcome itself; this is a bug
                logger.exception("worker failed running task %s", record.id)

    def stop(self, timeout_s: float) -> bool:
        """Wait up to `timeout_s` for the threads to end (close `ready` first). True if
        they all did."""
        deadline = time.monotonic() + timeout_s
        for thread in self._threads:
            if thread.is_alive():
                thread.join(max(0.0, deadline - time.monotonic()))
        return not any(thread.is_alive() for thread in self._threads)
