"""The dashboard's charts as geometry for SVG templates: bars, lines and axis labels computed
from a `StatsView`. Pure functions; the template (`_charts.tpl`) escapes every text and
writes only numbers into attributes."""

from __future__ import annotations

import dataclasses
import datetime
import math
from collections.abc import Sequence

from ...stats import OUTCOMES, Depth, StatsView, Tally
from .pages import duration_text, seconds_text

WIDTH, HEIGHT = 360, 170
LEFT, RIGHT, TOP, BOTTOM = 40, 6, 8, 22  # room for the axis labels
PLOT_W, PLOT_H = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
OUTCOME_LABELS = {"succeeded": "succeeded", "failed": "failed", "cancelled": "cancelled",
                  "timed_out": "timed out"}
DEPTH_KINDS = ("queued", "delayed", "running")
_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)


@dataclasses.dataclass(frozen=True)
class Rect:
    """One coloured part of a bar; `kind` names its CSS class."""

    x: float
    y: float
    width: float
    height: float
    kind: str


@dataclasses.dataclass(frozen=True)
class Bar:
    """One bar of a stacked chart with its parts and the tooltip saying what it counts."""

    rects: Sequence[Rect]
    title: str
    x: float
    width: float


@dataclasses.dataclass(frozen=True)
class Line:
    """A series drawn as polylines (a gap where no value was sampled); `kind` names its
    CSS class."""

    kind: str
    label: str
    segments: Sequence[str]  # each an SVG `points` attribute
    dots: Sequence[tuple[float, float]]  # lone points, where a segment has one point


@dataclasses.dataclass(frozen=True)
class Tick:
    """A label on an axis at `position` (x for the time axis, y for the value axis)."""

    position: float
    text: str
    anchor: str = "middle"  # SVG text-anchor: the first and last time labels stay inside


@dataclasses.dataclass(frozen=True)
class Chart:
    """One chart: its title, what it says to a screen reader, bars or lines, and its axes."""

    key: str
    title: str
    summary: str
    bars: Sequence[Bar]
    lines: Sequence[Line]
    y_ticks: Sequence[Tick]
    x_ticks: Sequence[Tick]
    legend: Sequence[tuple[str, str]]  # (kind, label)
    empty: str  # shown over the plot when there is nothing to draw, else ""

    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    top: int = TOP
    plot_w: int = PLOT_W
    plot_h: int = PLOT_H


def nice_ceiling(value: float) -> float:
    """The smallest of 1, 2, 4, 5 times a power of ten at or above `value` (1 for 0): the
    axis's middle label is then round too."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 4, 5, 10):
        if value <= step * power:
            return step * power
    return 10 * power  # not reached


def bar_label(view: StatsView, index: int) -> str:
    """When a bar starts, `14:05` (or `Mon 08:00` for the 7-day range), UTC."""
    moment = _EPOCH + datetime.timedelta(minutes=view.start_min + index * view.range.step_min)
    return moment.strftime("%a %H:%M" if view.range.minutes > 24 * 60 else "%H:%M")


def _x_ticks(view: StatsView) -> list[Tick]:
    points = len(view.bars)
    step = PLOT_W / points
    picks = sorted({0, points // 3, (2 * points) // 3, points - 1})
    ticks = [Tick(round(LEFT + step * (index + 0.5), 1), bar_label(view, index))
             for index in picks]
    ticks[0] = Tick(LEFT, ticks[0].text, "start")
    ticks[-1] = Tick(LEFT + PLOT_W, ticks[-1].text, "end")
    return ticks


def _count_ticks(top: float) -> list[Tick]:
    return [Tick(TOP + PLOT_H * (1 - fraction), _number(top * fraction))
            for fraction in (0.0, 0.5, 1.0)]


def _number(value: float) -> str:
    if value >= 10_000:
        return f"{value / 1000:.0f}k"
    if value >= 1000:
        return f"{value / 1000:.1f}k".replace(".0k", "k")
    return f"{value:.0f}" if value == int(value) else f"{value:.1f}"


def finished_chart(view: StatsView) -> Chart:
    """Tasks finished per bar, stacked by outcome."""
    top = nice_ceiling(max((bar.finished for bar in view.bars), default=0))
    step = PLOT_W / len(view.bars)
    bars = []
    for index, tally in enumerate(view.bars):
        x, y, rects = LEFT + index * step, TOP + PLOT_H, []
        for outcome in OUTCOMES:
            count = tally.outcomes[outcome]
            if count:
                height = PLOT_H * count / top
                y -= height
                rects.append(Rect(x + 0.5, y, max(step - 1, 0.5), height, outcome))
        parts = ", ".join(f"{tally.outcomes[outcome]} {OUTCOME_LABELS[outcome]}"
                          for outcome in OUTCOMES if tally.outcomes[outcome])
        bars.append(Bar(rects, f"{bar_label(view, index)} UTC: {parts or 'none finished'}",
                        round(x, 1), round(step, 1)))
    total = view.total
    summary = (f"Tasks finished per {_per(view)} over the last {view.range.label}: "
               + ", ".join(f"{total.outcomes[outcome]} {OUTCOME_LABELS[outcome]}"
                           for outcome in OUTCOMES))
    return Chart("finished", f"Finished per {_per(view)}", summary, bars, (),
                 _count_ticks(top), _x_ticks(view),
                 [(outcome, OUTCOME_LABELS[outcome]) for outcome in OUTCOMES],
                 "" if total.finished else f"No task finished in the last {view.range.label}")


def depth_chart(view: StatsView) -> Chart:
    """The deepest queue sampled in each bar: queued, delayed and running."""
    values = [depth for depth in view.depths if depth is not None]
    top = nice_ceiling(max((max(depth.queued, depth.delayed, depth.running)
                            for depth in values), default=0))
    lines = [_line(kind, kind, [None if depth is None else getattr(depth, kind)
                                for depth in view.depths], top)
             for kind in DEPTH_KINDS]
    now = view.depths[-1] or Depth()
    summary = (f"Queue depth over the last {view.range.label}; now {now.queued} queued, "
               f"{now.delayed} delayed, {now.running} running")
    busy = any(depth.queued or depth.delayed or depth.running for depth in values)
    return Chart("depth", "Queue depth", summary, (), lines, _count_ticks(top),
                 _x_ticks(view), [(kind, kind) for kind in DEPTH_KINDS],
                 "" if busy else "Nothing was queued, delayed or running")


def run_time_chart(view: StatsView) -> Chart:
    """The p50 and p95 run time of the tasks that finished in each bar."""
    p50 = [_percentile(bar, 0.5) for bar in view.bars]
    p95 = [_percentile(bar, 0.95) for bar in view.bars]
    # At least 1 ms, so that the axis's labels read as numbers.
    top = nice_ceiling(max([0.001, *(value for value in p95 if value is not None)]))
    lines = [_line("p50", "p50", p50, top), _line("p95", "p95", p95, top)]
    total = view.total
    whole50, whole95 = total.percentile(0.5), total.percentile(0.95)
    summary = (f"Run time over the last {view.range.label}: p50 {_seconds(whole50)}, "
               f"p95 {_seconds(whole95)}")
    ticks = [Tick(TOP + PLOT_H * (1 - fraction), duration_text(top * fraction) if fraction
                  else "0") for fraction in (0.0, 0.5, 1.0)]
    return Chart("run-time", "Run time", summary, (), lines, ticks, _x_ticks(view),
                 [("p50", "p50"), ("p95", "p95")],
                 "" if total.runs else f"No task ran in the last {view.range.label}")


def charts(view: StatsView) -> list[Chart]:
    """The overview's three charts."""
    return [finished_chart(view), depth_chart(view), run_time_chart(view)]


def _percentile(tally: Tally, fraction: float) -> float | None:
    return tally.percentile(fraction) if tally.runs else None


def _seconds(value: float | None) -> str:
    return seconds_text(value)


def _per(view: StatsView) -> str:
    step = view.range.step_min
    return "minute" if step == 1 else f"{step} min" if step < 60 else f"{step // 60} h"


def _line(kind: str, label: str, values: Sequence[float | None], top: float) -> Line:
    """A polyline through each bar's middle, broken where a value is missing."""
    step = PLOT_W / len(values)
    segments: list[list[tuple[float, float]]] = [[]]
    for index, value in enumerate(values):
        if value is None:
            if segments[-1]:
                segments.append([])
            continue
        segments[-1].append((round(LEFT + step * (index + 0.5), 1),
                             round(TOP + PLOT_H * (1 - min(value, top) / top), 1)))
    drawn = [points for points in segments if len(points) > 1]
    dots = [points[0] for points in segments if len(points) == 1]
    return Line(kind, label, [" ".join(f"{x},{y}" for x, y in points) for points in drawn],
                dots)
