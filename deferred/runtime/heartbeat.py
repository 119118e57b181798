"""`Heartbeat`: keeps this server's heartbeat fresh in its row of `deferred_servers` and, on
a database shared by several servers, queues again the running tasks of servers whose
heartbeat has gone stale."""

from __future__ import annotations

import logging
from collections.abc import Callable

from ..background import BackgroundThread
from ..interfaces import TaskStore
from ..records import TaskRecord

logger = logging.getLogger(__name__)


class Heartbeat(BackgroundThread):
    """The `deferred-heartbeat` thread: every `interval_s`, a heartbeat, then (with
    `on_requeued`, on a shared database) a look for orphans; `on_requeued` is called with the
    records of those it queued again or failed (to say so and wake the dispatcher). Without
    it (SQLite, one server) it only beats: one short write."""

    def __init__(self, store: TaskStore, interval_s: float,
                 on_requeued: Callable[[list[TaskRecord]], None] | None) -> None:
        super().__init__("deferred-heartbeat")
        self._store, self._interval_s, self._on_requeued = store, interval_s, on_requeued

    def _loop(self) -> None:
        while not self._stopping.wait(self._interval_s):
            try:
                self.beat_once()
            except Exception as exc:  # the database is down: try again next time
                logger.warning("heartbeat failed (%s); trying again in %.1fs", exc,
                               self._interval_s)

    def beat_once(self) -> None:
        """One heartbeat and (on a shared database) one look for orphans."""
        if not self._store.beat():
            logger.error("this server was taken for dead (no heartbeat for longer than the "
                         "lease, e.g. it was paused); tasks it was running may have run "
                         "elsewhere, and their outcomes here are dropped")
        if self._on_requeued is None:
            return
        requeued = self._store.requeue_running()
        if requeued:
            self._on_requeued(requeued)
