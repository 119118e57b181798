"""`SqlStats`: the dashboard's statistics on the store's database: the roll-up passes, the
queue samples, pruning, and the view a chart reads."""

from __future__ import annotations

import datetime
from collections.abc import Sequence

from ..stats import StatsRange, StatsView
from . import reads, stats_reads, stats_rollup
from .database import Database


class SqlStats:
    """The statistics of the tasks in `database` (see `stats_rollup`, `stats_reads`)."""

    def __init__(self, database: Database) -> None:
        self._database = database
        self._queries = stats_rollup.TallyQueries.build(database.dialect)

    def roll_up(self, span: int, now: datetime.datetime) -> bool:
        """One pass of `span` (minutes, one of `stats_rollup.SPANS`). True when it rolled
        something (call again: there may be more), False when it is up to date or another
        server rolled the same minutes first."""
        now_min = stats_rollup.minute_of(now)
        with self._database.read("read the statistics' marks") as conn:
            plan = stats_rollup.plan_pass(conn, span, now_min)
            if plan is None:
                return False
            found, start, end = plan
            tallies = stats_rollup.tally_pass(conn, self._queries, span, start, end)
        with self._database.write("roll up the statistics") as conn:
            return stats_rollup.write_pass(conn, span, found, end, tallies)

    def sample_queue(self, now: datetime.datetime, names: Sequence[str]) -> bool:
        """Store this minute's queue sample, unless a server sampled this minute already
        (False then)."""
        with self._database.read("count tasks") as conn:
            depths = reads.queue_depths(conn, now)
        with self._database.write("sample the queue") as conn:
            return stats_rollup.sample_queue(conn, stats_rollup.minute_of(now), depths, names)

    def prune(self, now: datetime.datetime) -> int:
        """Delete statistics past their keep time; how many rows went."""
        with self._database.write("prune the statistics") as conn:
            return stats_rollup.prune(conn, stats_rollup.minute_of(now))

    def view(self, stats_range: StatsRange, name: str | None,
             now: datetime.datetime) -> StatsView:
        """What the dashboard shows of `stats_range` up to `now`, of task `name` or all."""
        with self._database.read("read the statistics") as conn:
            live = reads.queue_depths(conn, now)
            return stats_reads.stats_view(conn, self._queries, stats_range, name, now, live)
