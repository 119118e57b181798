"""`Metrics`: this server's counters and run-time histograms, rendered in Prometheus' text
format with the gauges read from the database at scrape time. No exporter, no library: the
format is a few lines of text."""

from __future__ import annotations

import math
import threading
from collections.abc import Mapping

# Run-time buckets, in seconds: from a quick no-op to an hour.
BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
             300.0, 900.0, 3600.0, math.inf)


class Metrics:
    """Counts what this server did since it started; safe to update from any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._submitted: dict[str, int] = {}
        self._started: dict[str, int] = {}
        self._finished: dict[tuple[str, str], int] = {}
        self._interrupted: dict[str, int] = {}
        self._runs: dict[str, list[float]] = {}  # per name: bucket counts, then sum, count

    def task_submitted(self, name: str) -> None:
        """A task of `name` was stored (by a submit here)."""
        with self._lock:
            self._submitted[name] = self._submitted.get(name, 0) + 1

    def task_started(self, name: str) -> None:
        """A run of `name` started here."""
        with self._lock:
            self._started[name] = self._started.get(name, 0) + 1

    def task_interrupted(self, name: str) -> None:
        """A run of `name` that a server's stop or death interrupted was found here."""
        with self._lock:
            self._interrupted[name] = self._interrupted.get(name, 0) + 1

    def task_finished(self, name: str, status: str, duration_s: float | None) -> None:
        """A run of `name` ended here with `status` after `duration_s`."""
        with self._lock:
            key = (name, status)
            self._finished[key] = self._finished.get(key, 0) + 1
            if duration_s is None:
                return
            run = self._runs.setdefault(name, [0.0] * (len(BUCKETS_S) + 2))
            for index, bound in enumerate(BUCKETS_S):
                if duration_s <= bound:
                    run[index] += 1
            run[-2] += duration_s
            run[-1] += 1

    def render(self, *, pending: Mapping[tuple[str, str], int],
               limits: Mapping[str, int | None], global_limit: int,
               outbox: Mapping[str, int]) -> str:
        """The Prometheus text exposition: this server's counters and histograms, and the
        cluster's queue depth, running count per task type against its limit, and emails."""
        lines: list[str] = []
        with self._lock:
            _counter(lines, "deferred_tasks_submitted_total", "Tasks stored by submits here.",
                     {(("task_type", name),): count for name, count in self._submitted.items()})
            _counter(lines, "deferred_tasks_started_total", "Runs started here.",
                     {(("task_type", name),): count for name, count in self._started.items()})
            _counter(lines, "deferred_tasks_finished_total", "Runs ended here, by status.",
                     {(("task_type", name), ("status", status)): count
                      for (name, status), count in self._finished.items()})
            _counter(lines, "deferred_tasks_interrupted_total",
                     "Runs that a server's stop or death interrupted, found by this server.",
                     {(("task_type", name),): count
                      for name, count in self._interrupted.items()})
            lines += ["# HELP deferred_task_run_seconds How long runs took here.",
                      "# TYPE deferred_task_run_seconds histogram"]
            for name, run in sorted(self._runs.items()):
                for bound, count in zip(BUCKETS_S, run):
                    le = "+Inf" if bound == math.inf else f"{bound:g}"
                    lines.append(f"deferred_task_run_seconds_bucket{{task_type={_quote(name)},"
                                 f"le=\"{le}\"}} {count:g}")
                lines.append(f"deferred_task_run_seconds_sum{{task_type={_quote(name)}}} "
                             f"{run[-2]:g}")
                lines.append(f"deferred_task_run_seconds_count{{task_type={_quote(name)}}} "
                             f"{run[-1]:g}")
        names = sorted(set(limits) | {name for name, _ in pending})
        _gauge(lines, "deferred_tasks_queued", "Tasks waiting, on every server.",
               {(("task_type", name),): pending.get((name, "QUEUED"), 0) for name in names})
        _gauge(lines, "deferred_tasks_running", "Tasks running, on every server.",
               {(("task_type", name),): pending.get((name, "RUNNING"), 0) for name in names})
        _gauge(lines, "deferred_task_type_limit", "Each task type's limit (when it has one).",
               {(("task_type", name),): limit for name, limit in limits.items()
                if limit is not None})
        _gauge(lines, "deferred_global_limit", "The global limit.", {(): global_limit})
        _gauge(lines, "deferred_emails", "Result emails, by state.",
               {(("state", state.lower()),): count for state, count in outbox.items()})
        return "\n".join(lines) + "\n"


def _quote(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n")
    return f"\"{escaped}\""


def _samples(lines: list[str], name: str, help_text: str, kind: str,
             values: Mapping[tuple[tuple[str, str], ...], float]) -> None:
    lines += [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"]
    for labels, value in sorted(values.items()):
        label_text = ",".join(f"{key}={_quote(text)}" for key, text in labels)
        lines.append(f"{name}{{{label_text}}} {value:g}" if labels else f"{name} {value:g}")


def _counter(lines: list[str], name: str, help_text: str,
             values: Mapping[tuple[tuple[str, str], ...], float]) -> None:
    _samples(lines, name, help_text, "counter", values)


def _gauge(lines: list[str], name: str, help_text: str,
           values: Mapping[tuple[tuple[str, str], ...], float]) -> None:
    _samples(lines, name, help_text, "gauge", values)
