"""`Scheduler`: the `deferred-scheduler` thread, which submits each firing of the periodic
tasks once, even with several servers on one database (the store keeps one row per schedule
and firing time; the second server to try a firing stores nothing)."""

from __future__ import annotations

import datetime
import logging
from collections.abc import Callable, Mapping
from typing import Protocol

from ..background import BackgroundThread
from ..records import utcnow
from .schedules import Schedule

logger = logging.getLogger(__name__)

RETRY_S = 1.0


class FiringStore(Protocol):
    """What the scheduler needs of a store (see `SqlTaskStore.fire`)."""

    def fire(self, name: str, fire_at: datetime.datetime) -> bool: ...
    def last_firing(self, name: str) -> datetime.datetime | None: ...


class Scheduler(BackgroundThread):
    """Fires `schedules` (task name to `Schedule`) through `store.fire`; after downtime a
    missed firing runs once at start, not once per missed slot. `on_fired` is called after
    a firing was stored here (to wake the dispatcher)."""

    def __init__(self, store: FiringStore, schedules: Mapping[str, Schedule],
                 on_fired: Callable[[], None]) -> None:
        super().__init__("deferred-scheduler")
        self._store, self._schedules, self._on_fired = store, dict(schedules), on_fired
        self._next: dict[str, datetime.datetime] = {}

    def start(self) -> None:
        """Start the thread (nothing to do without schedules)."""
        if self._schedules:
            super().start()

    def _loop(self) -> None:
        while not self._stopping.is_set():
            try:
                self._catch_up()
                break
            except Exception as exc:  # the database is down: try again
                logger.warning("the scheduler cannot read its firings (%s)", exc)
                self._stopping.wait(RETRY_S)
        while not self._stopping.is_set():
            wait_s = (min(self._next.values()) - utcnow()).total_seconds()
            if self._stopping.wait(max(0.0, wait_s)):
                return
            self._fire_due()

    def _catch_up(self) -> None:
        """Fire once a slot missed while no server ran (a schedule that fired before)."""
        now = utcnow()
        for name, schedule in self._schedules.items():
            last = self._store.last_firing(name)
            latest = schedule.latest_at_or_before(now)
            if last is not None and latest is not None and last < latest:
                self._next[name] = latest
            else:
                self._next[name] = schedule.next_after(now)

    def _fire_due(self) -> None:
        now = utcnow()
        for name, fire_at in list(self._next.items()):
            if fire_at > now:
                continue
            try:
                stored = self._store.fire(name, fire_at)
            except Exception as exc:  # tried again at the next turn
                logger.warning("cannot fire %s for %s (%s)", name, fire_at.isoformat(), exc)
                self._stopping.wait(RETRY_S)
                continue
            if stored:
                logger.info("fired %s for %s", name, fire_at.isoformat())
                self._on_fired()
            schedule = self._schedules[name]
            following = schedule.next_after(fire_at)
            if following <= now:  # behind (a pause): fire the latest slot once, not each
                following = schedule.latest_at_or_before(now) or schedule.next_after(now)
                if following <= fire_at:
                    following = schedule.next_after(now)
            self._next[name] = following
