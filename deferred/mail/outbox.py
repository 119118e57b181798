"""`OutboxSender`: the `deferred-mailer` thread that sends what the outbox holds."""

from __future__ import annotations

import datetime
import logging
import random
import threading
from collections.abc import Callable

from ..backoff import backoff_delay_s
from ..config import SmtpConfig
from ..errors import MailDeliveryError, one_line
from ..interfaces import MailFile, Mailer, Outbox, OutgoingMail
from ..links import file_url
from ..records import EmailStatus, PendingEmail, utcnow

logger = logging.getLogger(__name__)

POLL_S = 5.0  # finds emails other servers queued, and retries that came due
RETRY_S = 1.0  # after the store failed
BATCH = 1  # claimed one by one: a claimed email is one being sent


def retry_delay_s(attempt: int, config: SmtpConfig, rand: Callable[[], float] = random.random
                  ) -> float:
    """The wait after failed try number `attempt`: doubling from `retry_backoff_s`, at most
    `retry_max_delay_s`, with jitter (half to all of it) so retries do not come in waves."""
    return backoff_delay_s(attempt, config.retry_backoff_s, config.retry_max_delay_s, rand)


def outgoing_mail(email: PendingEmail, base_url: str) -> OutgoingMail:
    """What to send for a claimed outbox entry."""
    record = email.record
    assert record.email is not None
    return OutgoingMail(
        task_id=record.id, task_name=record.name, status=record.status,
        recipient=record.email, result=record.result, error=record.error,
        created_at=record.created_at,
        files=tuple(MailFile(name=stored.name, content_type=stored.content_type, data=data,
                             url=file_url(base_url, stored.token))
                    for stored, data in email.files))


class OutboxSender:
    """Sends pending result emails one by one, off the worker threads.

    Each email is claimed (SENDING) in one transaction, sent, then marked SENT, FAILED (a 5xx
    reply, or out of tries) or PENDING again after a back-off. A crash between the SMTP
    server's acceptance and that commit is the one way an email goes twice.
    """

    def __init__(self, outbox: Outbox, mailer: Mailer, config: SmtpConfig,
                 base_url: Callable[[], str], *, wake: threading.Event | None = None) -> None:
        """`wake`, when given, is set by whoever queues email (the dispatcher's finished
        batches) to have it sent now rather than at the next poll."""
        self._outbox, self._mailer, self._config = outbox, mailer, config
        self._base_url = base_url
        self._wake = threading.Event() if wake is None else wake
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="deferred-mailer")

    def start(self) -> None:
        """Start the mailer thread."""
        self._thread.start()

    def notify(self) -> None:
        """There may be email to send."""
        self._wake.set()

    def stop(self, timeout_s: float) -> bool:
        """Stop after the email being sent now; True if the thread ended in time."""
        self._stopping.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout_s)
        return not self._thread.is_alive()

    def _loop(self) -> None:
        while not self._stopping.is_set():
            self._wake.clear()
            try:
                emails = self._outbox.claim(BATCH)
            except Exception:
                logger.exception("cannot read the outbox; trying again in %.1fs", RETRY_S)
                self._stopping.wait(RETRY_S)
                continue
            for position, email in enumerate(emails):
                if self._stopping.is_set():
                    self._put_back(emails[position:])
                    break
                self._send(email)
            if len(emails) < BATCH:
                self._wake.wait(self._idle_wait_s())

    def _put_back(self, emails: list[PendingEmail]) -> None:
        for email in emails:
            self._finish(email, EmailStatus.PENDING, email.record.email_delivery
                         and email.record.email_delivery.last_error, retry_at=utcnow())

    def _idle_wait_s(self) -> float:
        try:
            due = self._outbox.next_due()
        except Exception:
            return RETRY_S
        if due is None:
            return POLL_S
        return max(0.0, min(POLL_S, (due - utcnow()).total_seconds()))

    def _send(self, email: PendingEmail) -> None:
        task_id = email.record.id
        try:
            self._mailer.send(outgoing_mail(email, self._base_url()))
        except MailDeliveryError as exc:
            self._record_failure(email, exc)
            return
        except Exception as exc:  # a bug building the message: not worth retrying
            logger.exception("email of task %s cannot be built", task_id)
            self._finish(email, EmailStatus.FAILED, f"internal error: {one_line(exc)}")
            return
        self._finish(email, EmailStatus.SENT)

    def _record_failure(self, email: PendingEmail, exc: MailDeliveryError) -> None:
        error = str(exc)
        if exc.permanent or email.attempt >= self._config.max_attempts:
            logger.warning("email of task %s failed for good after %d tries: %s",
                           email.record.id, email.attempt, error)
            self._finish(email, EmailStatus.FAILED, error)
            return
        delay = retry_delay_s(email.attempt, self._config)
        logger.info("email of task %s failed (try %d), again in %.1fs: %s", email.record.id,
                    email.attempt, delay, error)
        self._finish(email, EmailStatus.PENDING, error,
                     retry_at=utcnow() + datetime.timedelta(seconds=delay))

    def _finish(self, email: PendingEmail, status: EmailStatus, error: str | None = None,
                retry_at: datetime.datetime | None = None) -> None:
        try:
            self._outbox.finish(email.outbox_id, email.attempt, status, error=error,
                                retry_at=retry_at)
        except Exception:
            # Left SENDING: the next start puts it back (it may then go twice).
            logger.exception("cannot record the email of task %s", email.record.id)
