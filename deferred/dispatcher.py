"""`Dispatcher`: one thread that moves queued records into the worker pool while quotas allow."""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

from .errors import DeferredError
from .interfaces import TaskStore
from .quotas import Quotas
from .records import Outcome, TaskRecord

logger = logging.getLogger(__name__)

POLL_S = 1.0  # finds rows added by other servers; one server's submits wake us at once
RETRY_S = 1.0  # after the store failed


class Dispatcher:
    """Claims queued records when slots are free and runs them on a thread pool.

    Each turn stores the outcomes of the tasks that returned since the last turn and claims
    as many records as there are free slots, in one transaction. A slot is freed when its task
    returns; its record stays RUNNING until that commit, so nothing is claimed twice, and a
    crash before the commit runs the task again.
    """

    def __init__(self, store: TaskStore, quotas: Quotas, run: Callable[[TaskRecord], Outcome]
                 ) -> None:
        self._store, self._quotas, self._run = store, quotas, run
        self._listeners: list[Callable[[Sequence[Outcome]], None]] = []
        self._pool = ThreadPoolExecutor(quotas.global_limit, thread_name_prefix="deferred-worker")
        self._finished: queue.SimpleQueue[Outcome] = queue.SimpleQueue()
        self._wake, self._stopping = threading.Event(), threading.Event()
        self._thread = threading.Thread(target=self._loop, name="deferred-dispatcher")

    def add_finished_listener(self, listener: Callable[[Sequence[Outcome]], None]) -> None:
        """Call `listener` with each batch of outcomes once it is committed (before start)."""
        self._listeners.append(listener)

    def _on_finished(self, outcomes: Sequence[Outcome]) -> None:
        for listener in self._listeners:
            try:
                listener(outcomes)
            except Exception:
                logger.exception("a finished-task listener failed")

    def start(self) -> None:
        """Start the dispatcher thread."""
        self._thread.start()

    def notify(self) -> None:
        """There may be work: a task was submitted or a slot was freed."""
        self._wake.set()

    def stop(self, grace_s: float) -> bool:
        """Claim nothing more; give running tasks `grace_s`, store what they produced.

        True if all of them finished. Those still running keep their RUNNING rows, which the
        next start queues again; their threads are left to the caller's exit.
        """
        self._stopping.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join()
        finished = self._quotas.wait_until_idle(grace_s)
        self._flush()
        self._pool.shutdown(wait=finished, cancel_futures=True)
        return finished

    def _loop(self) -> None:
        pending: list[Outcome] = []
        while not self._stopping.is_set():
            self._wake.clear()  # before claiming, so a notify() during the claim is not lost
            pending.extend(self._take_finished())
            room, total = self._quotas.room()
            if not pending and total == 0:
                self._wake.wait(POLL_S)
                continue
            try:
                records = self._store.claim(room, total, pending)
            except DeferredError:
                logger.warning("the store failed; trying again in %.1fs", RETRY_S)
                self._stopping.wait(RETRY_S)
                continue
            except Exception:
                logger.exception("claiming tasks failed")
                self._stopping.wait(RETRY_S)
                continue
            done, pending = pending, []
            if done:
                self._on_finished(done)
            for record in records:
                self._quotas.acquire(record.name)
                self._pool.submit(self._run_and_release, record)
            if not records and not done:
                self._wake.wait(POLL_S)
        for outcome in pending:  # not stored yet: stop() stores them
            self._finished.put(outcome)

    def _run_and_release(self, record: TaskRecord) -> None:
        try:
            self._finished.put(self._run(record))  # run() never raises
        finally:
            self._quotas.release(record.name)
            self.notify()

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
        except DeferredError:
            logger.error("could not store %d finished tasks; they will run again at the next "
                         "start", len(outcomes))
            return
        self._on_finished(outcomes)
