"""SIGKILL at random moments, 20 times, while several clients submit over HTTP: every
submit that got a 2xx ends SUCCEEDED, a task no kill left running ran exactly once, and no
kill made more runs happen again than the server held claimed (counted from the probe log the
tasks append to, not from the server's own records)."""

from __future__ import annotations

import http.client
import random
import signal
import threading
from pathlib import Path

from kill_ledger import KillLedger, kill_test_config, most_claimed_at_once, rows
from serverproc import ServerProcess, wait_until

PROBE_TASKS = Path(__file__).with_name("probe_tasks.py")
KILLS = 20
CLIENTS = 4
LIMITS = {"global": 4}
CONFIG = kill_test_config(LIMITS, KILLS)


class Submitter(threading.Thread):
    """A client submitting short probe tasks to the current server, one after another with a
    short pause, until `stopping` is set. `acknowledged` maps each task id that got a 2xx to
    its key; `unanswered` counts the submits that got no answer (the server died or was not
    listening), which may or may not have been stored."""

    def __init__(self, index: int, current: list[ServerProcess],
                 stopping: threading.Event) -> None:
        super().__init__(name=f"submitter-{index}")
        self.index, self.current, self.stopping = index, current, stopping
        self.acknowledged: dict[int, str] = {}
        self.unanswered = 0
        self.refused: list[tuple[int, object]] = []

    def run(self) -> None:
        number = 0
        while not self.stopping.wait(0.05):
            server = self.current[-1]
            if not server.url:  # not listening yet: nothing to send to
                continue
            key = f"c{self.index}-{number}"
            number += 1
            try:
                status, body = server.request(
                    "POST", "/api/tasks",
                    {"task_name": "probe", "params": {"key": key, "seconds": 0.02}, "wait": 0})
            except (OSError, http.client.HTTPException):
                self.unanswered += 1
                continue
            if status in (200, 202):
                self.acknowledged[int(body["task_id"])] = key
            else:
                self.refused.append((status, body))


def test_random_kills_under_http_load_lose_nothing_acknowledged(servers, tmp_path):
    chance = random.Random()
    seed = chance.randrange(1 << 32)
    chance.seed(seed)
    current = [ServerProcess(PROBE_TASKS, tmp_path, CONFIG).start()]
    servers.append(current[-1])
    stopping = threading.Event()
    clients = [Submitter(index, current, stopping) for index in range(CLIENTS)]
    for client in clients:
        client.start()
    ledger = KillLedger(tmp_path)
    try:
        for _ in range(KILLS):
            # Some kills land while it starts (and queues the interrupted runs again), most
            # while it runs and takes submits.
            stopping.wait(chance.uniform(0.2, 1.5))
            current[-1].signal(signal.SIGKILL)
            current[-1].wait_exit()
            ledger.record_kill()
            current.append(ServerProcess(PROBE_TASKS, tmp_path, CONFIG).launch())
            servers.append(current[-1])
        current[-1].wait_listening()
        acknowledged = sum(len(client.acknowledged) for client in clients)
        wait_until(lambda: sum(len(client.acknowledged) for client in clients)
                   > acknowledged + CLIENTS, timeout_s=30)  # the last one takes submits too
    finally:
        stopping.set()
        for client in clients:
            client.join(60)
    wait_until(lambda: all(row.status == "SUCCEEDED" for row in rows(tmp_path / "deferred.db")
                           .values()), timeout_s=40, step_s=0.1)
    current[-1].signal(signal.SIGTERM)
    assert current[-1].wait_exit() == 0

    stored = {task_id: row.key for task_id, row in rows(tmp_path / "deferred.db").items()}
    acknowledged_keys = {task_id: key for client in clients
                         for task_id, key in client.acknowledged.items()}
    lost = {task_id: key for task_id, key in acknowledged_keys.items()
            if stored.get(task_id) != key}
    assert not lost, f"acknowledged, then lost: {lost} (seed {seed})"
    assert not [refusal for client in clients for refusal in client.refused]
    assert any(kill.running for kill in ledger.kills), "no kill found a task running"
    figures = ledger.check_every_run(most_claimed_at_once(LIMITS))
    unanswered = sum(client.unanswered for client in clients)
    print(f"random kills under HTTP load (seed {seed}): {figures}; {len(acknowledged_keys)} "
          f"submits acknowledged, {unanswered} unanswered, "
          f"{len(stored) - len(acknowledged_keys)} of those stored anyway")
