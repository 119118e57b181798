"""`Suspects`: the runs that a crash interrupted, which start one at a time on a server."""

from __future__ import annotations

from collections.abc import Iterable

from ..records import TaskRecord


class Suspects:
    """Any run of a server that died may be what killed it. This server starts them one at
    a time (the store's other claims leave them alone), so a poison pill that kills it again
    takes no other suspect with it.

    Knows which of them it holds (claimed, running or waiting for a worker) and whether a
    turn should look for one: after a poll, a due time, a notice, or the end of the last."""

    def __init__(self) -> None:
        self._here: set[int] = set()
        self._look = True

    def may_start_one(self) -> bool:
        """True if a turn should try to claim one: none is held here, and one may wait."""
        return self._look and not self._here

    def look_again(self) -> None:
        """One may have come due, or been queued."""
        self._look = True

    def none_due(self) -> None:
        """A turn looked and found none it could start."""
        self._look = False

    def claimed(self, records: Iterable[TaskRecord]) -> None:
        """Records a turn claimed here: remember those of interrupted runs."""
        for record in records:
            if record.interruptions:
                self._here.add(record.id)

    def ended(self, task_id: int) -> None:
        """`task_id` ran, was released or withdrawn: if it was a suspect, the next may
        start."""
        if task_id in self._here:
            self._here.discard(task_id)
            self._look = True
