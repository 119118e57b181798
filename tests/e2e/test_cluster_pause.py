"""Pausing a task type on a cluster of `runserver` processes on one real PostgreSQL 15: once
one server answered the pause, no server starts a task of that type (those claimed ahead
are given back), other types carry on, and after a resume on another server every task has
run exactly once."""

from __future__ import annotations

import time

import test_cluster
from polling import holds_for
from probe_log import probe_events, starts
from serverproc import wait_until
from test_cluster import is_idle, start_servers

cluster = test_cluster.cluster  # the fixture: servers on one fresh database, stopped after


def statuses(server, task_ids):
    return {server.task(task_id)["status"] for task_id in task_ids}


def test_a_pause_on_one_server_holds_every_server_until_a_resume_on_another(
        cluster, tmp_path, postgres_url):
    servers = start_servers(cluster, tmp_path, postgres_url, 3, **{"global": 24,
                                                                   "workers": 3})
    warm = [servers[index % 3].submit("x", {"key": f"warm-{index}"}) for index in range(60)]
    wait_until(lambda: statuses(servers[0], warm) == {"SUCCEEDED"}, timeout_s=30)
    # `x` runs short now: each server takes it ahead of its workers, which `y` holds.
    hold = tmp_path / "hold"
    hold.touch()
    held = [servers[index % 3].submit("y", {"key": f"held-{index}", "hold_while": str(hold)})
            for index in range(9)]
    wait_until(lambda: sum(key.startswith("held-") for key in starts(tmp_path)) == 9,
               timeout_s=30)
    before = [servers[index % 3].submit("x", {"key": f"before-{index}", "seconds": 0.05})
              for index in range(600)]
    hold.unlink()
    wait_until(lambda: sum(key.startswith("before-") for key in starts(tmp_path)) >= 30,
               timeout_s=30)

    status, paused = servers[0].request("POST", "/api/task-types/x/pause")
    answered_at = time.monotonic()  # the probes log time.monotonic() of this machine too
    assert (status, paused["paused"]) == (200, True), paused
    during = [servers[index % 3].submit("x", {"key": f"during-{index}"}) for index in range(6)]
    others = [servers[index % 3].submit("y", {"key": f"y-{index}"}) for index in range(6)]
    wait_until(lambda: statuses(servers[2], held + others) == {"SUCCEEDED"}, timeout_s=30)
    # What ran when the pause came ends; nothing else of `x` is left running anywhere.
    wait_until(lambda: not servers[1].request("GET", "/api/tasks?status=RUNNING&task_name=x"
                                               )[1]["tasks"], timeout_s=30)
    holds_for(lambda: statuses(servers[1], during) == {"QUEUED"}, 1.0)
    late = [(moment, key) for moment, event, key in probe_events(tmp_path)
            if event == "start" and key.startswith(("before-", "during-"))
            and moment > answered_at]
    assert late == []
    left = [task_id for task_id in before if servers[0].task(task_id)["status"] == "QUEUED"]
    assert left, "the pause came after every task had started: nothing was held"
    assert {servers[0].task(task_id)["attempts"] for task_id in left} == {0}

    status, resumed = servers[1].request("POST", "/api/task-types/x/resume")
    assert (status, resumed["paused"]) == (200, False)
    wait_until(lambda: is_idle(servers[2]), timeout_s=60, step_s=0.2)
    assert statuses(servers[0], before + during) == {"SUCCEEDED"}
    counts = starts(tmp_path)
    assert len(counts) == 60 + 9 + 600 + 6 + 6 and set(counts.values()) == {1}  # exactly once
    assert {servers[0].task(task_id)["attempts"] for task_id in before + during} == {1}
    print(f"{len(left)} of 600 tasks were held by the pause")


def test_tasks_every_server_took_ahead_are_given_back_uncounted(cluster, tmp_path,
                                                                 postgres_url):
    servers = start_servers(cluster, tmp_path, postgres_url, 3, **{"global": 24,
                                                                   "workers": 3})
    ids = [server.request("GET", "/healthz")[1]["server_id"] for server in servers]
    warm: list[int] = []

    def each_ran_x() -> bool:  # a server takes `x` ahead once it ran it (short) itself
        warm.extend(servers[index % 3].submit("x", {"key": f"warm-{len(warm)}-{index}"})
                    for index in range(9))
        wait_until(lambda: statuses(servers[0], warm) == {"SUCCEEDED"}, timeout_s=30)
        return {servers[0].task(task_id)["owner"] for task_id in warm} == set(ids)

    wait_until(each_ran_x, timeout_s=60)
    hold = tmp_path / "hold"
    hold.touch()
    held = [servers[index % 3].submit("y", {"key": f"held-{index}", "hold_while": str(hold)})
            for index in range(9)]  # `y` has not run: each server takes 3, one per worker
    wait_until(lambda: sum(key.startswith("held-") for key in starts(tmp_path)) == 9,
               timeout_s=30)
    ahead = [servers[index % 3].submit("x", {"key": f"ahead-{index}"}) for index in range(30)]
    wait_until(lambda: sum(servers[0].task(task_id)["status"] == "RUNNING"
                           for task_id in ahead) == 9, timeout_s=30)  # 3 ahead on each
    taken = {servers[0].task(task_id)["owner"] for task_id in ahead
             if servers[0].task(task_id)["status"] == "RUNNING"}
    assert taken == set(ids)

    assert servers[1].request("POST", "/api/task-types/x/pause")[0] == 200
    wait_until(lambda: statuses(servers[0], ahead) == {"QUEUED"}, timeout_s=10)
    assert {servers[0].task(task_id)["attempts"] for task_id in ahead} == {0}
    assert all("claimed here and not started, queued again" in server.log
               for server in servers)
    hold.unlink()
    wait_until(lambda: statuses(servers[0], held) == {"SUCCEEDED"}, timeout_s=30)
    holds_for(lambda: statuses(servers[2], ahead) == {"QUEUED"}, 1.0)
    assert not any(key.startswith("ahead-") for key in starts(tmp_path))

    assert servers[2].request("POST", "/api/task-types/x/resume")[0] == 200
    wait_until(lambda: statuses(servers[0], ahead) == {"SUCCEEDED"}, timeout_s=30)
    assert {servers[0].task(task_id)["attempts"] for task_id in ahead} == {1}
    assert set(starts(tmp_path).values()) == {1}
