"""What the UI's templates show, computed from records and task types: pure functions, no
bottle, no I/O. The templates escape every text these return."""

from __future__ import annotations

import dataclasses
import datetime
import json
import urllib.parse
from collections.abc import Mapping, Sequence
from typing import Any

from ...interfaces import TaskType
from ...records import QueueDepth, TaskRecord, TaskStatus

LIST_RESULT_CHARS = 160  # a result in a list is cut here, with a link to the task page
PAGE_RESULT_CHARS = 65_536  # the task page shows this much, with a link to the whole
_UNITS = ((86_400, "d"), (3_600, "h"), (60, "min"), (1, "s"))


def relative_time(moment: datetime.datetime | None, now: datetime.datetime) -> str:
    """`12 s ago`, `3 min ago`, `in 5 s`, `just now`; "" for no moment."""
    if moment is None:
        return ""
    seconds = (now - moment).total_seconds()
    if abs(seconds) < 1:
        return "just now"
    text = duration_text(abs(seconds))
    return f"{text} ago" if seconds > 0 else f"in {text}"


def duration_text(seconds: float) -> str:
    """A short duration: `850 ms`, `4.2 s`, `3 min 20 s`, `2 h 5 min`, `3 d 4 h`."""
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.1f} s" if seconds < 10 else f"{seconds:.0f} s"
    whole = int(seconds)
    for index, (size, unit) in enumerate(_UNITS[:-1]):
        if whole >= size:
            next_size, next_unit = _UNITS[index + 1]
            rest = (whole % size) // next_size
            return f"{whole // size} {unit}" + (f" {rest} {next_unit}" if rest else "")
    return f"{whole} s"  # not reached: whole >= 60 matches "min"


def exact_time(moment: datetime.datetime | None) -> str:
    """`2024-05-01 12:00:03 UTC`, or ""."""
    if moment is None:
        return ""
    return moment.astimezone(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def iso_time(moment: datetime.datetime | None) -> str:
    """ISO 8601 for `<time datetime>`, or ""."""
    return "" if moment is None else moment.astimezone(datetime.timezone.utc).isoformat()


def run_duration(record: TaskRecord, now: datetime.datetime) -> str:
    """How long it ran (finished) or has been running (running); "" before it starts."""
    if record.started_at is None:
        return ""
    end = record.finished_at or now
    return duration_text(max(0.0, (end - record.started_at).total_seconds()))


def result_text(result: Any) -> str:
    """A result as the UI shows it: a string as is, anything else as indented JSON."""
    if result is None:
        return ""
    if isinstance(result, str):
        return result
    return json.dumps(result, ensure_ascii=False, indent=2, default=dict)


def json_text(value: Any) -> str:
    """Params or any JSON value, indented."""
    return json.dumps(value, ensure_ascii=False, indent=2, default=dict)


def compact_json(value: Any) -> str:
    """A JSON value on one line, for lists."""
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "), default=dict)


def cut(text: str, limit: int) -> tuple[str, bool]:
    """The first `limit` characters and whether anything was cut."""
    if len(text) <= limit:
        return text, False
    return text[:limit].rstrip() + "…", True


def status_class(status: TaskStatus | str) -> str:
    """The CSS class of a status badge: `badge badge-succeeded`."""
    return f"badge badge-{str(status).lower().replace('_', '-')}"


@dataclasses.dataclass(frozen=True)
class Usage:
    """Running, waiting (may start now) and delayed (wait for their start time) records
    against a limit (None: no limit of its own)."""

    running: int = 0
    waiting: int = 0
    limit: int | None = None
    delayed: int = 0

    @property
    def text(self) -> str:
        """`2 / 4 running, 7 waiting, 3 delayed` (`2 running` without a limit; the delayed
        only when there are some)."""
        running = f"{self.running} / {self.limit}" if self.limit is not None else f"{self.running}"
        delayed = f", {self.delayed} delayed" if self.delayed else ""
        return f"{running} running, {self.waiting} waiting{delayed}"

    @property
    def percent(self) -> int:
        """How full the limit is, 0 to 100 (0 without a limit)."""
        if not self.limit:
            return 0
        return min(100, round(100 * self.running / self.limit))


def usage_by_name(depths: Mapping[str, QueueDepth], task_types: Sequence[TaskType]
                  ) -> dict[str, Usage]:
    """Each task type's usage from the store's queue depths."""
    return {item.name: _usage(depths.get(item.name, QueueDepth()), item.limit)
            for item in task_types}


def total_usage(depths: Mapping[str, QueueDepth], global_limit: int) -> Usage:
    """Every task type together, against the global limit."""
    return Usage(running=sum(depth.running for depth in depths.values()),
                 waiting=sum(depth.queued for depth in depths.values()),
                 delayed=sum(depth.delayed for depth in depths.values()),
                 limit=global_limit)


def _usage(depth: QueueDepth, limit: int | None) -> Usage:
    return Usage(running=depth.running, waiting=depth.queued, delayed=depth.delayed,
                 limit=limit)


@dataclasses.dataclass(frozen=True)
class ParamSummary:
    """One property of a task's schema in short: `count`, `integer ≥ 1`, required or not."""

    name: str
    type_text: str
    required: bool


def schema_summary(schema: Mapping[str, Any] | None) -> list[ParamSummary]:
    """A task's params in short, from its schema's top-level properties."""
    if not isinstance(schema, Mapping):
        return []
    properties = schema.get("properties")
    if not isinstance(properties, Mapping):
        return []
    required = schema.get("required")
    required = set(required) if isinstance(required, list) else set()
    return [ParamSummary(str(name), type_text(spec), name in required)
            for name, spec in properties.items()]


def type_text(spec: Any) -> str:
    """A property's schema in a few words: `string`, `one of a, b`, `array of number`,
    `integer ≥ 1`, `any`."""
    if not isinstance(spec, Mapping):
        return "any"
    if isinstance(spec.get("enum"), list):
        choices = ", ".join(json.dumps(choice, ensure_ascii=False) for choice in spec["enum"])
        return f"one of {cut(choices, 60)[0]}"
    kind = spec.get("type")
    if isinstance(kind, list):
        kind = " or ".join(str(item) for item in kind)
    text = str(kind) if kind else "any"
    if kind == "array":
        text = f"array of {type_text(spec.get('items'))}" if "items" in spec else "array"
    if isinstance(spec.get("format"), str):
        text += f" ({spec['format']})"
    bounds = [f"{sign} {spec[key]}" for key, sign in (
        ("minimum", "≥"), ("exclusiveMinimum", ">"), ("maximum", "≤"), ("exclusiveMaximum", "<"))
        if isinstance(spec.get(key), (int, float)) and not isinstance(spec.get(key), bool)]
    return " ".join([text, *bounds])


def path_part(text: str) -> str:
    """Text as one segment of a URL path (a `/` in it is quoted too)."""
    return urllib.parse.quote(text, safe="")


def percent_text(fraction: float | None) -> str:
    """`12.5 %`, `0 %`, or `–` for none."""
    if fraction is None:
        return "–"
    percent = 100 * fraction
    return f"{percent:.0f} %" if percent == int(percent) or percent >= 10 else f"{percent:.1f} %"


def seconds_text(seconds: float | None) -> str:
    """A duration as `duration_text` writes it, `< 1 ms` below that, or `–` for none."""
    if seconds is None:
        return "–"
    return "< 1 ms" if 0 < seconds < 0.001 else duration_text(seconds)


def stats_query(range_key: str, task_name: str | None) -> str:
    """The query string of a dashboard range and task type: `?range=1h&task_name=x`."""
    values = {"range": range_key, "task_name": task_name or ""}
    return "?" + urllib.parse.urlencode({key: value for key, value in values.items() if value})
