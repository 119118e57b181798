"""`ReadyRuns`: records claimed here and not started yet, handed to workers as slots allow."""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Callable, Sequence

from ..interfaces import PausedNames
from ..records import TaskRecord
from .pauses import PauseGate
from .quotas import Quotas


class ReadyRuns:
    """The records this server claimed ahead (the prefetch), oldest claim first.

    A worker takes the oldest one whose name has a free slot, and the slot with it, so the
    limits count what runs: a record of a name at its limit waits here, and the records
    behind it are not held up. None of a paused task type is kept or started (see
    `PauseGate`): with `fence_s` (a shared database), none at all while the latest reading of
    the pauses is older than that, and `on_stale` is called for a new one. Guards memory
    only; no SQL or task code runs under its lock.
    """

    def __init__(self, quotas: Quotas, *, fence_s: float | None = None,
                 on_stale: Callable[[], None] = lambda: None) -> None:
        self._quotas = quotas
        self._records: collections.deque[TaskRecord] = collections.deque()
        self._by_name: dict[str, int] = {}
        self._changed = threading.Condition()
        self._closed = False
        self._gate = PauseGate(fence_s)
        self._on_stale = on_stale
        self._stale = False  # records wait for a fresh reading of the pauses

    def put(self, records: Sequence[TaskRecord]) -> list[TaskRecord]:
        """Add claimed records, to start in this order as slots allow. Once closed none is
        added, nor one of a paused type: returns those refused."""
        if not records:
            return []
        with self._changed:
            if self._closed:
                return list(records)
            refused = []
            if self._gate.names:
                refused = [record for record in records if record.name in self._gate.names]
                records = [record for record in records if record.name not in self._gate.names]
            self._records.extend(records)
            for record in records:
                self._by_name[record.name] = self._by_name.get(record.name, 0) + 1
            self._changed.notify(len(records))
        return refused

    def take(self) -> TaskRecord | None:
        """The oldest record whose name has a free slot, its slot taken; waits for one (and
        for a fresh reading of the pauses). None once closed."""
        gate = self._gate
        with self._changed:
            while not self._closed:
                if not gate.fenced or gate.is_fresh(time.monotonic()):
                    for index, record in enumerate(self._records):
                        if self._quotas.try_acquire(record.name):
                            del self._records[index]
                            self._by_name[record.name] -= 1
                            return record
                elif self._records and not self._stale:
                    self._stale = True
                    self._on_stale()
                self._changed.wait()
            return None

    def learn_pauses(self, paused: PausedNames) -> tuple[list[TaskRecord], bool]:
        """A reading of the paused task types (ignored if older than the one held). Returns
        the records of types it newly shows paused, taken out (to be queued again), and
        True if it shows a type resumed."""
        with self._changed:
            added, removed = self._gate.learn(paused)
            withdrawn = []
            if added and self._records:
                kept: collections.deque[TaskRecord] = collections.deque()
                for record in self._records:
                    (withdrawn if record.name in added else kept).append(record)
                self._records = kept
                for record in withdrawn:
                    self._by_name[record.name] -= 1
            if self._stale and self._gate.is_fresh(time.monotonic()):
                self._stale = False
                self._changed.notify_all()
            return withdrawn, bool(removed)

    def forget_pauses(self) -> None:
        """The pauses could not be read: with a fence, nothing starts until they are."""
        with self._changed:
            self._gate.forget()

    @property
    def wants_pauses(self) -> bool:
        """True when records wait for a fresh reading of the pauses."""
        return self._stale

    def done(self, name: str) -> None:
        """A run of `name` ended: its slot is free, and a record waiting for it may start."""
        self._quotas.release(name)
        with self._changed:
            if self._records:
                self._changed.notify_all()

    def withdraw(self, task_id: int) -> TaskRecord | None:
        """Take the record `task_id` out before it starts (it was cancelled); None if it is
        not waiting here."""
        with self._changed:
            for index, record in enumerate(self._records):
                if record.id == task_id:
                    del self._records[index]
                    self._by_name[record.name] -= 1
                    return record
        return None

    def held(self) -> tuple[int, dict[str, int]]:
        """How many records wait here, in total and per name."""
        with self._changed:
            return len(self._records), dict(self._by_name)

    def ids(self) -> list[int]:
        """The ids of the records waiting here."""
        with self._changed:
            return [record.id for record in self._records]

    def close(self) -> list[TaskRecord]:
        """Start nothing more: every `take` returns None. The records that never started."""
        with self._changed:
            self._closed = True
            left, self._records = list(self._records), collections.deque()
            self._by_name.clear()
            self._changed.notify_all()
            return left
