"""Reading the probe log that probe tasks write (`probe_tasks.run_probe`): one line per start
and end, `EVENT KEY MOMENT`, appended by every process that runs one."""

from __future__ import annotations

import collections
from pathlib import Path


def probe_events(tmp_path: Path) -> list[tuple[float, str, str]]:
    """(moment, event, key) of every line of tmp_path/probe.log, in time order."""
    log = tmp_path / "probe.log"
    lines = log.read_text().splitlines() if log.exists() else []
    return sorted((float(moment), event, key)
                  for event, key, moment in (line.split() for line in lines))


def most_at_once(events: list[tuple[float, str, str]], prefix: str = "") -> int:
    """The most probes (with keys starting with `prefix`) running at one moment. Ends sort
    before starts at the same timestamp: a slot is freed before it is taken again."""
    running = most = 0
    for _, event, key in sorted(events, key=lambda item: (item[0], item[1] == "start")):
        if key.startswith(prefix):
            running += 1 if event == "start" else -1
            most = max(most, running)
    return most


def starts(tmp_path: Path) -> collections.Counter[str]:
    """How many times each key started."""
    return collections.Counter(key for _, event, key in probe_events(tmp_path)
                               if event == "start")
