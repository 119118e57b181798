"""SIGKILL the moment a server logs "task N (probe) attempt A SUCCEEDED", 20 times over: the
line is written only once the outcome is committed, so no task whose SUCCEEDED line was
logged runs again, nothing accepted is lost, and queued tasks run once (counted from the
probe log the tasks append to)."""

from __future__ import annotations

import re
import signal
import threading
from pathlib import Path

from kill_ledger import KillLedger, kill_test_config, most_claimed_at_once, rows
from probe_log import starts
from serverproc import ServerProcess, wait_until

PROBE_TASKS = Path(__file__).with_name("probe_tasks.py")
SUCCEEDED = re.compile(r"task (\d+) \(probe\) attempt (\d+) SUCCEEDED in ")
KILLS = 20
TASKS = 120
LIMITS = {"global": 4}
CONFIG = kill_test_config(LIMITS, KILLS)


class KilledOnSuccess:
    """A server in `cwd` whose output reader, once `armed` is set, sends SIGKILL the moment
    it reads a SUCCEEDED line. `logged` keeps every SUCCEEDED line read (task id: attempt);
    all of them were written before the kill."""

    def __init__(self, cwd: Path, armed: threading.Event) -> None:
        self.logged: dict[int, int] = {}
        self._armed = armed
        self.server = ServerProcess(PROBE_TASKS, cwd, CONFIG, on_line=self._read)

    def _read(self, line: str) -> None:
        match = SUCCEEDED.search(line)
        if match:
            self.logged[int(match.group(1))] = int(match.group(2))
            if self._armed.is_set():
                assert self.server.process is not None
                self.server.process.send_signal(signal.SIGKILL)


def test_a_kill_right_after_each_succeeded_line_never_runs_that_task_again(servers, tmp_path):
    armed = threading.Event()
    life = KilledOnSuccess(tmp_path, armed)
    servers.append(life.server.start())
    hold = tmp_path / "hold"
    hold.touch()  # the first tasks wait for it, so that all are submitted before any ends
    ids = [life.server.submit("probe", {"key": f"k{index}", "hold_while": str(hold)})
           for index in range(TASKS)]
    armed.set()
    hold.unlink()

    ledger = KillLedger(tmp_path)
    logged_before_kill: dict[int, int] = {}  # task id: the kill its SUCCEEDED line preceded
    while True:
        life.server.wait_exit(timeout_s=30)
        kill = ledger.record_kill()
        for task_id, attempt in life.logged.items():
            assert (kill.rows[task_id].status, kill.rows[task_id].attempts) == (
                "SUCCEEDED", attempt), f"task {task_id} logged SUCCEEDED but not committed"
            logged_before_kill.setdefault(task_id, len(ledger.kills) - 1)
        assert len(logged_before_kill) < TASKS, "ran out of tasks before the last kill"
        if len(ledger.kills) == KILLS:
            break
        life = KilledOnSuccess(tmp_path, armed)
        # Not start(): its dispatcher may finish a task, and be killed, before it listens.
        servers.append(life.server.launch())

    armed.clear()
    life = KilledOnSuccess(tmp_path, armed)  # the last one drains the queue
    servers.append(life.server.start())
    wait_until(lambda: all(row.status == "SUCCEEDED" for row in rows(tmp_path / "deferred.db")
                           .values()), timeout_s=30, step_s=0.1)
    life.server.signal(signal.SIGTERM)
    assert life.server.wait_exit() == 0

    assert sorted(rows(tmp_path / "deferred.db")) == sorted(ids)  # every 2xx is stored
    final = starts(tmp_path)
    keys = {task_id: row.key for task_id, row in rows(tmp_path / "deferred.db").items()}
    runs_after_the_line = {
        keys[task_id]: final[keys[task_id]] - ledger.kills[kill].starts[keys[task_id]]
        for task_id, kill in logged_before_kill.items()}
    ran_again = {key: runs for key, runs in runs_after_the_line.items() if runs}
    assert not ran_again, f"logged SUCCEEDED before a kill, then started again: {ran_again}"
    figures = ledger.check_every_run(most_claimed_at_once(LIMITS))
    print(f"kill after SUCCEEDED: {figures}; {len(logged_before_kill)} tasks logged "
          f"SUCCEEDED before a kill, none of them ran again")
