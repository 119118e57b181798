"""`ReadyRuns`: records claimed here and not started yet, handed to workers as slots allow."""

from __future__ import annotations

import collections
import threading
from collections.abc import Sequence

from ..records import TaskRecord
from .quotas import Quotas


class ReadyRuns:
    """The records this server claimed ahead (the prefetch), oldest claim first.

    A worker takes the oldest one whose name has a free slot, and the slot with it, so the
    limits count what runs: a record of a name at its limit waits here, and the records
    behind it are not held up. Guards memory only; no SQL or task code runs under its lock.
    """

    def __init__(self, quotas: Quotas) -> None:
        self._quotas = quotas
        self._records: collections.deque[TaskRecord] = collections.deque()
        self._by_name: dict[str, int] = {}
        self._changed = threading.Condition()
        self._closed = False

    def put(self, records: Sequence[TaskRecord]) -> list[TaskRecord]:
        """Add claimed records, to start in this order as slots allow. Once closed, none is
        added: returns those refused."""
        if not records:
            return []
        with self._changed:
            if self._closed:
                return list(records)
            self._records.extend(records)
            for record in records:
                self._by_name[record.name] = self._by_name.get(record.name, 0) + 1
            self._changed.notify(len(records))
        return []

    def take(self) -> TaskRecord | None:
        """The oldest record whose name has a free slot, its slot taken; waits for one.
        None once closed."""
        with self._changed:
            while not self._closed:
                for index, record in enumerate(self._records):
                    if self._quotas.try_acquire(record.name):
                        del self._records[index]
                        self._by_name[record.name] -= 1
                        return record
                self._changed.wait()
            return None

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
