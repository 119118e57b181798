"""The servers page in a real browser, with three `runserver` processes on one real
PostgreSQL: all three alive with their running tasks, then one stopping (its running tasks
hold its grace) and one killed with SIGKILL, taken for dead once its lease has passed, the
page following by itself. A task page names its server by host and pid, from its row, or from
its id once the row is gone. Screenshots on a desktop and a phone."""

from __future__ import annotations

import re
import signal
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser import save_screenshot
from playwright.sync_api import Page, expect
from probe_log import starts
from serverproc import ServerProcess, wait_until

CLUSTER_TASKS = Path(__file__).with_name("cluster_tasks.py")
LEASE_S, HEARTBEAT_S = 3.0, 0.5
WORKERS = 2
LIVE_MS = 15_000  # a lease, its heartbeat, and the page's poll, with room to spare


@pytest.fixture
def hold(tmp_path: Path) -> Path:
    path = tmp_path / "hold"
    path.touch()
    return path


@pytest.fixture
def cluster(tmp_path: Path, hold: Path, monkeypatch: pytest.MonkeyPatch
            ) -> Iterator[list[ServerProcess]]:
    """The servers the test starts; at the end the held tasks are let go, then each stops.
    Ask for it before `page`, so that the page closes first."""
    monkeypatch.setenv("PROBE_DIR", str(tmp_path))
    started: list[ServerProcess] = []
    yield started
    hold.unlink(missing_ok=True)
    for server in started:
        server.stop()


def start_server(cluster: list[ServerProcess], tmp_path: Path, postgres_url: str,
                 grace_s: float = 0) -> ServerProcess:
    cwd = tmp_path / f"server{len(cluster)}"
    cwd.mkdir()
    config = {"db": {"url": postgres_url, "lease_s": LEASE_S, "heartbeat_s": HEARTBEAT_S},
              "limits": {"global": 3 * WORKERS, "workers": WORKERS},
              "shutdown_grace_s": grace_s, "recovery": {"backoff_s": 0.2}}
    server = ServerProcess(CLUSTER_TASKS, cwd, config)
    cluster.append(server.start())
    return server


def server_id(server: ServerProcess) -> str:
    return server.request("GET", "/healthz")[1]["server_id"]


def row(page: Page, server: ServerProcess, ids: dict[ServerProcess, str]) -> Any:
    return page.locator(f'tr[data-server-id="{ids[server]}"]')


def test_the_servers_page_shows_alive_stopping_and_dead_servers(
        cluster, page, tmp_path, postgres_url, hold):
    alive = start_server(cluster, tmp_path, postgres_url)
    stopping = start_server(cluster, tmp_path, postgres_url, grace_s=60)
    killed = start_server(cluster, tmp_path, postgres_url)
    ids = {server: server_id(server) for server in cluster}
    # Every slot of the cluster held: each server runs its share, WORKERS tasks.
    held = [alive.submit("y", {"key": f"held{i}", "hold_while": str(hold)})
            for i in range(3 * WORKERS)]
    wait_until(lambda: sum(starts(tmp_path).values()) == 3 * WORKERS, timeout_s=30)
    owners = {task_id: alive.task(task_id)["owner"] for task_id in held}
    assert sorted(owners.values()) == sorted(list(ids.values()) * WORKERS)

    page.goto(f"{alive.url}/servers")
    expect(page.locator("nav a[aria-current=page]")).to_have_text("Servers")
    expect(page.locator("tr[data-server-id]")).to_have_count(3)
    for server in cluster:
        line = row(page, server, ids)
        expect(line).to_have_attribute("data-state", "alive")
        expect(line.locator("td[data-label=Running]")).to_have_text(str(WORKERS))
        expect(line.locator("td[data-label=Server]")).to_contain_text(
            f"{socket.gethostname()} pid {server.process.pid}")
        expect(line.locator("td[data-label=Pool]")).to_have_text(f"{WORKERS} workers")
    expect(row(page, alive, ids).locator(".this-server")).to_have_text("this one")
    expect(page.locator(".this-server")).to_have_count(1)

    stopping.signal(signal.SIGTERM)  # its two tasks hold its grace
    killed.signal(signal.SIGKILL)
    killed.wait_exit()
    # The page follows by itself: no reload.
    expect(row(page, stopping, ids)).to_have_attribute("data-state", "stopping",
                                                        timeout=LIVE_MS)
    expect(row(page, killed, ids)).to_have_attribute("data-state", "taken_for_dead",
                                                      timeout=LIVE_MS)
    expect(row(page, killed, ids).locator(".badge")).to_have_text("taken for dead")
    # The live server took its runs back into the queue (no worker is free to run them).
    expect(row(page, killed, ids).locator("td[data-label=Running]")).to_have_text("0")
    expect(row(page, stopping, ids).locator(".badge")).to_have_text("stopping")
    expect(row(page, stopping, ids).locator("td[data-label=Running]")).to_have_text(
        str(WORKERS))
    expect(row(page, alive, ids)).to_have_attribute("data-state", "alive")
    expect(page.locator(".server-counts")).to_have_text(
        "1 alive · 1 stopping · 1 taken for dead")
    heartbeat = row(page, killed, ids).locator("td[data-label=Heartbeat] time")
    expect(heartbeat).to_have_text(re.compile(r"^[0-9.]+ s ago$"))
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC",
                        heartbeat.get_attribute("title") or "")
    save_screenshot(page, "three-servers")
    save_screenshot(page, "three-servers", phone=True)

    # A task page names the server running it, from its row.
    alive_task = next(task_id for task_id, owner in owners.items() if owner == ids[alive])
    page.goto(f"{alive.url}/tasks/{alive_task}")
    server_fact = page.locator("dt:text-is('Server') + dd")
    expect(server_fact).to_have_text(f"{socket.gethostname()} pid {alive.process.pid}")
    expect(server_fact.locator("a")).to_have_attribute("href", "/servers")
    expect(server_fact.locator("a")).to_have_attribute("title", f"server id {ids[alive]}")

    # Let go: the stopping server finishes its tasks and leaves; its row goes.
    hold.unlink()
    assert stopping.wait_exit() == 0
    page.goto(f"{alive.url}/servers")
    expect(row(page, stopping, ids)).to_have_count(0)
    # Its finished task still names it, by the host and pid in its id.
    stopped_task = next(task_id for task_id, owner in owners.items()
                        if owner == ids[stopping])
    wait_until(lambda: alive.task(stopped_task)["status"] == "SUCCEEDED")
    page.goto(f"{alive.url}/tasks/{stopped_task}")
    expect(server_fact).to_have_text(
        f"{socket.gethostname()[:40]} pid {stopping.process.pid}")
