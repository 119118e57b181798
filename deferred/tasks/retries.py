"""`RetryPolicy`: how often a failed task runs again, and after how long (exponential
back-off with jitter, capped)."""

from __future__ import annotations

import dataclasses
import random

from ..backoff import backoff_delay_s
from ..errors import TaskDefinitionError


@dataclasses.dataclass(frozen=True)
class RetryPolicy:
    """`retries` more attempts after the first fails with one of `retry_on`, the n-th retry
    after about `backoff_s * 2**(n-1)` seconds (at most `max_delay_s`), each delay drawn
    between its half and its whole so that tasks failing together do not retry together."""

    retries: int = 0
    backoff_s: float = 1.0
    max_delay_s: float = 300.0
    retry_on: tuple[type[BaseException], ...] = (Exception,)

    def __post_init__(self) -> None:
        if isinstance(self.retries, bool) or not isinstance(self.retries, int) \
                or self.retries < 0:
            raise TaskDefinitionError(f"retries must be a whole number >= 0, got "
                                      f"{self.retries!r}", where="retries")
        for field, value in (("retry_backoff_s", self.backoff_s),
                             ("retry_max_delay_s", self.max_delay_s)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise TaskDefinitionError(f"{field} must be a number of seconds >= 0, got "
                                          f"{value!r}", where=field)
        if not self.retry_on or not all(isinstance(kind, type)
                                        and issubclass(kind, BaseException)
                                        for kind in self.retry_on):
            raise TaskDefinitionError("retry_on must be a tuple of exception classes",
                                      where="retry_on")

    def should_retry(self, attempt: int, exc: BaseException) -> bool:
        """True if attempt number `attempt` (1 for the first) failing with `exc` runs again."""
        return attempt <= self.retries and isinstance(exc, self.retry_on)

    def delay_s(self, attempt: int, rng: random.Random | None = None) -> float:
        """Seconds before the retry that follows attempt number `attempt`."""
        return backoff_delay_s(attempt, self.backoff_s, self.max_delay_s, (rng or random).random)
