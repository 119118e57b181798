"""Pausing a task type from the web UI in a real browser (Debian's chromium through
Playwright) against a real `runserver` of ui_tasks.py: the overview's Pause button, the
paused badge, a task that waits, Resume, the task running, and both on the audit page.
Screenshots (desktop and phone) go to artifacts/screenshots/."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from browser import TIMEOUT_MS, save_screenshot
from playwright.sync_api import Page, expect
from polling import holds_for
from serverproc import PROJECT_ROOT, ServerProcess

UI_TASKS = PROJECT_ROOT / "tests" / "e2e" / "ui_tasks.py"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    process = ServerProcess(UI_TASKS, tmp_path, {
        "db": {"url": f"sqlite+pysqlite:///{tmp_path / 'ui.db'}"}, "limits": {"global": 4}})
    try:
        yield process.start()
    finally:
        process.stop()


def test_pause_a_type_its_task_waits_then_runs_once_resumed(server: ServerProcess,
                                                           page: Page) -> None:
    expect.set_options(timeout=TIMEOUT_MS)
    page.goto(server.url + "/")
    row = page.locator('tr[data-task-type="echo"]')
    expect(row.locator(".badge-paused")).to_have_count(0)
    row.get_by_role("button", name="Pause echo").click()
    expect(page).to_have_url(server.url + "/")
    expect(row.locator(".badge-paused")).to_have_text("paused")
    expect(row.locator(".paused-note")).to_contain_text("by local; its tasks wait")
    expect(row.get_by_role("button", name="Resume echo")).to_be_visible()
    expect(page.locator('tr[data-task-type="hold"] .badge-paused')).to_have_count(0)
    save_screenshot(page, "overview-paused")
    save_screenshot(page, "overview-paused", phone=True)

    task_id = server.submit("echo", {"text": "held back"})
    page.goto(f"{server.url}/tasks/{task_id}")
    expect(page.locator(".task-detail")).to_have_attribute("data-status", "QUEUED")
    holds_for(lambda: server.task(task_id)["status"] == "QUEUED", 1.0)
    expect(page.locator(".task-detail")).to_have_attribute("data-status", "QUEUED")

    page.goto(server.url + "/")
    row.get_by_role("button", name="Resume echo").click()
    expect(row.locator(".badge-paused")).to_have_count(0)
    expect(row.get_by_role("button", name="Pause echo")).to_be_visible()
    page.goto(f"{server.url}/tasks/{task_id}")
    expect(page.locator(".task-detail")).to_have_attribute("data-status", "SUCCEEDED")
    expect(page.locator("pre.result")).to_have_text("held back")

    page.goto(server.url + "/audit")
    expect(page.locator('tr[data-action="pause"]')).to_contain_text("echo")
    expect(page.locator('tr[data-action="resume"]')).to_contain_text("echo")
    save_screenshot(page, "audit-pauses")
    save_screenshot(page, "audit-pauses", phone=True)
    expect.set_options(timeout=5_000)
