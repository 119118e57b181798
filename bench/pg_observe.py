"""What a PostgreSQL benchmark watches while it drains: the CPU used by the job runner's
processes, by PostgreSQL's and by the rest of the machine (from /proc), what the busy
connections wait on, and how many transactions the database committed."""

from __future__ import annotations

import os
import time

import sqlalchemy as sa

_TICK = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> list[str] | None:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as file:
            text = file.read()
    except OSError:
        return None
    return text[text.rindex(")") + 2:].split()  # fields from the 3rd (state) on


def cpu_seconds(pids: list[int]) -> dict[int, float]:
    """User + system CPU seconds of each process still alive."""
    times = {}
    for pid in pids:
        fields = _stat(pid)
        if fields is not None:
            times[pid] = (int(fields[11]) + int(fields[12])) / _TICK  # utime, stime
    return times


def children_of(parent: int) -> list[int]:
    """The processes whose parent is `parent` (PostgreSQL's backends and helpers)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = _stat(int(entry))
            if fields is not None and int(fields[1]) == parent:
                found.append(int(entry))
    return found


def machine_busy() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot, from /proc/stat."""
    with open("/proc/stat", encoding="ascii") as file:
        values = [int(value) for value in file.readline().split()[1:]]
    idle = values[3] + values[4]  # idle, iowait
    total = sum(values[:8])  # without guest time (already in user)
    return (total - idle) / _TICK, total / _TICK


class CpuWindow:
    """CPU used by the job runner's processes (`runner_pids`; reported as "servers"), by PostgreSQL and by the machine between `begin()` and
    `end()`, in cores (CPU seconds over wall seconds)."""

    def __init__(self, runner_pids: list[int], postmaster_pid: int) -> None:
        self.runner_pids, self.postmaster_pid = runner_pids, postmaster_pid

    def _snapshot(self) -> tuple[float, dict[int, float], dict[int, float], tuple[float, float],
                                 float]:
        pg_pids = [self.postmaster_pid, *children_of(self.postmaster_pid)]
        return (time.perf_counter(), cpu_seconds(self.runner_pids), cpu_seconds(pg_pids),
                machine_busy(), time.process_time())

    def begin(self) -> None:
        self._first = self._snapshot()

    def end(self) -> dict[str, float]:
        (wall0, servers0, pg0, machine0, own0), (wall1, servers1, pg1, machine1, own1) = (
            self._first, self._snapshot())
        wall = wall1 - wall0

        def used(before: dict[int, float], after: dict[int, float]) -> float:
            # A backend started inside the window counts from zero.
            return sum(seconds - before.get(pid, 0.0) for pid, seconds in after.items())

        servers, pg = used(servers0, servers1) / wall, used(pg0, pg1) / wall
        own, machine = (own1 - own0) / wall, (machine1[0] - machine0[0]) / wall
        return {"servers_cores": round(servers, 2), "postgres_cores": round(pg, 2),
                "bench_process_cores": round(own, 2),  # the 50 ms poll
                "machine_cores": round(machine, 2),
                # Anything else running on the machine meanwhile (other jobs, the kernel).
                "other_cores": round(max(0.0, machine - servers - pg - own), 2),
                "machine_total_cores": round((machine1[1] - machine0[1]) / wall, 2),
                "per_server_cores": [round((servers1.get(pid, 0.0) - servers0.get(pid, 0.0))
                                           / wall, 2) for pid in self.runner_pids]}


# The job runner's connections that are not idle, by what they wait on: "active: Lock/advisory"
# (waiting for the claim lock), "active: IO/WALSync" (a commit's flush), "active: cpu" (running
# a statement), "idle in transaction: Client/ClientRead" (waiting for the runner's Python).
ACTIVITY = sa.text(
    "SELECT state || ': ' || coalesce(wait_event_type || '/' || wait_event, 'cpu'), count(*) "
    "FROM pg_stat_activity WHERE backend_type = 'client backend' "
    "AND datname = current_database() AND pid <> pg_backend_pid() AND state <> 'idle' "
    "GROUP BY 1")


COMMITS = sa.text("SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()")
STATS_FLUSH_S = 1.2
