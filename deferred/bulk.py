"""Acting on many task records at once: what a bulk action does (`BulkAction`), which records
it takes (`TaskSelection`) and what it found and changed (`BulkCounts`, one `BulkBatch` per
transaction).

A bulk action takes the records one batch at a time, each batch its own transaction, so a
selection of 100,000 records never holds the write lock for long; each record is changed by
the same guarded transition as its single action, and one that the action does not apply to
(a succeeded task to retry, a running one to delete) is skipped and counted.
"""

from __future__ import annotations

import dataclasses
import enum

from .records import TaskStatus

MAX_BULK_IDS = 10_000
"""The most ids one bulk action may name; a larger selection goes by filter."""


class BulkAction(str, enum.Enum):
    """What a bulk action does to each record it takes."""

    CANCEL = "cancel"  # QUEUED: cancelled at once; RUNNING: asked to stop
    RETRY = "retry"  # FAILED, CANCELLED, TIMED_OUT: queued again, its history kept
    DELETE = "delete"  # any finished one: deleted with its files, history and email

    @property
    def done(self) -> str:
        """The past participle the UI and the audit log write: `retried`."""
        return {"cancel": "cancelled", "retry": "retried", "delete": "deleted"}[self.value]

    def __str__(self) -> str:
        return self.value


@dataclasses.dataclass(frozen=True)
class TaskSelection:
    """The records a bulk action takes: those of `ids` when given, else every record the
    filters match, as the task list's do: `status` (or with `finished` any finished one),
    `name`, and `text` in the id, name, params, result or error message (any case). No
    filter at all selects every record."""

    ids: tuple[int, ...] | None = None
    status: TaskStatus | None = None
    finished: bool = False
    name: str | None = None
    text: str | None = None

    def describe(self) -> str:
        """The selection in a few words, for the audit log: `ids 3, 4` or
        `status=FAILED, task_name='mail'`."""
        if self.ids is not None:
            return "ids " + ", ".join(str(task_id) for task_id in sorted(self.ids))
        parts = [f"status={self.status}"] if self.status is not None else []
        parts += ["status=finished"] if self.finished and self.status is None else []
        parts += [f"task_name={self.name!r}"] if self.name is not None else []
        parts += [f"q={self.text!r}"] if self.text else []
        return "filter " + ", ".join(parts) if parts else "every task"


@dataclasses.dataclass(frozen=True)
class BulkCounts:
    """What a bulk action found and did: records `matched` (of the ids, those that exist),
    `changed` (of them, `asked_to_stop`: running ones a cancel asked to stop) and the ids
    no record has (`not_found`). The rest of `matched` was `skipped`: the action does not
    apply to its status. A preview counts what `changed` would be."""

    matched: int = 0
    changed: int = 0
    asked_to_stop: int = 0
    not_found: int = 0

    @property
    def skipped(self) -> int:
        """Records matched that the action did not change."""
        return self.matched - self.changed

    def __add__(self, other: BulkCounts) -> BulkCounts:
        return BulkCounts(*(mine + theirs for mine, theirs in zip(
            dataclasses.astuple(self), dataclasses.astuple(other))))


@dataclasses.dataclass(frozen=True)
class BulkBatch:
    """One committed transaction of a bulk action: its counts, and the ids whose change the
    server acts on once it committed: `cancelled` (their waiters answer), `asked_to_stop`
    (their runs are told), `queued` (the dispatcher looks for work)."""

    counts: BulkCounts
    cancelled: tuple[int, ...] = ()
    asked_to_stop: tuple[int, ...] = ()
    queued: tuple[int, ...] = ()
