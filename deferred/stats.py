"""The dashboard's statistics as values: run-time histograms, the ranges a chart may show and
what a chart or a task type's summary holds. Pure: no I/O, no clock."""

from __future__ import annotations

import bisect
import dataclasses
import datetime
import json
import math
from collections.abc import Mapping, Sequence

# Run times fall into buckets ten to a decade, from 1 ms (bucket 0 holds anything shorter) to
# about 11.6 days; a percentile is read as the geometric middle of its bucket, within 12 %.
_PER_DECADE = 10
SMALLEST_S = 0.001
BUCKETS = 10 * _PER_DECADE
BOUNDS = tuple(SMALLEST_S * 10 ** (index / _PER_DECADE) for index in range(BUCKETS + 1))
"""Bucket i > 0 holds run times from BOUNDS[i - 1] up to BOUNDS[i]; the last, anything
longer."""

OUTCOMES = ("succeeded", "failed", "cancelled", "timed_out")
"""The finished statuses the charts count, as the stats' column names."""


def bucket_of(seconds: float) -> int:
    """The histogram bucket of a run time."""
    return min(BUCKETS, bisect.bisect_right(BOUNDS, max(0.0, seconds)))


def bucket_middle(index: int) -> float:
    """The run time a bucket stands for: its geometric middle (half the smallest bound for
    the first, which holds anything shorter)."""
    if index <= 0:
        return SMALLEST_S / 2
    low = BOUNDS[index - 1]
    high = BOUNDS[index] if index < len(BOUNDS) else low * 10 ** (1 / _PER_DECADE)
    return math.sqrt(low * high)


@dataclasses.dataclass
class Histogram:
    """How many run times fell in each bucket (`bucket_of`)."""

    counts: dict[int, int] = dataclasses.field(default_factory=dict)

    @classmethod
    def from_json(cls, text: str | None) -> Histogram:
        """The histogram a stats row keeps as JSON (`{"12": 3}`)."""
        if not text:
            return cls()
        return cls({int(key): int(count) for key, count in json.loads(text).items()})

    def to_json(self) -> str:
        """Compact JSON, buckets in order."""
        return json.dumps({str(key): self.counts[key] for key in sorted(self.counts)},
                          separators=(",", ":"))

    def add(self, seconds: float, count: int = 1) -> None:
        """Count one run time (or `count` of them)."""
        index = bucket_of(seconds)
        self.counts[index] = self.counts.get(index, 0) + count

    def merge(self, other: Histogram) -> None:
        """Add another histogram's counts to this one."""
        for index, count in other.counts.items():
            self.counts[index] = self.counts.get(index, 0) + count

    @property
    def total(self) -> int:
        """How many run times it holds."""
        return sum(self.counts.values())

    def percentile(self, fraction: float) -> float | None:
        """The run time below which `fraction` (0 to 1) of them fall; None when empty."""
        total = self.total
        if not total:
            return None
        rank, seen = max(1, math.ceil(fraction * total)), 0
        for index in sorted(self.counts):
            seen += self.counts[index]
            if seen >= rank:
                return bucket_middle(index)
        return bucket_middle(max(self.counts))  # not reached


@dataclasses.dataclass(frozen=True)
class StatsRange:
    """A range a chart may show: its length and the width of one bar, in minutes."""

    key: str
    label: str
    minutes: int
    step_min: int

    @property
    def points(self) -> int:
        """How many bars the chart has."""
        return self.minutes // self.step_min


RANGES: Mapping[str, StatsRange] = {item.key: item for item in (
    StatsRange("15m", "15 min", 15, 1),
    StatsRange("1h", "1 h", 60, 1),
    StatsRange("24h", "24 h", 24 * 60, 30),
    StatsRange("7d", "7 d", 7 * 24 * 60, 4 * 60),
)}
DEFAULT_RANGE = "1h"


@dataclasses.dataclass
class Tally:
    """What finished in a span of time, for one task type or all: counts by outcome, run
    times, waits before starting and the newest failure."""

    outcomes: dict[str, int] = dataclasses.field(
        default_factory=lambda: dict.fromkeys(OUTCOMES, 0))
    runs: int = 0
    run_total_s: float = 0.0
    run_max_s: float = 0.0
    histogram: Histogram = dataclasses.field(default_factory=Histogram)
    waits: int = 0
    wait_total_s: float = 0.0
    last_failed_id: int | None = None

    def count_group(self, outcome: str, count: int, runs: int, run_total_s: float,
                    run_max_s: float, bucket: int | None, wait_total_s: float,
                    last_id: int | None) -> None:
        """Count `count` finished tasks of one outcome at once, as SQL grouped them: `runs`
        of them started, all in histogram `bucket`; `last_id` is the newest one's id."""
        self.outcomes[outcome] += count
        if runs:
            self.runs += runs
            self.run_total_s += max(0.0, run_total_s)
            self.run_max_s = max(self.run_max_s, run_max_s)
            if bucket is not None:
                self.histogram.counts[bucket] = self.histogram.counts.get(bucket, 0) + runs
            self.waits += runs
            self.wait_total_s += max(0.0, wait_total_s)
        if outcome == "failed" and last_id is not None and (
                self.last_failed_id is None or last_id > self.last_failed_id):
            self.last_failed_id = last_id

    def merge(self, other: Tally) -> None:
        """Add another tally to this one."""
        for outcome in OUTCOMES:
            self.outcomes[outcome] += other.outcomes[outcome]
        self.runs += other.runs
        self.run_total_s += other.run_total_s
        self.run_max_s = max(self.run_max_s, other.run_max_s)
        self.histogram.merge(other.histogram)
        self.waits += other.waits
        self.wait_total_s += other.wait_total_s
        if other.last_failed_id is not None and (
                self.last_failed_id is None or other.last_failed_id > self.last_failed_id):
            self.last_failed_id = other.last_failed_id

    @property
    def finished(self) -> int:
        """How many finished, whatever their outcome."""
        return sum(self.outcomes.values())

    @property
    def failure_rate(self) -> float | None:
        """Failed or timed out, of those that ran to an end (cancelled ones left out)."""
        ended = self.outcomes["succeeded"] + self.outcomes["failed"] + self.outcomes["timed_out"]
        if not ended:
            return None
        return (self.outcomes["failed"] + self.outcomes["timed_out"]) / ended

    @property
    def mean_wait_s(self) -> float | None:
        """The mean time from when a task could start to when it started."""
        return self.wait_total_s / self.waits if self.waits else None

    def percentile(self, fraction: float) -> float | None:
        """A run-time percentile (see `Histogram.percentile`)."""
        return self.histogram.percentile(fraction)


@dataclasses.dataclass(frozen=True)
class Depth:
    """A queue sample: how many tasks were queued, delayed and running."""

    queued: int = 0
    delayed: int = 0
    running: int = 0


@dataclasses.dataclass(frozen=True)
class LastFailure:
    """The newest failed task of a type: its id, when and why."""

    task_id: int
    finished_at: datetime.datetime | None
    error: str


@dataclasses.dataclass(frozen=True)
class StatsView:
    """What the dashboard shows for one range, of one task type (`name`) or all (None):
    a tally per bar (oldest first, starting at minute `start_min`), a queue sample per bar
    (None where no server sampled it), the range's tally per task type and the newest
    failure per task type. `catching_up` says the roll-up has not reached the present yet
    (after an upgrade over many tasks), so older bars may still be missing."""

    range: StatsRange
    name: str | None
    start_min: int
    bars: Sequence[Tally]
    depths: Sequence[Depth | None]
    by_name: Mapping[str, Tally]
    last_failures: Mapping[str, LastFailure]
    catching_up: bool = False

    @property
    def total(self) -> Tally:
        """The whole range's tally, over every bar."""
        whole = Tally()
        for bar in self.bars:
            whole.merge(bar)
        return whole

