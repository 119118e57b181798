"""`GET /api/servers` over HTTP from a real `runserver` on SQLite (one server per file): its
row with host, pid, version, pool size and a heartbeat that moves, its running tasks,
"stopping" during the grace of its stop, its row gone once it stopped; a row a killed server
left is taken for dead until the next server starts, which removes it. The task page names
the server by host and pid, also once its row is gone."""

from __future__ import annotations

import importlib.metadata
import signal
import socket
import urllib.request
from pathlib import Path
from typing import Any

from serverproc import PROJECT_ROOT, ServerProcess, wait_until

from deferred.config import DbConfig
from deferred.servers import ServerState
from deferred.store import SqlTaskStore

UI_TASKS = PROJECT_ROOT / "tests" / "e2e" / "ui_tasks.py"
LEASE_S, HEARTBEAT_S = 1.0, 0.2


def make_config(tmp_path: Path) -> dict[str, Any]:
    return {"db": {"url": db_url(tmp_path), "lease_s": LEASE_S, "heartbeat_s": HEARTBEAT_S},
            "limits": {"global": 3}, "shutdown_grace_s": 60}


def db_url(tmp_path: Path) -> str:
    return f"sqlite+pysqlite:///{tmp_path / 'servers.db'}"


def servers_of(server: ServerProcess) -> list[dict[str, Any]]:
    status, body = server.request("GET", "/api/servers")
    assert status == 200, body
    return body["servers"]


def task_page(server: ServerProcess, task_id: int) -> str:
    request = urllib.request.Request(f"{server.url}/tasks/{task_id}",
                                     headers={"Accept": "text/html"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.read().decode()


def rows_in_the_file(tmp_path: Path) -> list:
    """The rows of deferred_servers as the database holds them, no server running."""
    store = SqlTaskStore(DbConfig(url=db_url(tmp_path), lease_s=LEASE_S))
    try:
        return store.servers()
    finally:
        store.close()


def test_the_one_sqlite_server_lists_itself_live_and_stopping(servers, tmp_path):
    server = ServerProcess(UI_TASKS, tmp_path, make_config(tmp_path))
    servers.append(server.start())
    [row] = servers_of(server)
    assert row["id"] == server.request("GET", "/healthz")[1]["server_id"]
    assert row["id"].startswith(f"{socket.gethostname()[:40]}-{server.process.pid}-")
    assert {key: row[key] for key in ("host", "pid", "version", "pool_size", "state",
                                      "this_server", "running_tasks")} == {
        "host": socket.gethostname(), "pid": server.process.pid,
        "version": importlib.metadata.version("deferred"), "pool_size": 3, "state": "alive",
        "this_server": True, "running_tasks": 0}
    assert 0 <= row["heartbeat_age_s"] <= LEASE_S
    later = wait_until(lambda: [moved for moved in servers_of(server)
                                if moved["heartbeat_at"] > row["heartbeat_at"]])[0]
    assert later["started_at"] == row["started_at"] and later["state"] == "alive"

    release = tmp_path / "release"
    task_id = server.submit("hold", {"release": str(release)})
    wait_until(lambda: servers_of(server)[0]["running_tasks"] == 1)
    page = task_page(server, task_id)
    assert f">{socket.gethostname()}</a> <span class=\"muted\">pid {server.process.pid}<" in page

    server.signal(signal.SIGTERM)  # the held task keeps the grace going: reads are served
    stopping = wait_until(lambda: [row for row in servers_of(server)
                                   if row["state"] == "stopping"])[0]
    assert stopping["running_tasks"] == 1 and stopping["id"] == row["id"]
    release.touch()
    assert server.wait_exit() == 0
    assert rows_in_the_file(tmp_path) == []  # removed once it had stopped

    following = ServerProcess(UI_TASKS, tmp_path, make_config(tmp_path))
    servers.append(following.start())
    # The first server's row is gone; the task page names it from its id.
    page = task_page(following, task_id)
    assert f">{socket.gethostname()[:40]}</a> <span class=\"muted\">pid {server.process.pid}<" \
        in page
    assert [other["this_server"] for other in servers_of(following)] == [True]


def test_a_killed_servers_row_is_taken_for_dead_until_the_next_server_starts(
        servers, tmp_path):
    killed = ServerProcess(UI_TASKS, tmp_path, make_config(tmp_path))
    servers.append(killed.start())
    killed_id = servers_of(killed)[0]["id"]
    killed.signal(signal.SIGKILL)
    killed.wait_exit()
    [left] = wait_until(lambda: [row for row in rows_in_the_file(tmp_path)
                                 if row.state is ServerState.TAKEN_FOR_DEAD],
                        timeout_s=LEASE_S + 10, step_s=0.1)
    assert (left.id, left.pid) == (killed_id, killed.process.pid)

    following = ServerProcess(UI_TASKS, tmp_path, make_config(tmp_path))
    servers.append(following.start())
    [row] = servers_of(following)
    assert row["this_server"] and row["id"] != killed_id and row["state"] == "alive"
