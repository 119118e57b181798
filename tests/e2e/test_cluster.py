"""Several `runserver` processes on one real PostgreSQL 15: quotas hold across the cluster,
a killed server's tasks run again elsewhere, a paused one cannot write over what others did,
a database restart loses nothing, and servers started together create or upgrade the schema
once."""

from __future__ import annotations

import re
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from probe_log import most_at_once, probe_events, starts
from schema_versions import create_older_database, stored_version
from serverproc import ServerProcess, wait_until

from deferred.store.schema import SCHEMA_VERSION

CLUSTER_TASKS = Path(__file__).with_name("cluster_tasks.py")
LEASE_S, HEARTBEAT_S = 2.0, 0.5


@pytest.fixture
def cluster(tmp_path: Path, postgres_url: str, monkeypatch: pytest.MonkeyPatch
            ) -> Iterator[list[ServerProcess]]:
    """Starts servers on one fresh database; every probe logs to tmp_path/probe.log."""
    monkeypatch.setenv("PROBE_DIR", str(tmp_path))
    started: list[ServerProcess] = []
    yield started
    for server in started:
        if server.process is not None and server.process.poll() is None:
            server.signal(signal.SIGCONT)  # a paused one must be able to stop
        server.stop()


def new_servers(cluster: list[ServerProcess], tmp_path: Path, postgres_url: str, count: int,
                **limits: object) -> list[ServerProcess]:
    """`count` servers of the cluster's config, each in a directory of its own, not started."""
    config = {"db": {"url": postgres_url, "lease_s": LEASE_S, "heartbeat_s": HEARTBEAT_S},
              "limits": limits or {"global": 2}, "shutdown_grace_s": 0,
              # Interrupted runs wait little here (test_poison_pill tests the back-off).
              "recovery": {"backoff_s": 0.2}}
    servers = []
    for index in range(count):
        cwd = tmp_path / f"server{len(cluster) + index}"
        cwd.mkdir()
        servers.append(ServerProcess(CLUSTER_TASKS, cwd, config))
    return servers


def start_servers(cluster: list[ServerProcess], tmp_path: Path, postgres_url: str, count: int,
                  **limits: object) -> list[ServerProcess]:
    servers = new_servers(cluster, tmp_path, postgres_url, count, **limits)
    for server in servers:  # started one after the other, each waits for its port line
        cluster.append(server.start())
    return servers


def start_at_once(cluster: list[ServerProcess], tmp_path: Path, postgres_url: str,
                  count: int) -> list[ServerProcess]:
    """`count` servers launched at the same moment (none waits for another's port line)."""
    servers = new_servers(cluster, tmp_path, postgres_url, count)
    for server in servers:
        cluster.append(server.launch())
    return [server.wait_listening() for server in servers]


def is_idle(server: ServerProcess) -> bool:
    """Nothing queued or running in the whole cluster."""
    return all(not server.request("GET", f"/api/tasks?status={status}&limit=1")[1]["tasks"]
               for status in ("QUEUED", "RUNNING"))


def all_succeeded(server: ServerProcess, task_ids: list[int]) -> bool:
    return all(server.task(task_id)["status"] == "SUCCEEDED" for task_id in task_ids)


def test_three_servers_hold_the_global_and_per_name_limits_exactly(
        cluster, tmp_path, postgres_url):
    servers = start_servers(cluster, tmp_path, postgres_url, 3, **{"global": 6,
                                                                   "names": {"x": 2}})
    hold = tmp_path / "hold"
    for run in range(5):
        hold.touch()  # the first tasks hold their slots until all 300 are queued
        ids = []
        for index in range(300):
            name = "x" if index % 3 == 0 else "y"
            ids.append(servers[index % 3].submit(name, {
                "key": f"{name}-{run}-{index}", "seconds": 0.01, "hold_while": str(hold)}))
        hold.unlink()
        wait_until(lambda: is_idle(servers[run % 3]), timeout_s=120, step_s=0.2)
        assert all_succeeded(servers[0], ids[::37])
    events = probe_events(tmp_path)
    assert len(events) == 2 * 5 * 300
    assert most_at_once(events) == 6  # never more, and reached
    assert most_at_once(events, "x-") == 2
    assert set(starts(tmp_path).values()) == {1}


def test_a_killed_servers_running_tasks_run_again_on_the_others(
        cluster, tmp_path, postgres_url):
    hold = tmp_path / "hold"
    hold.touch()
    servers = start_servers(cluster, tmp_path, postgres_url, 3, workers=2)
    held = [servers[0].submit("y", {"key": f"held{i}", "hold_while": str(hold)})
            for i in range(6)]  # 2 per server: every slot of the cluster
    wait_until(lambda: sum(starts(tmp_path).values()) == 6, timeout_s=20)
    queued = [servers[1].submit("y", {"key": f"queued{i}"}) for i in range(10)]
    victim = servers[2]
    victim_id = victim.request("GET", "/healthz")[1]["server_id"]
    victims = [task_id for task_id in held if servers[0].task(task_id)["owner"] == victim_id]
    assert len(victims) == 2

    victim.signal(signal.SIGKILL)
    killed_at = time.monotonic()
    victim.wait_exit()
    hold.unlink()  # the survivors' held tasks end; the victim's must run again elsewhere
    wait_until(lambda: all(servers[0].task(task_id)["attempts"] == 2 for task_id in victims),
               timeout_s=LEASE_S + 10 * HEARTBEAT_S)
    taken_over_s = time.monotonic() - killed_at
    wait_until(lambda: all_succeeded(servers[0], held + queued), timeout_s=30)
    counts = starts(tmp_path)
    assert all(counts[f"queued{i}"] == 1 for i in range(10))
    victim_keys = {servers[0].task(task_id)["params"]["key"] for task_id in victims}
    assert {key: counts[key] for key in victim_keys} == {key: 2 for key in victim_keys}
    assert taken_over_s < LEASE_S + 2 * HEARTBEAT_S + 2.0, taken_over_s
    print(f"taken over {taken_over_s:.2f} s after the kill "
          f"(lease {LEASE_S} s, heartbeat {HEARTBEAT_S} s)")


def test_a_paused_server_cannot_write_over_what_the_others_finished(
        cluster, tmp_path, postgres_url):
    hold = tmp_path / "hold"
    servers = start_servers(cluster, tmp_path, postgres_url, 2, workers=2)
    paused, survivor = servers
    hold.touch()
    wait_until(lambda: paused.request("GET", "/healthz")[0] == 200)
    paused_id = paused.request("GET", "/healthz")[1]["server_id"]
    held = [survivor.submit("y", {"key": f"held{i}", "hold_while": str(hold)})
            for i in range(4)]
    wait_until(lambda: sum(starts(tmp_path).values()) == 4, timeout_s=20)
    taken = [task_id for task_id in held if survivor.task(task_id)["owner"] == paused_id]
    assert len(taken) == 2

    paused.signal(signal.SIGSTOP)
    hold.unlink()
    wait_until(lambda: all_succeeded(survivor, held), timeout_s=LEASE_S + 20)
    finished = {task_id: survivor.task(task_id) for task_id in taken}
    assert all(record["attempts"] == 2 and record["owner"] != paused_id
               for record in finished.values())

    paused.signal(signal.SIGCONT)  # its threads end the held tasks and try to store them
    wait_until(lambda: "no longer running here" in paused.log
               and "taken for dead" in paused.log, timeout_s=20)
    assert {task_id: survivor.task(task_id) for task_id in taken} == finished
    assert paused.request("GET", "/healthz")[0] == 200  # it carries on


def test_a_database_restart_mid_run_loses_nothing(cluster, tmp_path, postgres_url, postgres):
    servers = start_servers(cluster, tmp_path, postgres_url, 2, workers=2)
    before = [servers[index % 2].submit("y", {"key": f"before{index}", "seconds": 0.05})
              for index in range(40)]
    postgres.restart()
    after = []

    def submit_after() -> bool:
        status, body = servers[len(after) % 2].request("POST", "/api/tasks", {
            "task_name": "y", "params": {"key": f"after{len(after)}"}, "wait": 0})
        if status in (200, 202):
            after.append(body["task_id"])
        return len(after) == 20

    wait_until(submit_after, timeout_s=30, step_s=0.05)
    wait_until(lambda: all_succeeded(servers[0], before + after), timeout_s=60, step_s=0.2)
    counts = starts(tmp_path)
    assert all(counts[f"after{i}"] == 1 for i in range(20))
    assert all(counts[f"before{i}"] >= 1 for i in range(40))


def schema_lines(servers: list[ServerProcess]) -> tuple[list[str], list[int]]:
    """The "created the database schema" lines of all the servers' logs, and the versions
    their "upgraded the database schema to version N" lines name, in order."""
    logs = "".join(server.log for server in servers)
    return (re.findall(r"created the database schema, version \d+", logs),
            sorted(int(n) for n in re.findall(r"upgraded the database schema to version (\d+)",
                                              logs)))


def assert_all_serve(servers: list[ServerProcess]) -> None:
    assert [server.request("GET", "/healthz")[0] for server in servers] == [200] * len(servers)
    ids = [server.submit("y", {"key": f"after-start{index}"})
           for index, server in enumerate(servers)]
    wait_until(lambda: all_succeeded(servers[0], ids), timeout_s=30)


def test_three_servers_started_together_on_an_empty_database_create_it_once(
        cluster, tmp_path, postgres_url):
    servers = start_at_once(cluster, tmp_path, postgres_url, 3)
    assert_all_serve(servers)
    assert stored_version(postgres_url) == [SCHEMA_VERSION]
    assert schema_lines(servers) == ([f"created the database schema, version {SCHEMA_VERSION}"],
                                     [])


def test_three_servers_started_together_on_an_older_database_upgrade_it_once(
        cluster, tmp_path, postgres_url):
    create_older_database(postgres_url, 1)
    servers = start_at_once(cluster, tmp_path, postgres_url, 3)
    assert_all_serve(servers)
    assert stored_version(postgres_url) == [SCHEMA_VERSION]
    assert schema_lines(servers) == ([], list(range(2, SCHEMA_VERSION + 1)))
