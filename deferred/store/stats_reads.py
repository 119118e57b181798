"""What the dashboard reads: a range's bars from the roll-up (each span as far as its mark,
the finer spans after it, the task rows since the finest mark), queue samples per bar and the
newest failure of each task type."""

from __future__ import annotations

import datetime
from collections.abc import Iterable

import sqlalchemy as sa

from ..records import QueueDepth, TaskStatus
from ..stats import Depth, LastFailure, StatsRange, StatsView, Tally
from .schema import queue_samples, tasks
from .stats_rollup import (SPANS, TallyQueries, minute_of, moment_of, read_marks,
                           stats_between, tally_finished, tally_of_row)

RAW_MAX_MIN = 10
"""The most minutes of task rows a read counts itself; older ones wait for the roll-up."""


def stats_view(conn: sa.Connection, queries: TallyQueries, stats_range: StatsRange,
               name: str | None, now: datetime.datetime,
               live_depths: dict[str, QueueDepth]) -> StatsView:
    """The bars of `stats_range` up to `now`, of task `name` or all; the last bar's queue
    depth is `live_depths` (now), the others the samples stored."""
    step = stats_range.step_min
    now_min = minute_of(now)
    start = now_min - now_min % step - (stats_range.points - 1) * step
    bars = [Tally() for _ in range(stats_range.points)]
    by_name: dict[str, Tally] = {}

    def add(at_min: int, task_name: str, tally: Tally) -> None:
        index = (at_min - start) // step
        if 0 <= index < len(bars):
            bars[index].merge(tally)
            by_name.setdefault(task_name, Tally()).merge(tally)

    marks = read_marks(conn)
    covered = start
    # Coarsest first: each span from where the coarser one stopped to its own mark.
    for span in reversed([span for span in SPANS if span <= step]):
        mark = marks.get(span)
        if mark is None or mark <= covered:
            continue
        for row in stats_between(conn, span, covered, mark, name):
            add(row.at_min, row.name, tally_of_row(row))
        covered = mark
    raw_from = max(covered, now_min - RAW_MAX_MIN)
    catching_up = covered < raw_from and _finished_before(conn, raw_from, marks)
    for (at_min, task_name), tally in tally_finished(conn, queries, raw_from, now_min + 1, 1,
                                                     name).items():
        add(at_min, task_name, tally)
    return StatsView(range=stats_range, name=name, start_min=start, bars=bars,
                     depths=_depths(conn, start, step, stats_range.points, name, live_depths),
                     by_name=by_name, last_failures=_last_failures(conn, by_name.values()),
                     catching_up=catching_up)


def _finished_before(conn: sa.Connection, minute: int, marks: dict[int, int]) -> bool:
    """Whether tasks finished before `minute` wait for the roll-up: it has a mark behind that
    minute, or none yet while such tasks exist (after an upgrade)."""
    if SPANS[0] in marks:
        return marks[SPANS[0]] < minute
    return conn.execute(sa.select(tasks.c.id).where(tasks.c.finished_at < moment_of(minute))
                        .limit(1)).first() is not None


def _depths(conn: sa.Connection, start: int, step: int, points: int, name: str | None,
            live: dict[str, QueueDepth]) -> list[Depth | None]:
    """Per bar, the deepest queue sampled in it (summed over task types for all)."""
    per_minute = sa.select(queue_samples.c.at_min,
                           sa.func.sum(queue_samples.c.queued).label("queued"),
                           sa.func.sum(queue_samples.c.delayed).label("delayed"),
                           sa.func.sum(queue_samples.c.running).label("running")
                           ).where(queue_samples.c.at_min >= start)
    if name is not None:
        per_minute = per_minute.where(queue_samples.c.name == name)
    minutes = per_minute.group_by(queue_samples.c.at_min).subquery()
    bar = ((minutes.c.at_min - start) // step).label("bar")
    depths: list[Depth | None] = [None] * points
    for index, queued, delayed, running in conn.execute(
            sa.select(bar, sa.func.max(minutes.c.queued), sa.func.max(minutes.c.delayed),
                      sa.func.max(minutes.c.running)).group_by(bar)):
        if 0 <= int(index) < points:
            depths[int(index)] = Depth(int(queued), int(delayed), int(running))
    chosen = [depth for task_name, depth in live.items() if name is None or task_name == name]
    depths[-1] = Depth(sum(depth.queued for depth in chosen),
                       sum(depth.delayed for depth in chosen),
                       sum(depth.running for depth in chosen))
    return depths


def _last_failures(conn: sa.Connection, tallies: Iterable[Tally]) -> dict[str, LastFailure]:
    """The newest failed task of each tally that counted one, with its error."""
    ids = [tally.last_failed_id for tally in tallies if tally.last_failed_id is not None]
    if not ids:
        return {}
    rows = conn.execute(sa.select(tasks.c.id, tasks.c.name, tasks.c.finished_at,
                                  tasks.c.error_type, tasks.c.error_message)
                        .where(tasks.c.id.in_(ids),
                               tasks.c.status == TaskStatus.FAILED.value))
    failures: dict[str, LastFailure] = {}
    for row in rows:
        error = f"{row.error_type}: {row.error_message}" if row.error_type else (
            row.error_message or "")
        failures[row.name] = LastFailure(row.id, row.finished_at, error)
    return failures
