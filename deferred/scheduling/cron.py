"""The five crontab fields (`"15,30 7 * * *"`): parsing, and the next or previous firing in UTC.

Pure: standard library only, no I/O. Days follow Vixie cron: when both day-of-month and
day-of-week are restricted (neither starts with `*`), a day matches if either does; otherwise
both must (a plain `*` matches every day, so only the other field counts).
"""

from __future__ import annotations

import calendar
import dataclasses
import datetime
import types

UTC = datetime.timezone.utc
FIELD_NAMES = ("minute", "hour", "day-of-month", "month", "day-of-week")
MONTH_NAMES = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
DAY_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
MACROS = types.MappingProxyType({
    "@hourly": "0 * * * *",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@weekly": "0 0 * * 0",
    "@monthly": "0 0 1 * *",
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
})
# Every month/day pair that exists at all falls on each weekday within one Gregorian cycle.
SEARCH_YEARS = 400
_MAX_DAYS = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)  # February: in leap years


@dataclasses.dataclass(frozen=True)
class _Field:
    name: str
    low: int
    high: int
    names: tuple[str, ...] = ()  # names[i] stands for low + i
    name_kind: str = ""

    def value(self, text: str) -> int:
        lowered = text.lower()
        if lowered in self.names:
            return self.low + self.names.index(lowered)
        if not (text.isascii() and text.isdigit()):
            kind = f" or a {self.name_kind} name ({self.names[0]}-{self.names[-1]})" if self.names else ""
            raise ValueError(f"{text!r} is not a number{kind}")
        number = int(text)
        if not self.low <= number <= self.high:
            raise ValueError(f"{number} is not from {self.low} to {self.high}")
        return number


_FIELDS = (
    _Field("minute", 0, 59),
    _Field("hour", 0, 23),
    _Field("day-of-month", 1, 31),
    _Field("month", 1, 12, MONTH_NAMES, "month"),
    _Field("day-of-week", 0, 7, DAY_NAMES, "day"),
)


def _parse_item(field: _Field, item: str) -> set[int]:
    """The values of one comma-separated item: `*`, `a`, `a-b`, each with an optional `/n`."""
    if not item:
        raise ValueError("empty item (two commas in a row, or a comma at an end)")
    base, slash, step_text = item.partition("/")
    step = 1
    if slash:
        if not (step_text.isascii() and step_text.isdigit()):
            raise ValueError(f"step {step_text!r} in {item!r} is not a number")
        step = int(step_text)
        if step == 0:
            raise ValueError(f"step 0 in {item!r} must be at least 1")
    if base == "*":
        start, end = field.low, field.high
    elif "-" in base:
        first, _, last = base.partition("-")
        if not first or not last:
            raise ValueError(f"range {base!r} needs a start and an end")
        start, end = field.value(first), field.value(last)
        if start > end:
            raise ValueError(f"range {base!r} is reversed: {start} is after {end}")
    else:
        start = field.value(base)
        end = field.high if slash else start  # `a/n` runs from a to the field's maximum
    return set(range(start, end + 1, step))


def _parse_field(field: _Field, text: str) -> frozenset[int]:
    values: set[int] = set()
    for item in text.split(","):
        values |= _parse_item(field, item)
    return frozenset(values)


@dataclasses.dataclass(frozen=True)
class CronSchedule:
    """A parsed crontab expression: the allowed values of each of its five fields."""

    expression: str
    minutes: frozenset[int]
    hours: frozenset[int]
    days_of_month: frozenset[int]
    months: frozenset[int]
    days_of_week: frozenset[int]  # 0 is Sunday; a 7 in the expression is stored as 0
    either_day_matches: bool  # both day fields restricted: Vixie's OR rule

    @classmethod
    def parse(cls, expression: str) -> CronSchedule:
        """Parse five crontab fields (or an `@daily`-style alias).

        Raises ValueError naming the expression, the field and the problem, e.g.
        `cron '61 * * * *': minute: 61 is not from 0 to 59`.
        """
        stripped = expression.strip()
        if stripped.startswith("@"):
            if stripped.lower() not in MACROS:
                raise ValueError(f"cron {expression!r}: unknown alias {stripped!r} "
                                 f"(known: {', '.join(MACROS)})")
            texts = MACROS[stripped.lower()].split()
        else:
            texts = stripped.split()
        if len(texts) != len(_FIELDS):
            raise ValueError(f"cron {expression!r}: expected 5 fields "
                             f"({' '.join(FIELD_NAMES)}), got {len(texts)}")
        values = []
        for field, text in zip(_FIELDS, texts):
            try:
                values.append(_parse_field(field, text))
            except ValueError as exc:
                raise ValueError(f"cron {expression!r}: {field.name}: {exc}") from None
        minutes, hours, days, months, weekdays = values
        weekdays = frozenset(day % 7 for day in weekdays)
        either = not texts[2].startswith("*") and not texts[4].startswith("*")
        schedule = cls(expression, minutes, hours, days, months, weekdays, either)
        if not either and not any(day <= _MAX_DAYS[month - 1] for month in months for day in days):
            raise ValueError(f"cron {expression!r}: day-of-month: no day in "
                             f"{_listed(days)} exists in month {_listed(months)}")
        return schedule

    def describe(self) -> str:
        """The expression as written, for the UI."""
        return self.expression

    def matches(self, moment: datetime.datetime) -> bool:
        """True when `moment` (taken in UTC, seconds ignored) is a firing time."""
        moment = _in_utc(moment)
        return (self._day_matches(moment.date()) and moment.hour in self.hours
                and moment.minute in self.minutes)

    def next_after(self, moment: datetime.datetime) -> datetime.datetime:
        """The first firing strictly after `moment` (aware), in UTC with zero seconds.

        Raises ValueError for a naive `moment`, or when no firing lies within 400 years.
        """
        start = _in_utc(moment).replace(second=0, microsecond=0) + datetime.timedelta(minutes=1)
        day = start.date()
        if self._day_matches(day):
            found = self._first_time(start.hour, start.minute)
            if found is not None:
                return _at(day, found)
        day = _shift(day, 1)
        limit = min(start.year + SEARCH_YEARS, datetime.MAXYEAR)
        while day is not None and day.year <= limit:
            if day.month not in self.months:
                day = _first_of_next_month(day)
            elif self._day_matches(day):
                return _at(day, (min(self.hours), min(self.minutes)))
            else:
                day = _shift(day, 1)
        raise ValueError(f"cron {self.expression!r}: no firing within {SEARCH_YEARS} years "
                         f"after {start.isoformat()}")

    def previous_at_or_before(self, moment: datetime.datetime) -> datetime.datetime:
        """The latest firing at or before `moment` (aware), in UTC with zero seconds.

        Raises ValueError for a naive `moment`, or when no firing lies within 400 years.
        """
        end = _in_utc(moment).replace(second=0, microsecond=0)
        day = end.date()
        if self._day_matches(day):
            found = self._last_time(end.hour, end.minute)
            if found is not None:
                return _at(day, found)
        day = _shift(day, -1)
        limit = max(end.year - SEARCH_YEARS, datetime.MINYEAR)
        while day is not None and day.year >= limit:
            if day.month not in self.months:
                day = _shift(day.replace(day=1), -1)
            elif self._day_matches(day):
                return _at(day, (max(self.hours), max(self.minutes)))
            else:
                day = _shift(day, -1)
        raise ValueError(f"cron {self.expression!r}: no firing within {SEARCH_YEARS} years "
                         f"before {end.isoformat()}")

    def _day_matches(self, day: datetime.date) -> bool:
        if day.month not in self.months:
            return False
        by_month = day.day in self.days_of_month
        by_week = day.isoweekday() % 7 in self.days_of_week
        return by_month or by_week if self.either_day_matches else by_month and by_week

    def _first_time(self, hour: int, minute: int) -> tuple[int, int] | None:
        """The earliest (hour, minute) firing at or after hour:minute on a matching day."""
        for candidate in sorted(h for h in self.hours if h >= hour):
            floor = minute if candidate == hour else 0
            later = [m for m in self.minutes if m >= floor]
            if later:
                return candidate, min(later)
        return None

    def _last_time(self, hour: int, minute: int) -> tuple[int, int] | None:
        """The latest (hour, minute) firing at or before hour:minute on a matching day."""
        for candidate in sorted((h for h in self.hours if h <= hour), reverse=True):
            ceiling = minute if candidate == hour else 59
            earlier = [m for m in self.minutes if m <= ceiling]
            if earlier:
                return candidate, max(earlier)
        return None


def _in_utc(moment: datetime.datetime) -> datetime.datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"cron times must be aware datetimes, got naive {moment.isoformat()}")
    return moment.astimezone(UTC)


def _at(day: datetime.date, time: tuple[int, int]) -> datetime.datetime:
    return datetime.datetime(day.year, day.month, day.day, time[0], time[1], tzinfo=UTC)


def _shift(day: datetime.date, days: int) -> datetime.date | None:
    """`day` moved by `days`, or None past the ends of the calendar."""
    try:
        return day + datetime.timedelta(days=days)
    except OverflowError:
        return None


def _first_of_next_month(day: datetime.date) -> datetime.date | None:
    last = calendar.monthrange(day.year, day.month)[1]
    return _shift(day.replace(day=last), 1)


def _listed(values: frozenset[int]) -> str:
    return ",".join(str(value) for value in sorted(values))
