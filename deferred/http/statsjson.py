"""`GET /api/stats`: the dashboard's statistics as JSON (the bars of a range and the figures
per task type), the query it reads, and its operation in the OpenAPI document. Pure
functions, no I/O."""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any

import bottle

from ..errors import BadRequestError
from ..stats import DEFAULT_RANGE, OUTCOMES, RANGES, StatsRange, StatsView, Tally
from .openapi_schemas import object_schema
from .representation import timestamp_json

_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)


def parse_range(query: bottle.FormsDict) -> StatsRange:
    """The `range` of a statistics query (`15m`, `1h`, `24h`, `7d`; default `1h`). Raises
    `BadRequestError` naming the choices."""
    key = single_value(query, "range")
    key = DEFAULT_RANGE if key is None else key
    if key not in RANGES:
        raise BadRequestError(f"range {key!r} is not one of {', '.join(RANGES)}",
                              where="range")
    return RANGES[key]


def single_value(query: bottle.FormsDict, name: str) -> str | None:
    """A query parameter given at most once (None when absent). Raises `BadRequestError`."""
    given = query.decode().getall(name)  # decoded as UTF-8, as `getunicode` does
    if len(given) > 1:
        raise BadRequestError(f"{name} is given more than once", where=name)
    return given[0] if given else None


def stats_json(view: StatsView) -> dict[str, Any]:
    """The answer of `GET /api/stats`: a bar per step of the range, oldest first, and the
    range's figures per task type that finished tasks in it."""
    step = view.range.step_min
    bars = []
    for index, (tally, depth) in enumerate(zip(view.bars, view.depths)):
        start = _EPOCH + datetime.timedelta(minutes=view.start_min + index * step)
        bars.append({"start": timestamp_json(start), **tally.outcomes,
                     "run_p50_s": _rounded(tally.percentile(0.5)),
                     "run_p95_s": _rounded(tally.percentile(0.95)),
                     "queued": None if depth is None else depth.queued,
                     "delayed": None if depth is None else depth.delayed,
                     "running": None if depth is None else depth.running})
    types = []
    for name in sorted(view.by_name):
        failure = view.last_failures.get(name)
        types.append({"name": name, **_figures(view.by_name[name]), "last_failure": None
                      if failure is None else {"task_id": failure.task_id,
                                               "finished_at": timestamp_json(
                                                   failure.finished_at),
                                               "error": failure.error}})
    return {"range": view.range.key, "task_name": view.name, "bar_s": step * 60,
            "bars": bars, "task_types": types, "catching_up": view.catching_up}


def _figures(tally: Tally) -> dict[str, Any]:
    return {**tally.outcomes, "failure_rate": _rounded(tally.failure_rate),
            "run_p50_s": _rounded(tally.percentile(0.5)),
            "run_p95_s": _rounded(tally.percentile(0.95)),
            "run_max_s": _rounded(tally.run_max_s) if tally.runs else None,
            "mean_wait_s": _rounded(tally.mean_wait_s)}


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


def stats_operation(errors: Mapping[str, Any]) -> dict[str, Any]:
    """The `GET /api/stats` operation of the OpenAPI document, with its `errors`."""
    count = {"type": "integer", "minimum": 0}
    seconds = {"type": ["number", "null"], "minimum": 0}
    sample = {"type": ["integer", "null"], "minimum": 0,
              "description": "The deepest queue sampled in the bar (null: no server sampled)."}
    bar = object_schema(["start", *OUTCOMES, "run_p50_s", "run_p95_s", "queued", "delayed",
                         "running"],
                        start={"type": "string", "format": "date-time"},
                        **dict.fromkeys(OUTCOMES, count), run_p50_s=seconds,
                        run_p95_s=seconds, queued=sample, delayed=sample, running=sample)
    failure = {"oneOf": [{"type": "null"}, object_schema(
        ["task_id", "finished_at", "error"], task_id={"type": "integer"},
        finished_at={"type": ["string", "null"], "format": "date-time"},
        error={"type": "string"})]}
    task_type = object_schema(
        ["name", *OUTCOMES, "failure_rate", "run_p50_s", "run_p95_s", "run_max_s",
         "mean_wait_s", "last_failure"],
        name={"type": "string"}, **dict.fromkeys(OUTCOMES, count),
        failure_rate={"type": ["number", "null"], "minimum": 0, "maximum": 1,
                      "description": "Failed or timed out, of those that ran to an end."},
        run_p50_s=seconds, run_p95_s=seconds, run_max_s=seconds, mean_wait_s=seconds,
        last_failure=failure)
    answer = object_schema(
        ["range", "task_name", "bar_s", "bars", "task_types", "catching_up"],
        range={"enum": list(RANGES)}, task_name={"type": ["string", "null"]},
        bar_s={"type": "integer", "minimum": 60},
        bars={"type": "array", "items": bar}, task_types={"type": "array", "items": task_type},
        catching_up={"type": "boolean", "description": "The roll-up has not reached the "
                                                       "present yet; older bars may be low."})
    parameters = [
        {"name": "range", "in": "query", "required": False,
         "description": "How far back: 15m, 1h (default), 24h or 7d.",
         "schema": {"enum": list(RANGES)}},
        {"name": "task_name", "in": "query", "required": False,
         "description": "One task type (default: all).", "schema": {"type": "string"}}]
    return {"operationId": "getStats",
            "summary": "Tasks finished per bar by outcome, queue depth and run-time p50/p95 "
                       "over a range, and each task type's figures over it.",
            "parameters": parameters,
            "responses": dict(sorted({
                "200": {"description": "OK",
                        "content": {"application/json": {"schema": answer}}},
                **errors}.items()))}
