"""`StatsKeeper`: the `deferred-stats` thread, which keeps the dashboard's statistics: it rolls
finished tasks up into buckets every few seconds, samples the queue once a minute and prunes
old buckets once an hour. Each step is its own short transaction."""

from __future__ import annotations

import datetime
import logging
from collections.abc import Callable, Sequence
from typing import Protocol

from ..background import BackgroundThread
from ..records import utcnow

logger = logging.getLogger(__name__)

EVERY_S = 5.0
BETWEEN_PASSES_S = 0.02  # lets the dispatcher's transactions in while catching up
PRUNE_EVERY_S = 3600.0


class StatsStore(Protocol):
    """What the keeper needs of the store's statistics (see `store.stats.SqlStats`)."""

    def roll_up(self, span: int, now: datetime.datetime) -> bool: ...

    def sample_queue(self, now: datetime.datetime, names: Sequence[str]) -> bool: ...

    def prune(self, now: datetime.datetime) -> int: ...


class StatsKeeper(BackgroundThread):
    """Rolls up `spans` (finest first) of `stats`, samples the queue of `names()` (the task
    types this server knows; others with tasks are sampled too) and prunes."""

    def __init__(self, stats: StatsStore, spans: Sequence[int], names: Callable[[], list[str]],
                 *, every_s: float = EVERY_S,
                 clock: Callable[[], datetime.datetime] = utcnow) -> None:
        super().__init__("deferred-stats")
        self._stats, self._spans, self._names = stats, tuple(spans), names
        self._every_s, self._clock = every_s, clock
        self._sampled_minute: datetime.datetime | None = None
        self._pruned_at: datetime.datetime | None = None

    def _loop(self) -> None:
        while not self._stopping.is_set():
            try:
                self.keep_once()
            except Exception as exc:  # the database is down or full: next time
                logger.warning("keeping the dashboard's statistics failed: %s", exc)
            self._stopping.wait(self._every_s)

    def keep_once(self) -> None:
        """Sample the queue if this minute has no sample from here yet, roll every span up
        to date, then prune if an hour has passed."""
        now = self._clock()
        minute = now.replace(second=0, microsecond=0)
        if minute != self._sampled_minute:
            self._stats.sample_queue(now, self._names())
            self._sampled_minute = minute
        for span in self._spans:
            while not self._stopping.is_set() and self._stats.roll_up(span, self._clock()):
                self._stopping.wait(BETWEEN_PASSES_S)
        if self._pruned_at is None or (now - self._pruned_at).total_seconds() >= PRUNE_EVERY_S:
            deleted = self._stats.prune(now)
            if deleted:
                logger.info("pruned %d old rows of the dashboard's statistics", deleted)
            self._pruned_at = now
