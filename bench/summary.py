"""Rows of the table: deferred's figure, Huey's, their ratio and the goal."""

from __future__ import annotations

from typing import Any


def ratio_row(case: str, unit: str, ours: float, huey: float, huey_config: str, *,
              goal: float | None = None, higher_is_better: bool = True) -> dict[str, Any]:
    """One comparison. `goal` is a minimum deferred/Huey ratio (or, when lower is better, a
    maximum); None when this row is not the one the goal is judged on."""
    ratio = ours / huey if huey else float("inf")
    row: dict[str, Any] = {"case": case, "unit": unit, "deferred": _figure(ours),
                           "huey": _figure(huey), "huey_config": huey_config,
                           "deferred/huey": f"{ratio:.2f}x"}
    if goal is not None:
        met = ratio >= goal if higher_is_better else ratio <= goal
        row["goal"] = f"{'>=' if higher_is_better else '<='} {goal:g}x Huey"
        row["met"] = "yes" if met else "NO"
    return row


def goal_row(case: str, unit: str, ours: float, goal: float, *, higher_is_better: bool = True,
             **extra: Any) -> dict[str, Any]:
    """One figure against an absolute goal."""
    met = ours >= goal if higher_is_better else ours < goal
    return {"case": case, "unit": unit, "deferred": _figure(ours), **extra,
            "goal": f"{'>=' if higher_is_better else '<'} {_figure(goal)}",
            "met": "yes" if met else "NO"}


def _figure(value: float) -> float:
    if value >= 100:
        return round(value)
    if value >= 1:
        return round(value, 1)
    return round(value, 3)
