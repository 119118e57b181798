"""The dashboard's statistics on real databases: finished rows rolled up into buckets once,
coarser spans from finer ones, the view joining the spans and the newest rows, queue samples
once a minute, pruning that never loses what a coarser span still needs."""

from __future__ import annotations

import datetime
import threading

import pytest
import sqlalchemy as sa

from deferred.records import TaskStatus, utcnow
from deferred.stats import RANGES
from deferred.store.schema import queue_samples, stats_marks, task_stats, tasks
from deferred.store.stats_rollup import LAG_MIN, SPANS, minute_of, moment_of

NOW = datetime.datetime(2026, 12, 7, 12, 0, 30, tzinfo=datetime.UTC)
NOW_MIN = minute_of(NOW)


def insert_finished(store, name: str, status: TaskStatus, finished_at: datetime.datetime,
                    *, run_s: float | None = 2.0, wait_s: float = 1.0, count: int = 1,
                    error: str | None = None) -> list[int]:
    """Finished rows as the store keeps them, `run_s` long (None: never started)."""
    started = None if run_s is None else finished_at - datetime.timedelta(seconds=run_s)
    created = (started or finished_at) - datetime.timedelta(seconds=wait_s)
    rows = [{"name": name, "params": "{}", "status": status.value, "attempts": 1,
             "created_at": created, "started_at": started, "finished_at": finished_at,
             "error_type": "ValueError" if error else None, "error_message": error}
            for _ in range(count)]
    with store.database.write("test rows") as conn:
        return list(conn.execute(tasks.insert().returning(tasks.c.id), rows).scalars())


def roll_all(store, now: datetime.datetime = NOW) -> None:
    for span in SPANS:
        while store.stats.roll_up(span, now):
            pass


def stats_rows(store, span: int) -> list[tuple[int, str, int, int]]:
    with store.database.read("test") as conn:
        return [tuple(row) for row in conn.execute(
            sa.select(task_stats.c.at_min, task_stats.c.name, task_stats.c.succeeded,
                      task_stats.c.failed).where(task_stats.c.span_min == span)
            .order_by(task_stats.c.at_min, task_stats.c.name))]


def marks(store) -> dict[int, int]:
    with store.database.read("test") as conn:
        return dict(conn.execute(sa.select(stats_marks.c.span_min,
                                           stats_marks.c.rolled_until_min)).all())


def test_the_first_pass_counts_tasks_finished_before_it_each_in_its_minute(store):
    two_hours_ago = NOW - datetime.timedelta(hours=2)
    insert_finished(store, "a", TaskStatus.SUCCEEDED, two_hours_ago, count=3)
    insert_finished(store, "a", TaskStatus.FAILED, two_hours_ago, error="bad")
    insert_finished(store, "b", TaskStatus.SUCCEEDED, NOW - datetime.timedelta(minutes=5))
    insert_finished(store, "b", TaskStatus.SUCCEEDED, NOW)  # within the lag: not rolled yet
    roll_all(store)
    first = minute_of(two_hours_ago)
    assert stats_rows(store, 1) == [(first, "a", 3, 1), (NOW_MIN - 5, "b", 1, 0)]
    assert marks(store)[1] == NOW_MIN - LAG_MIN
    # The half hours and the four hours come from the minutes, up to the minutes' mark.
    assert stats_rows(store, 30) == [(first - first % 30, "a", 3, 1)]
    assert marks(store)[30] == (NOW_MIN - LAG_MIN) - (NOW_MIN - LAG_MIN) % 30
    roll_all(store)  # nothing new: nothing counted twice
    assert stats_rows(store, 1) == [(first, "a", 3, 1), (NOW_MIN - 5, "b", 1, 0)]


def test_the_view_joins_the_rolled_buckets_and_the_newest_rows(store):
    ids = insert_finished(store, "a", TaskStatus.FAILED, NOW - datetime.timedelta(minutes=40),
                          run_s=4.0, wait_s=2.0, error="no route")
    insert_finished(store, "a", TaskStatus.SUCCEEDED, NOW - datetime.timedelta(minutes=10),
                    run_s=1.0, wait_s=0.5, count=9)
    roll_all(store)
    newest = insert_finished(store, "a", TaskStatus.TIMED_OUT, NOW, run_s=10.0)  # not rolled
    insert_finished(store, "a", TaskStatus.CANCELLED, NOW, run_s=None)
    view = store.stats.view(RANGES["1h"], None, NOW)
    assert len(view.bars) == 60 and view.start_min == NOW_MIN - 59
    assert [bar.finished for bar in view.bars].count(0) == 57
    assert view.bars[-1].outcomes == {"succeeded": 0, "failed": 0, "cancelled": 1,
                                      "timed_out": 1}
    whole = view.by_name["a"]
    assert whole.outcomes == {"succeeded": 9, "failed": 1, "cancelled": 1, "timed_out": 1}
    assert whole.runs == 11 and whole.run_max_s == pytest.approx(10.0)
    assert whole.failure_rate == pytest.approx(2 / 11)
    # A percentile is its bucket's middle: within 13 % of the run time.
    assert whole.percentile(0.5) == pytest.approx(1.0, rel=0.13)
    assert whole.percentile(0.95) == pytest.approx(10.0, rel=0.13)
    assert whole.mean_wait_s == pytest.approx((2.0 + 9 * 0.5 + 1.0) / 11)
    assert view.last_failures["a"].task_id == ids[0]
    assert view.last_failures["a"].error == "ValueError: no route"
    assert newest  # the timed-out run is in the last bar, above
    # One task type alone, and a range of 30-minute bars from the half-hour buckets.
    assert store.stats.view(RANGES["1h"], "b", NOW).total.finished == 0
    day = store.stats.view(RANGES["24h"], "a", NOW)
    assert len(day.bars) == 48 and day.total.finished == 12


def test_queue_samples_once_a_minute_and_the_last_bar_is_live(store):
    store.add("a", {})
    store.add("a", {})
    store.claim({"a": 1}, 1)
    assert store.stats.sample_queue(NOW - datetime.timedelta(minutes=3), ["a", "idle"])
    assert not store.stats.sample_queue(NOW - datetime.timedelta(minutes=3), ["a"])
    view = store.stats.view(RANGES["15m"], "a", utcnow())
    assert view.depths[-1].queued == 1 and view.depths[-1].running == 1
    with store.database.read("test") as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(queue_samples)
                            .where(queue_samples.c.name == "idle")).scalar() == 1


def test_two_rollers_at_once_count_each_task_once(store):
    for minutes in range(5, 65):
        insert_finished(store, "a", TaskStatus.SUCCEEDED,
                        NOW - datetime.timedelta(minutes=minutes), count=2)
    start = threading.Barrier(2)

    def roll() -> None:
        start.wait()
        roll_all(store)

    threads = [threading.Thread(target=roll, name=f"roller-{n}") for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    roll_all(store)
    assert sum(succeeded for _, _, succeeded, _ in stats_rows(store, 1)) == 120
    assert store.stats.view(RANGES["24h"], "a", NOW).total.finished == 120


def test_pruning_keeps_what_a_coarser_span_has_not_rolled(store):
    long_ago = NOW - datetime.timedelta(days=9)
    insert_finished(store, "a", TaskStatus.SUCCEEDED, long_ago)
    insert_finished(store, "a", TaskStatus.SUCCEEDED, NOW - datetime.timedelta(hours=5))
    for span in SPANS[:1]:
        while store.stats.roll_up(span, NOW):
            pass
    store.stats.prune(NOW)  # the half hours have not rolled the minutes: all are kept
    assert len(stats_rows(store, 1)) == 2
    roll_all(store)
    store.stats.prune(NOW)
    assert stats_rows(store, 1) == []  # older than 3 h and rolled into half hours
    assert [at for at, *_ in stats_rows(store, 30)] == [
        minute_of(NOW - datetime.timedelta(hours=5)) // 30 * 30]  # 9 days old: gone
    assert [at for at, *_ in stats_rows(store, 240)] == [
        minute_of(NOW - datetime.timedelta(hours=5)) // 240 * 240]
    assert moment_of(NOW_MIN) <= NOW
