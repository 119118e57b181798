"""The dashboard's roll-up: finished task rows counted into one row per task type and bucket
of minutes (`deferred_task_stats`), coarser spans rolled from finer ones, a queue sample a
minute (`deferred_queue_samples`), and old buckets pruned.

Each span has a mark, the minute up to which it is rolled. A pass reads what lies past the
mark (a read transaction: the writers never wait on it), then writes the buckets and moves
the mark in one short write transaction that first checks the mark is where the pass found
it: on a PostgreSQL cluster two servers may roll at once, and only the first one's buckets
are kept. Minutes are rolled once they are `LAG_MIN` old, so an outcome committed a little
after its run ended is still counted in its minute.
"""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from ..records import QueueDepth, TaskStatus
from ..stats import BOUNDS, BUCKETS, Histogram, Tally
from .schema import queue_samples, stats_marks, task_stats, tasks
from .types import UtcDateTime

LAG_MIN = 1
SPANS = (1, 30, 240)
"""Bucket widths in minutes, finest first; each is rolled from the one before it (the first
from task rows). A chart reads the span of its bar width."""
KEEP_MIN = {1: 3 * 60, 30: 2 * 24 * 60, 240: 8 * 24 * 60}
"""How long each span's buckets are kept, in minutes."""
SAMPLES_KEEP_MIN = 8 * 24 * 60
SAMPLES_THIN_AFTER_MIN = 24 * 60  # older samples are kept one an hour
CHUNK_MIN = {1: 6 * 60, 30: 24 * 60, 240: 8 * 24 * 60}  # the most one pass rolls of each span

OUTCOME_OF = {TaskStatus.SUCCEEDED.value: "succeeded", TaskStatus.FAILED.value: "failed",
              TaskStatus.CANCELLED.value: "cancelled", TaskStatus.TIMED_OUT.value: "timed_out"}

_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)


def minute_of(moment: datetime.datetime) -> int:
    """Whole minutes since the Unix epoch."""
    return int((moment - _EPOCH).total_seconds() // 60)


def moment_of(minute: int) -> datetime.datetime:
    """The start of a minute counted by `minute_of`."""
    return _EPOCH + datetime.timedelta(minutes=minute)


def read_marks(conn: sa.Connection) -> dict[int, int]:
    """Each rolled span's mark (a minute, exclusive)."""
    return {span: mark for span, mark in conn.execute(
        sa.select(stats_marks.c.span_min, stats_marks.c.rolled_until_min))}


def _seconds_between(dialect: str, later: sa.ColumnElement[Any],
                     earlier: sa.ColumnElement[Any]) -> sa.ColumnElement[float]:
    """`later - earlier` in seconds, in SQL."""
    if dialect == "postgresql":  # a numeric: as a float
        return sa.cast(sa.func.extract("epoch", later - earlier), sa.Float)
    # SQLite keeps `YYYY-MM-DD HH:MM:SS.ffffff`: whole seconds, plus the fractions apart
    # (a difference of julianday()s loses tens of microseconds).
    return ((sa.cast(sa.func.strftime("%s", later), sa.Integer)
             - sa.cast(sa.func.strftime("%s", earlier), sa.Integer))
            + (sa.cast(sa.func.substr(later, 20), sa.Float)
               - sa.cast(sa.func.substr(earlier, 20), sa.Float)))


def _minute(dialect: str, moment: sa.ColumnElement[Any]) -> sa.ColumnElement[int]:
    """The whole minute since the epoch of a time, in SQL (`minute_of`)."""
    if dialect == "postgresql":
        return sa.cast(sa.func.floor(sa.func.extract("epoch", moment) / 60), sa.Integer)
    return sa.cast(sa.func.strftime("%s", moment), sa.Integer) // 60


def _bucket(seconds: sa.ColumnElement[float], low: int = 0, high: int = BUCKETS + 1
            ) -> sa.ColumnElement[int]:
    """The histogram bucket of a run time (`stats.bucket_of`), in SQL: a binary search of
    nested CASEs over the buckets' bounds, so no database needs a logarithm."""
    if high - low == 1:
        return sa.literal(low, sa.Integer)
    middle = (low + high) // 2
    return sa.case((seconds < BOUNDS[middle - 1], _bucket(seconds, low, middle)),
                   else_=_bucket(seconds, middle, high))


def finished_tally_query(dialect: str, *, by_name: bool) -> sa.Select[Any]:
    """The statement `tally_finished` runs (built once per store: it is large), with bound
    `start` and `end` times and, `by_name`, a task `name`."""
    could_start = (sa.func.greatest if dialect == "postgresql" else sa.func.max)(
        tasks.c.created_at, sa.func.coalesce(tasks.c.run_at, tasks.c.created_at))
    query = (sa.select(_minute(dialect, tasks.c.finished_at).label("minute"), tasks.c.id,
                       tasks.c.name, tasks.c.status,
                       _seconds_between(dialect, tasks.c.finished_at, tasks.c.started_at
                                        ).label("run_s"),
                       _seconds_between(dialect, tasks.c.started_at, could_start
                                        ).label("wait_s"))
             .where(tasks.c.finished_at >= sa.bindparam("start", type_=UtcDateTime),
                    tasks.c.finished_at < sa.bindparam("end", type_=UtcDateTime)))
    # Materialized: each row's times are worked out once, not again in every CASE below;
    # the rows are found by the finished_at index alone (the status and name are checked
    # after: SQLite would rather walk every row of a name by its own index).
    rows = query.cte("finished").prefix_with("MATERIALIZED")
    bucket = _bucket(rows.c.run_s).label("bucket")
    grouped = (sa.select(rows.c.minute, rows.c.name, rows.c.status, bucket,
                         sa.func.count().label("count"),
                         sa.func.count(rows.c.run_s).label("runs"),
                         sa.func.sum(rows.c.run_s).label("run_total_s"),
                         sa.func.max(rows.c.run_s).label("run_max_s"),
                         sa.func.sum(rows.c.wait_s).label("wait_total_s"),
                         sa.func.max(rows.c.id).label("last_id"))
               .where(rows.c.status.in_(tuple(OUTCOME_OF)))
               .group_by(rows.c.minute, rows.c.name, rows.c.status, bucket))
    return grouped.where(rows.c.name == sa.bindparam("name")) if by_name else grouped


@dataclasses.dataclass(frozen=True)
class TallyQueries:
    """`finished_tally_query` for every task type and for one, built for a dialect."""

    every: sa.Select[Any]
    one: sa.Select[Any]

    @classmethod
    def build(cls, dialect: str) -> TallyQueries:
        """Both statements for `dialect`."""
        return cls(finished_tally_query(dialect, by_name=False),
                   finished_tally_query(dialect, by_name=True))


def tally_finished(conn: sa.Connection, queries: TallyQueries, start_min: int, end_min: int,
                   span: int, name: str | None = None) -> dict[tuple[int, str], Tally]:
    """The finished rows whose end lies in `[start_min, end_min)`, counted in SQL per bucket
    of `span` minutes and task name (by the finished_at index)."""
    values: dict[str, Any] = {"start": moment_of(start_min), "end": moment_of(end_min)}
    if name is not None:
        values["name"] = name
    tallies: dict[tuple[int, str], Tally] = {}
    for row in conn.execute(queries.every if name is None else queries.one, values):
        key = (row.minute - row.minute % span, row.name)
        tally = tallies.get(key)
        if tally is None:
            tally = tallies[key] = Tally()
        tally.count_group(OUTCOME_OF[row.status], row.count, row.runs, row.run_total_s or 0.0,
                          row.run_max_s or 0.0, row.bucket if row.runs else None,
                          row.wait_total_s or 0.0, row.last_id)
    return tallies


def stats_row_values(span: int, at_min: int, name: str, tally: Tally) -> dict[str, object]:
    """The `deferred_task_stats` row of a tally."""
    return {"span_min": span, "at_min": at_min, "name": name, **tally.outcomes,
            "runs": tally.runs, "run_total_s": tally.run_total_s,
            "run_max_s": tally.run_max_s, "run_histogram": tally.histogram.to_json(),
            "waits": tally.waits, "wait_total_s": tally.wait_total_s,
            "last_failed_id": tally.last_failed_id}


def tally_of_row(row: sa.Row[tuple[object, ...]]) -> Tally:
    """A `deferred_task_stats` row as a tally."""
    return Tally(outcomes={"succeeded": row.succeeded, "failed": row.failed,
                           "cancelled": row.cancelled, "timed_out": row.timed_out},
                 runs=row.runs, run_total_s=row.run_total_s, run_max_s=row.run_max_s,
                 histogram=Histogram.from_json(row.run_histogram), waits=row.waits,
                 wait_total_s=row.wait_total_s, last_failed_id=row.last_failed_id)


def stats_between(conn: sa.Connection, span: int, start_min: int, end_min: int,
                  name: str | None = None) -> Iterable[sa.Row[tuple[object, ...]]]:
    """The buckets of `span` that start in `[start_min, end_min)`."""
    query = sa.select(task_stats).where(task_stats.c.span_min == span,
                                        task_stats.c.at_min >= start_min,
                                        task_stats.c.at_min < end_min)
    if name is not None:
        query = query.where(task_stats.c.name == name)
    return conn.execute(query)


def first_minute(conn: sa.Connection, span: int, marks: Mapping[int, int], now_min: int) -> int:
    """Where rolling `span` starts when it has no mark yet: at the oldest finished row (the
    first pass after an upgrade counts the tasks finished before it), or at the finer span's
    oldest bucket."""
    finer = SPANS[SPANS.index(span) - 1] if span != SPANS[0] else None
    if finer is None:
        oldest = conn.execute(sa.select(sa.func.min(tasks.c.finished_at))).scalar()
        start = minute_of(oldest) if oldest is not None else now_min - LAG_MIN
    else:
        oldest_min = conn.execute(sa.select(sa.func.min(task_stats.c.at_min))
                                  .where(task_stats.c.span_min == finer)).scalar()
        start = oldest_min if oldest_min is not None else marks.get(finer, now_min)
    return start - start % span


def plan_pass(conn: sa.Connection, span: int, now_min: int
              ) -> tuple[int | None, int, int] | None:
    """What one pass of `span` rolls: (its mark as found, start, end), or None when it is up to
    date (the end never passes the finer span's mark, nor the lag)."""
    marks = read_marks(conn)
    found = marks.get(span)
    start = found if found is not None else first_minute(conn, span, marks, now_min)
    if span == SPANS[0]:
        limit = now_min - LAG_MIN
    else:
        finer = marks.get(SPANS[SPANS.index(span) - 1])
        if finer is None:
            return None
        limit = finer
    end = min(start + CHUNK_MIN[span], limit)
    end -= end % span
    if end <= start:
        return None
    return found, start, end


def tally_pass(conn: sa.Connection, queries: TallyQueries, span: int, start: int, end: int
               ) -> dict[tuple[int, str], Tally]:
    """The buckets of `span` over `[start, end)`: from task rows, or merged from the finer
    span's buckets."""
    if span == SPANS[0]:
        return tally_finished(conn, queries, start, end, span)
    tallies: dict[tuple[int, str], Tally] = {}
    for row in stats_between(conn, SPANS[SPANS.index(span) - 1], start, end):
        key = (row.at_min - row.at_min % span, row.name)
        tallies.setdefault(key, Tally()).merge(tally_of_row(row))
    return tallies


def write_pass(conn: sa.Connection, span: int, found: int | None, end: int,
               tallies: Mapping[tuple[int, str], Tally]) -> bool:
    """Store a pass's buckets and move the mark to `end`, if the mark is still `found`
    (locked until the commit on PostgreSQL). False when another server rolled meanwhile."""
    mark = conn.execute(sa.select(stats_marks.c.rolled_until_min)
                        .where(stats_marks.c.span_min == span).with_for_update()
                        ).scalar_one_or_none()
    if mark != found:
        return False
    if found is None:
        inserted = conn.execute(_insert_ignoring(conn, stats_marks).values(
            span_min=span, rolled_until_min=end)).rowcount
        if not inserted:
            return False  # another server wrote the first mark meanwhile
    else:
        conn.execute(stats_marks.update().where(stats_marks.c.span_min == span)
                     .values(rolled_until_min=end))
    if tallies:
        conn.execute(task_stats.insert(), [stats_row_values(span, at_min, name, tally)
                                           for (at_min, name), tally in tallies.items()])
    return True


def sample_queue(conn: sa.Connection, at_min: int, depths: Mapping[str, QueueDepth],
                 names: Sequence[str]) -> bool:
    """Store the queue sample of minute `at_min`: a row per task name known here or with
    unfinished tasks, unless a server sampled that minute already (False then)."""
    every = sorted(set(names) | set(depths))
    taken = conn.execute(sa.select(queue_samples.c.at_min)
                         .where(queue_samples.c.at_min == at_min).limit(1)).first()
    if not every or taken is not None:
        return False
    rows = [{"at_min": at_min, "name": name, "queued": depths.get(name, QueueDepth()).queued,
             "delayed": depths.get(name, QueueDepth()).delayed,
             "running": depths.get(name, QueueDepth()).running} for name in every]
    conn.execute(_insert_ignoring(conn, queue_samples), rows)  # a server racing us: its rows
    return True


def prune(conn: sa.Connection, now_min: int) -> int:
    """Delete buckets and samples past their keep time (never a bucket the next span has not
    rolled yet); how many rows went."""
    marks, deleted = read_marks(conn), 0
    for index, (span, keep_min) in enumerate(KEEP_MIN.items()):
        before = now_min - keep_min
        if index + 1 < len(SPANS):
            before = min(before, marks.get(SPANS[index + 1], 0))  # no mark: keep all
        deleted += conn.execute(task_stats.delete().where(
            task_stats.c.span_min == span, task_stats.c.at_min < before)).rowcount
    deleted += conn.execute(queue_samples.delete().where(sa.or_(
        queue_samples.c.at_min < now_min - SAMPLES_KEEP_MIN,
        sa.and_(queue_samples.c.at_min < now_min - SAMPLES_THIN_AFTER_MIN,
                queue_samples.c.at_min % 60 != 0)))).rowcount
    return deleted


def _insert_ignoring(conn: sa.Connection, table: sa.Table) -> sa.Insert:
    """An INSERT that skips rows whose primary key is taken."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    return dialect.insert(table).on_conflict_do_nothing()
