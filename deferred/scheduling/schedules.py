"""`Schedule`: when a periodic task fires, every `every_s` seconds or on a crontab line. Pure:
times in, times out."""

from __future__ import annotations

import dataclasses
import datetime
import math
from typing import Any

from ..errors import TaskDefinitionError

UTC = datetime.timezone.utc
_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=UTC)
MIN_EVERY_S = 1.0


@dataclasses.dataclass(frozen=True)
class Schedule:
    """A periodic task's firing times, in UTC: slots of `every_s` seconds counted from the
    epoch (so every server agrees on them), or the minutes a crontab line matches."""

    every_s: float | None = None
    cron: Any = None  # a deferred.cron.CronSchedule

    @classmethod
    def of(cls, every_s: Any, cron: Any, where: str) -> Schedule | None:
        """The schedule a task declares, or None. Raises `TaskDefinitionError`."""
        if every_s is None and cron is None:
            return None
        if every_s is not None and cron is not None:
            raise TaskDefinitionError("give every_s or cron, not both", where=where)
        if every_s is not None:
            if isinstance(every_s, bool) or not isinstance(every_s, (int, float)) \
                    or not MIN_EVERY_S <= every_s < math.inf:
                raise TaskDefinitionError(f"every_s must be a number of seconds >= "
                                          f"{MIN_EVERY_S:g}, got {every_s!r}", where=where)
            return cls(every_s=float(every_s))
        from .cron import CronSchedule  # only tasks with a cron line need the parser

        if not isinstance(cron, str):
            raise TaskDefinitionError(f"cron must be a crontab line such as '15 7 * * *', "
                                      f"got {type(cron).__name__}", where=where)
        try:
            return cls(cron=CronSchedule.parse(cron))
        except ValueError as exc:
            raise TaskDefinitionError(str(exc), where=where) from None

    def next_after(self, moment: datetime.datetime) -> datetime.datetime:
        """The first firing strictly after `moment`."""
        if self.every_s is not None:
            slots = math.floor((moment - _EPOCH).total_seconds() / self.every_s) + 1
            return _EPOCH + datetime.timedelta(seconds=slots * self.every_s)
        return self.cron.next_after(moment)

    def latest_at_or_before(self, moment: datetime.datetime) -> datetime.datetime | None:
        """The last firing at or before `moment` (None if none is known)."""
        if self.every_s is not None:
            slots = math.floor((moment - _EPOCH).total_seconds() / self.every_s)
            return _EPOCH + datetime.timedelta(seconds=slots * self.every_s)
        return self.cron.previous_at_or_before(moment)

    def describe(self) -> str:
        """`every 3600 s` or `cron 15,30 7 * * *` (UTC)."""
        if self.every_s is not None:
            return f"every {self.every_s:g} s"
        return f"cron {self.cron.describe()} (UTC)"
