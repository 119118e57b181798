"""What a SQLite server's file and the probe log held right after each SIGKILL, and the
figures the kill tests check at the end: which tasks a kill could have made run again, and
how many runs it did make again, counted from the probe log the tasks append to (not from the
server's own records)."""

from __future__ import annotations

import collections
import dataclasses
import json
import sqlite3
from collections.abc import Mapping
from pathlib import Path

from probe_log import starts


@dataclasses.dataclass(frozen=True)
class Row:
    """One task row as the SQLite file holds it."""

    status: str
    attempts: int
    key: str  # the probe's `key` param


def rows(database: Path) -> dict[int, Row]:
    """Every task row of the SQLite file, read from the file itself."""
    connection = sqlite3.connect(database)
    try:
        found = connection.execute(
            "SELECT id, status, attempts, params FROM deferred_tasks").fetchall()
    finally:
        connection.close()
    return {task_id: Row(status, attempts, json.loads(params)["key"])
            for task_id, status, attempts, params in found}


def kill_test_config(limits: Mapping[str, int], kills: int) -> dict[str, object]:
    """The config of a server killed `kills` times: interrupted runs start again after
    0.2 s (not the default 5 s), and no task reaches the poison-pill limit however many of
    the kills interrupt it."""
    return {"limits": dict(limits),
            "recovery": {"backoff_s": 0.2, "max_backoff_s": 0.4,
                         "max_interrupted_runs": kills + 1}}


def most_claimed_at_once(limits: Mapping[str, int]) -> int:
    """How many rows one server may hold RUNNING at once with these `limits`, each of which
    a SIGKILL can make run again: its pool (`workers`, at most `global`; `global` when
    unset) runs tasks, some of which may have returned with their outcome not yet committed,
    and up to `prefetch` more (the pool size when unset) wait claimed ahead of a free worker.
    Defaults as in docs/configuration.md (global 8)."""
    global_limit = limits.get("global", 8)
    pool = min(limits.get("workers", global_limit), global_limit)
    return pool + limits.get("prefetch", pool)


@dataclasses.dataclass(frozen=True)
class Kill:
    """The rows and the probe starts right after one kill (the server dead, its file still)."""

    rows: dict[int, Row]
    starts: collections.Counter[str]

    @property
    def running(self) -> set[int]:
        """The rows the kill left RUNNING: these, and only these, may run again."""
        return {task_id for task_id, row in self.rows.items() if row.status == "RUNNING"}


@dataclasses.dataclass(frozen=True)
class Figures:
    """What the kills did: how many, to how many tasks, and how many runs they repeated."""

    kills: int
    tasks: int
    runs: int  # starts in the probe log
    most_running_at_a_kill: int

    @property
    def reruns(self) -> int:
        return self.runs - self.tasks

    def __str__(self) -> str:
        return (f"{self.kills} kills, {self.tasks} tasks, {self.runs} runs, {self.reruns} "
                f"re-runs, at most {self.most_running_at_a_kill} running at a kill")


class KillLedger:
    """The kills of one test against the SQLite file `cwd/deferred.db` and the probe log
    `cwd/probe.log`."""

    def __init__(self, cwd: Path) -> None:
        self.cwd = cwd
        self.kills: list[Kill] = []

    def record_kill(self) -> Kill:
        """Note what the file and the probe log hold now; call it once the server is dead."""
        kill = Kill(rows(self.cwd / "deferred.db"), starts(self.cwd))
        self.kills.append(kill)
        return kill

    def times_left_running(self, task_id: int) -> int:
        """At how many kills this task was RUNNING."""
        return sum(task_id in kill.running for kill in self.kills)

    def check_every_run(self, bound_per_kill: int) -> Figures:
        """Check the final file and probe log against the kills; return the figures.

        Every row SUCCEEDED; a task that no kill left RUNNING (queued, or claimed and
        finished between kills) ran exactly once; any other ran at most once more than the
        kills that left it RUNNING; no kill left more than `bound_per_kill` rows RUNNING.
        """
        final, counts = rows(self.cwd / "deferred.db"), starts(self.cwd)
        not_succeeded = {task_id: row for task_id, row in final.items()
                         if row.status != "SUCCEEDED"}
        assert not not_succeeded, not_succeeded
        wrong = {row.key: counts[row.key] for task_id, row in final.items()
                 if not 1 <= counts[row.key] <= 1 + self.times_left_running(task_id)}
        assert not wrong, f"runs outside 1 + the kills that left them running: {wrong}"
        never_running = [row.key for task_id, row in final.items()
                         if not self.times_left_running(task_id)]
        assert all(counts[key] == 1 for key in never_running)
        most = max((len(kill.running) for kill in self.kills), default=0)
        assert most <= bound_per_kill, f"{most} RUNNING at a kill, more than {bound_per_kill}"
        figures = Figures(len(self.kills), len(final), sum(counts[row.key]
                                                           for row in final.values()), most)
        assert figures.reruns <= bound_per_kill * figures.kills, figures
        return figures
