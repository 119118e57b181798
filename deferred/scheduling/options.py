"""How a submit asks to be run: not before a time (`delay_s` or `run_at`), with a priority,
at most once per idempotency key. Checked here, once, for the API, Python and the CLI."""

from __future__ import annotations

import dataclasses
import datetime
import re
import unicodedata
from typing import Any

from ..errors import BadRequestError, shown
from ..jsontext import json_type_name
from ..patterns import RFC3339_DATE_TIME, RFC3339_ZONE
from ..records import utcnow

MAX_PRIORITY = 1000
MAX_DELAY_S = 10 * 365 * 86400.0  # ten years: anything later is a mistake
MAX_KEY_CHARS = 200
# RFC 3339's date-time (JSON Schema's `date-time`), the zone left to a check of its own.
_RFC3339 = re.compile(f"{RFC3339_DATE_TIME}{RFC3339_ZONE}?", re.ASCII)


@dataclasses.dataclass(frozen=True)
class SubmitOptions:
    """A checked submit's scheduling: when it may start, its priority, its idempotency key."""

    run_at: datetime.datetime | None = None
    priority: int = 0
    idempotency_key: str | None = None
    timeout_s: float | None = None  # overrides the task's own `timeout_s`
    parent_id: int | None = None  # a follow-up: the task that submitted it

    @property
    def is_delayed(self) -> bool:
        """True when the task may not start yet."""
        return self.run_at is not None and self.run_at > utcnow()


def submit_options(*, delay_s: Any = None, run_at: Any = None, priority: Any = None,
                   idempotency_key: Any = None, timeout_s: Any = None) -> SubmitOptions:
    """Check what a submit asks for. `run_at` is an aware datetime or ISO 8601 text with a
    zone (`2024-05-01T12:00:00Z`). Raises `BadRequestError` naming the field."""
    return SubmitOptions(run_at=_start_time(delay_s, run_at),
                         priority=_priority(priority),
                         idempotency_key=_key(idempotency_key),
                         timeout_s=_timeout(timeout_s))


def _timeout(timeout_s: Any) -> float | None:
    if timeout_s is None:
        return None
    if isinstance(timeout_s, bool) or not isinstance(timeout_s, (int, float)) \
            or not 0 < timeout_s <= MAX_DELAY_S:
        raise BadRequestError(f"must be a number of seconds above 0, got {timeout_s!r}",
                              where="timeout_s")
    return float(timeout_s)


def _start_time(delay_s: Any, run_at: Any) -> datetime.datetime | None:
    if delay_s is not None and run_at is not None:
        raise BadRequestError("give delay_s or run_at, not both", where="delay_s")
    if delay_s is not None:
        if isinstance(delay_s, bool) or not isinstance(delay_s, (int, float)):
            raise BadRequestError(f"must be a number of seconds >= 0, got "
                                  f"{json_type_name(delay_s)}", where="delay_s")
        if not 0 <= delay_s <= MAX_DELAY_S:
            raise BadRequestError(f"must be from 0 to {MAX_DELAY_S:.0f} seconds, got "
                                  f"{delay_s!r}", where="delay_s")
        return utcnow() + datetime.timedelta(seconds=float(delay_s))
    if run_at is None:
        return None
    if isinstance(run_at, str):
        try:
            if not _RFC3339.fullmatch(run_at):  # fromisoformat() takes much more
                raise ValueError(run_at)
            run_at = datetime.datetime.fromisoformat(run_at)
        except ValueError:
            raise BadRequestError(f"{shown(run_at)!r} is not an ISO 8601 time such as "
                                  "2024-05-01T12:00:00Z", where="run_at") from None
        if run_at.year < 1000:  # as the OpenAPI document says; surely a typo anyway
            raise BadRequestError(f"{run_at.isoformat()} is before the year 1000",
                                  where="run_at")
    if not isinstance(run_at, datetime.datetime):
        raise BadRequestError(f"must be an ISO 8601 time, got {json_type_name(run_at)}",
                              where="run_at")
    if run_at.tzinfo is None or run_at.utcoffset() is None:
        raise BadRequestError(f"{run_at.isoformat()} has no zone: add one, such as Z or "
                              "+02:00", where="run_at")
    if run_at - utcnow() > datetime.timedelta(seconds=MAX_DELAY_S):
        raise BadRequestError("is more than ten years away", where="run_at")
    try:
        return run_at.astimezone(datetime.timezone.utc)
    except OverflowError:  # 0001-01-01T00:00:00+14:00 is before year 1 in UTC
        raise BadRequestError(f"{run_at.isoformat()} is out of range in UTC",
                              where="run_at") from None


def _priority(priority: Any) -> int:
    if priority is None:
        return 0
    if isinstance(priority, float) and priority.is_integer():
        priority = int(priority)  # JSON has one number type: 5.0 is the whole number 5
    if isinstance(priority, bool) or not isinstance(priority, int):
        raise BadRequestError(f"must be a whole number, got {json_type_name(priority)}",
                              where="priority")
    if not -MAX_PRIORITY <= priority <= MAX_PRIORITY:
        raise BadRequestError(f"must be from {-MAX_PRIORITY} to {MAX_PRIORITY}, got "
                              f"{priority}", where="priority")
    return priority


def _key(key: Any) -> str | None:
    if key is None:
        return None
    if not isinstance(key, str) or not 1 <= len(key) <= MAX_KEY_CHARS:
        raise BadRequestError(f"must be a text of 1 to {MAX_KEY_CHARS} characters",
                              where="idempotency_key")
    # A lone surrogate cannot be encoded for the database, and PostgreSQL holds no NUL.
    if any(unicodedata.category(char) in ("Cc", "Cs") for char in key):
        raise BadRequestError("must not hold control characters or lone surrogates",
                              where="idempotency_key")
    return key
