"""The dashboard's values and chart geometry: histogram percentiles within their bucket,
tallies that merge, and bars and lines that say what they draw."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from deferred.http.ui import charts
from deferred.stats import (
    BOUNDS,
    BUCKETS,
    RANGES,
    Depth,
    Histogram,
    StatsView,
    Tally,
    bucket_middle,
    bucket_of,
)


@given(st.floats(min_value=0.0011, max_value=BOUNDS[-2], allow_nan=False))
def test_a_run_time_falls_in_the_bucket_whose_middle_is_within_13_percent(seconds):
    assert bucket_middle(bucket_of(seconds)) == pytest.approx(seconds, rel=0.13)


def test_buckets_cover_everything_from_zero_to_ever():
    assert bucket_of(0) == 0 and bucket_of(-1) == 0 and bucket_of(1e12) == BUCKETS
    assert bucket_middle(0) == 0.0005  # anything under 1 ms


def test_percentiles_of_a_known_spread():
    rng, histogram = random.Random(7), Histogram()
    samples = sorted(rng.uniform(0.01, 10) for _ in range(5_000))
    for sample in samples:
        histogram.add(sample)
    for fraction in (0.5, 0.95, 0.99):
        exact = samples[int(fraction * len(samples)) - 1]
        assert histogram.percentile(fraction) == pytest.approx(exact, rel=0.13)
    assert Histogram().percentile(0.5) is None
    assert Histogram.from_json(histogram.to_json()) == histogram


def test_tallies_merge_and_say_their_rates():
    one, other = Tally(), Tally()
    one.count_group("succeeded", 3, 3, 3.0, 2.0, bucket_of(1.0), 0.3, 10)
    other.count_group("failed", 1, 1, 5.0, 5.0, bucket_of(5.0), 1.0, 12)
    other.count_group("cancelled", 2, 0, 0.0, 0.0, None, 0.0, 14)
    one.merge(other)
    assert one.outcomes == {"succeeded": 3, "failed": 1, "cancelled": 2, "timed_out": 0}
    assert (one.finished, one.runs, one.run_max_s, one.last_failed_id) == (6, 4, 5.0, 12)
    assert one.failure_rate == pytest.approx(0.25)  # cancelled ones are left out
    assert one.mean_wait_s == pytest.approx(1.3 / 4)
    assert Tally().failure_rate is None and Tally().mean_wait_s is None


def view_of(bars: list[Tally], depths: list[Depth | None] | None = None) -> StatsView:
    stats_range = RANGES["15m"]
    return StatsView(stats_range, None, 29_000_000, bars,
                     depths or [None] * stats_range.points, {}, {})


def test_a_finished_chart_stacks_each_outcome_in_proportion():
    bars = [Tally() for _ in range(15)]
    bars[3].count_group("succeeded", 30, 30, 30.0, 1.0, 30, 0.0, 1)
    bars[3].count_group("failed", 10, 10, 10.0, 1.0, 30, 0.0, 2)
    bars[9].count_group("succeeded", 5, 5, 5.0, 1.0, 30, 0.0, 3)
    chart = charts.finished_chart(view_of(bars))
    assert len(chart.bars) == 15 and chart.y_ticks[-1].text == "40"
    tall = chart.bars[3]
    assert [rect.kind for rect in tall.rects] == ["succeeded", "failed"]
    assert sum(rect.height for rect in tall.rects) == pytest.approx(charts.PLOT_H)
    assert tall.rects[0].height == pytest.approx(3 * tall.rects[1].height)
    assert chart.bars[9].rects[0].height == pytest.approx(charts.PLOT_H / 8)
    assert "30 succeeded, 10 failed" in tall.title and chart.bars[0].rects == []
    assert chart.empty == ""
    assert charts.finished_chart(view_of([Tally() for _ in range(15)])).empty


def test_a_depth_line_breaks_where_no_server_sampled():
    depths: list[Depth | None] = [Depth(1, 0, 2)] * 5 + [None] * 5 + [Depth(4, 0, 0)] + \
        [None] * 3 + [Depth(0, 0, 1)]
    chart = charts.depth_chart(view_of([Tally() for _ in range(15)], depths))
    queued = next(line for line in chart.lines if line.kind == "queued")
    assert len(queued.segments) == 1 and len(queued.segments[0].split()) == 5
    assert len(queued.dots) == 2  # a lone sample is a dot
    assert chart.summary.endswith("now 0 queued, 0 delayed, 1 running")


@pytest.mark.parametrize(("value", "ceiling"), [(0, 1), (1, 1), (3, 4), (7, 10), (23, 40),
                                                (0.3, 0.4), (120, 200)])
def test_axes_end_on_round_numbers(value, ceiling):
    assert charts.nice_ceiling(value) == pytest.approx(ceiling)
