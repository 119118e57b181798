"""What the store hands back: frozen `TaskRecord`s, their `TaskStatus`, and run outcomes."""

from __future__ import annotations

import dataclasses
import datetime
import enum
from collections.abc import Mapping
from typing import Any

from .result import ResultFile


MAX_TASK_ID = 2**63 - 1
"""The largest id a task row can have (a signed 64-bit column): a larger one names none."""


class TaskStatus(str, enum.Enum):
    """Where a task record is in its life, spelled as the API writes it."""

    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    TIMED_OUT = "TIMED_OUT"

    @property
    def is_terminal(self) -> bool:
        """True once the record will not change status again."""
        return self in (TaskStatus.SUCCEEDED, TaskStatus.FAILED, TaskStatus.CANCELLED,
                        TaskStatus.TIMED_OUT)

    def __str__(self) -> str:
        return self.value


@dataclasses.dataclass(frozen=True)
class TaskError:
    """Why a run failed: the exception's type, its one-line message and the traceback."""

    type: str
    message: str
    traceback: str = ""


@dataclasses.dataclass(frozen=True)
class StoredFile:
    """A result file as stored: its download token, safe name, type and size."""

    token: str
    name: str
    content_type: str
    size_bytes: int


class EmailStatus(str, enum.Enum):
    """Where the email of a finished task is."""

    PENDING = "PENDING"  # waiting for its (next) try
    SENDING = "SENDING"  # handed to the mailer thread now
    SENT = "SENT"
    FAILED = "FAILED"  # a permanent refusal, or out of tries

    def __str__(self) -> str:
        return self.value


@dataclasses.dataclass(frozen=True)
class EmailDelivery:
    """The state of a task's result email."""

    status: EmailStatus
    recipient: str
    attempts: int = 0
    last_error: str | None = None
    next_attempt_at: datetime.datetime | None = None
    sent_at: datetime.datetime | None = None


@dataclasses.dataclass(frozen=True)
class PendingEmail:
    """An email claimed for sending: its outbox id, the try it is, its task and the files."""

    outbox_id: int
    attempt: int
    record: TaskRecord
    files: tuple[tuple[StoredFile, bytes], ...] = ()


@dataclasses.dataclass(frozen=True)
class ChainStep:
    """A task of a chain still to be submitted: its name and params."""

    task_name: str
    params: Mapping[str, Any]


@dataclasses.dataclass(frozen=True)
class Progress:
    """What a running task last said of its progress: a percentage and a message."""

    percent: float
    message: str | None = None


@dataclasses.dataclass(frozen=True)
class Attempt:
    """One attempt of a task: its number, how it ended (QUEUED: to be retried), its error."""

    number: int
    status: TaskStatus
    owner: str | None = None
    started_at: datetime.datetime | None = None
    finished_at: datetime.datetime | None = None
    error: TaskError | None = None


@dataclasses.dataclass(frozen=True)
class QueueDepth:
    """A task type's unfinished records: `queued` may start now, `delayed` wait for their
    start time, `running` have started (or been claimed to start here next)."""

    queued: int = 0
    delayed: int = 0
    running: int = 0


@dataclasses.dataclass(frozen=True)
class TaskRecord:
    """One requested run of a task, as stored."""

    id: int
    name: str
    params: Mapping[str, Any]
    status: TaskStatus
    attempts: int = 0
    result: Any = None  # the JSON value: a task's return value, or a Result's msg
    error: TaskError | None = None
    owner: str | None = None
    email: str | None = None
    created_at: datetime.datetime | None = None
    started_at: datetime.datetime | None = None
    finished_at: datetime.datetime | None = None
    files: tuple[StoredFile, ...] = ()
    email_delivery: EmailDelivery | None = None
    run_at: datetime.datetime | None = None  # a delayed task does not start before this
    priority: int = 0  # higher first, among the tasks that may start
    cancel_requested: bool = False
    interruptions: int = 0  # runs that a server's stop or death interrupted
    idempotency_key: str | None = None
    progress: Progress | None = None
    timeout_s: float | None = None  # this submit's own time limit (else the task's)
    parent_id: int | None = None  # the task that submitted it, or ran before it in a chain
    chain_next: tuple[ChainStep, ...] = ()  # submitted, in order, once it succeeds
    children: tuple[int, ...] = ()  # the tasks it submitted or that followed it (from `get`)
    history: tuple[Attempt, ...] = ()  # earlier attempts and how they ended (from `get`)


@dataclasses.dataclass(frozen=True)
class Outcome:
    """What one attempt of a claimed record produced, ready to be stored.

    `attempt` is the record's attempt count when it was claimed: the store writes the outcome
    only if the record is still running that attempt for this owner.
    """

    task_id: int
    attempt: int
    status: TaskStatus
    result_json: str | None = None  # the result already encoded, checked once by the runner
    files: tuple[ResultFile, ...] = ()
    error: TaskError | None = None
    started_at: datetime.datetime | None = None
    finished_at: datetime.datetime | None = None
    email: str | None = None  # where the result goes, if anywhere
    retry_at: datetime.datetime | None = None  # with status QUEUED: run again then
    asked_to_stop: bool = False  # the run was asked to stop (it may have finished anyway)


def utcnow() -> datetime.datetime:
    """The current time, aware, in UTC."""
    return datetime.datetime.now(datetime.timezone.utc)
