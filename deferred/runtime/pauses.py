"""What a server knows of the paused task types (`PauseGate`), and the fence that makes a
pause exact when several servers share the database.

No claim takes a record of a paused type (the store leaves them out); what a server claimed
before the pause and has not started must not start after it either. One server's own pause
reaches its dispatcher before it is answered. On a shared database a server starts a claimed
record only while its latest reading of the pauses is younger than `PAUSE_FENCE_S`, and a
pause is answered only that long (and a quarter of a second more) after its commit: by then
every server's reading either shows the pause or is too old to start anything. Like a
lease, this is a promise about time, which a server's clock keeps as long as it runs at the
rate of the others (a paused process starts nothing: its reading is stale when it wakes).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from ..errors import one_line
from ..interfaces import PausedNames, PauseStore
from ..records import TaskRecord

if TYPE_CHECKING:
    from .ready import ReadyRuns

logger = logging.getLogger(__name__)

PAUSE_FENCE_S = 1.0
# Clocks of different machines may run at slightly different rates, and a worker that took a
# record just before the fence runs the task's code a moment later.
_FENCE_MARGIN_S = 0.25


class PauseGate:
    """The latest reading of the paused names this server took, and whether it is fresh
    enough to start a record by (always, with no `fence_s`: the database is this server's
    alone). Not thread-safe: its owner's lock guards it."""

    def __init__(self, fence_s: float | None) -> None:
        self.names: frozenset[str] = frozenset()
        self.fenced = fence_s is not None
        self._fence_s = fence_s or 0.0
        self._as_of = -math.inf

    def learn(self, paused: PausedNames) -> tuple[frozenset[str], frozenset[str]]:
        """Take `paused` if it is no older than the reading held: the names paused since
        that one, and those resumed. An older reading changes nothing."""
        if paused.as_of < self._as_of:
            return frozenset(), frozenset()
        added, removed = paused.names - self.names, self.names - paused.names
        self.names, self._as_of = paused.names, paused.as_of
        return added, removed

    def forget(self) -> None:
        """The pauses could not be read: with a fence, start nothing until they are."""
        self._as_of = -math.inf

    def is_fresh(self, now: float) -> bool:
        """True if a record may start by this reading (`now`: `time.monotonic()`)."""
        return not self.fenced or now - self._as_of < self._fence_s


def fence_wait_s(committed_at: float, now: float) -> float:
    """How long a pause committed at `committed_at` (`time.monotonic()`, after the commit)
    waits before it is answered, so that no server of a shared database starts a task of
    its type afterwards."""
    return max(0.0, committed_at + PAUSE_FENCE_S + _FENCE_MARGIN_S - now)


class PauseWatch:
    """Keeps `ready` up to date with the paused task types: reads them at start, when this
    server changed them, when another server said so, and when `ready` needs a fresh
    reading; learns them from each claim of a shared database. The records of a type newly
    paused are taken out of `ready` and given to `release` (queued again, their attempt not
    counted); `on_resumed` is called when a type was resumed."""

    def __init__(self, pauses: PauseStore, ready: ReadyRuns, *,
                 release: Callable[[list[TaskRecord]], None],
                 on_resumed: Callable[[], None], shared: bool) -> None:
        self._pauses, self._ready = pauses, ready
        self._release, self._on_resumed, self._shared = release, on_resumed, shared
        self._unknown = False  # read them again (another server changed them)

    def look_again(self) -> None:
        """Read them again at the next `read_if_wanted`."""
        self._unknown = True

    def read_if_wanted(self) -> None:
        """Read them if another server changed them or `ready` waits for a fresh reading."""
        if self._unknown or self._ready.wants_pauses:
            self._unknown = False
            self.read()

    def read(self, committed_at: float | None = None) -> None:
        """Read them now. `committed_at`: the `time.monotonic()` after a pause committed
        here; on a shared database, wait out the fence after it (`fence_wait_s`)."""
        try:
            paused = self._pauses.names()
        except Exception as exc:  # noqa: BLE001 (nothing starts by an old reading: read again)
            logger.warning("reading the paused task types failed (%s)", one_line(exc))
            self._ready.forget_pauses()
            self._unknown = True
        else:
            self.learn(paused)
        if committed_at is not None and self._shared:
            time.sleep(fence_wait_s(committed_at, time.monotonic()))

    def learn(self, paused: PausedNames) -> None:
        """Take a reading (a claim's, or one of `read`)."""
        withdrawn, resumed = self._ready.learn_pauses(paused)
        if withdrawn:
            logger.info("%d %s of paused types, claimed here and not started, queued again",
                        len(withdrawn), "task" if len(withdrawn) == 1 else "tasks")
            self._release(list(withdrawn))
        if resumed:
            self._on_resumed()

