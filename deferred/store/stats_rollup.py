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

import datetime
from collections.abc import Iterable, Mapping, Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from ..records import QueueDepth, TaskStatus
from ..stats import Histogram, Tally
from .schema import queue_samples, stats_marks, task_stats, tasks

LAG_MIN = 2
SPANS = (1, 30, 240)
"""Bucket widths in minutes, finest first; each is rolled from the one before it (the first
from task rows). A chart reads the span of its bar width."""
KEEP_MIN = {1: 3 * 60, 30: 2 * 24 * 60, 240: 8 * 24 * 60}
"""How long each span's buckets are kept, in minutes."""
SAMPLES_KEEP_MIN = 8 * 24 * 60
SAMPLES_THIN_AFTER_MIN = 24 * 60  # older samples are kept one an hour
CHUNK_MIN = {1: 60, 30: 24 * 60, 240: 8 * 24 * 60}  # the most one pass rolls of each span

OUTCOME_OF = {TaskStatus.SUCCEEDED.value: "succeeded", TaskStatus.FAILED.value: "failed",
              TaskStatus.CANCELLED.value: "cancelled", TaskStatus.TIMED_OUT.value: "timed_out"}

_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)


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


def tally_rows(rows: Iterable[sa.Row[tuple[object, ...]]], span: int
               ) -> dict[tuple[int, str], Tally]:
    """Finished task rows (id, name, status, created_at, run_at, started_at, finished_at)
    counted per bucket of `span` minutes and task name."""
    tallies: dict[tuple[int, str], Tally] = {}
    for row in rows:
        outcome = OUTCOME_OF.get(row.status)
        if outcome is None or row.finished_at is None:
            continue
        minute = minute_of(row.finished_at)
        key = (minute - minute % span, row.name)
        tally = tallies.get(key)
        if tally is None:
            tally = tallies[key] = Tally()
        run_s = wait_s = None
        if row.started_at is not None:
            run_s = (row.finished_at - row.started_at).total_seconds()
            could_start = max(row.created_at, row.run_at or row.created_at)
            wait_s = (row.started_at - could_start).total_seconds()
        tally.count(outcome, run_s, wait_s, row.id)
    return tallies


def finished_between(conn: sa.Connection, start_min: int, end_min: int,
                     name: str | None = None) -> Iterable[sa.Row[tuple[object, ...]]]:
    """The finished rows whose end lies in `[start_min, end_min)` (by the finished_at index)."""
    query = (sa.select(tasks.c.id, tasks.c.name, tasks.c.status, tasks.c.created_at,
                       tasks.c.run_at, tasks.c.started_at, tasks.c.finished_at)
             .where(tasks.c.finished_at >= moment_of(start_min),
                    tasks.c.finished_at < moment_of(end_min),
                    tasks.c.status.in_(tuple(OUTCOME_OF))))
    if name is not None:
        query = query.where(tasks.c.name == name)
    return conn.execute(query.execution_options(yield_per=2000))


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


def tally_pass(conn: sa.Connection, span: int, start: int, end: int
               ) -> dict[tuple[int, str], Tally]:
    """The buckets of `span` over `[start, end)`: from task rows, or merged from the finer
    span's buckets."""
    if span == SPANS[0]:
        return tally_rows(finished_between(conn, start, end), span)
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
                 names: Sequence[str]) -> int:
    """Store the queue sample of minute `at_min`: a row per task name known here or with
    unfinished tasks, unless a server sampled that minute already. How many rows it wrote."""
    every = sorted(set(names) | set(depths))
    if not every:
        return 0
    rows = [{"at_min": at_min, "name": name, "queued": depths.get(name, QueueDepth()).queued,
             "delayed": depths.get(name, QueueDepth()).delayed,
             "running": depths.get(name, QueueDepth()).running} for name in every]
    return int(conn.execute(_insert_ignoring(conn, queue_samples), rows).rowcount or 0)


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
