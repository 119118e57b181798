"""Saying what became of the runs that a server's stop or death interrupted, once the store
has queued them again or failed them (`SqlTaskStore.requeue_running`); and whom a stored
outcome wakes."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence

from ..records import Outcome, TaskRecord, TaskStatus
from .metrics import Metrics
from .waiters import Waiters

logger = logging.getLogger(__name__)


def report_interrupted(records: Sequence[TaskRecord], metrics: Metrics) -> None:
    """Log and count each interrupted run: a WARNING for those queued again (with when they
    may start), an ERROR for each that ends here because it was interrupted too often."""
    if not records:
        return
    again = [record for record in records if record.status is TaskStatus.QUEUED]
    for record in records:
        metrics.task_interrupted(record.name)
        if record.status is not TaskStatus.QUEUED:
            metrics.task_finished(record.name, record.status.value, None)
            logger.error("task %s (%s) attempt %d %s: %s", record.id, record.name,
                         record.attempts, record.status.value,
                         record.error.message if record.error else "interrupted",
                         extra={"task_id": record.id, "task_name": record.name,
                                "attempt": record.attempts, "status": record.status.value})
    if again:
        logger.warning("queued %d interrupted tasks again, each after a back-off: %s",
                       len(again), ", ".join(
                           f"{record.id} ({record.name}, interrupted {record.interruptions}x)"
                           for record in again[:20]))


def on_requeued(metrics: Metrics, notify: Callable[[], None],
                records: Sequence[TaskRecord]) -> None:
    """Runs of a dead server were queued again (or failed): say so, and wake the dispatcher."""
    report_interrupted(records, metrics)
    notify()


def on_finished(waiters: Waiters, mail_wake: threading.Event,
                outcomes: Sequence[Outcome]) -> None:
    """Wake whoever waits for these records, and the mailer if one of them has an email
    (most batches carry none: waking the mailer for them would cost it a transaction)."""
    waiters.wake(outcome.task_id for outcome in outcomes)
    if any(outcome.email for outcome in outcomes):
        mail_wake.set()
