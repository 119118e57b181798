"""The dashboard in a real browser (Debian's chromium through Playwright) against a real
`runserver` of ui_tasks.py: the charts draw the tasks just run without a reload, the ranges
and the task type choice, the statistics per task type and a task type's page. Screenshots
at desktop and phone size go to artifacts/screenshots/."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from browser import TIMEOUT_MS, save_screenshot
from serverproc import PROJECT_ROOT, ServerProcess, wait_until

UI_TASKS = PROJECT_ROOT / "tests" / "e2e" / "ui_tasks.py"
LIVE_MS = 5_000 + TIMEOUT_MS  # the statistics refresh every 5 s


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    process = ServerProcess(UI_TASKS, tmp_path,
                            {"db": {"url": f"sqlite+pysqlite:///{tmp_path / 'ui.db'}"}})
    try:
        yield process.start()
    finally:
        process.stop()


def run_tasks(server: ServerProcess, echoes: int, failures: int) -> None:
    ids = [server.submit("echo", {"text": f"hello {n}"}) for n in range(echoes)]
    ids += [server.submit("broken", {"message": f"no route {n}"}) for n in range(failures)]
    for task_id in ids:
        wait_until(lambda task_id=task_id: server.task(task_id)["status"]
                   in ("SUCCEEDED", "FAILED"))


def finished_chart(page: Page) -> Any:
    return page.locator('figure[data-chart="finished"] svg')


def test_the_charts_draw_the_tasks_just_run_without_a_reload(server, page: Page):
    page.goto(server.url + "/")
    expect(finished_chart(page)).to_have_attribute(
        "aria-label", re.compile(r"0 succeeded, 0 failed"))
    expect(page.get_by_text("No task finished in the last 1 h")).to_be_visible()
    save_screenshot(page, "empty")

    run_tasks(server, echoes=5, failures=2)

    expect(finished_chart(page)).to_have_attribute(
        "aria-label", re.compile(r"5 succeeded, 2 failed, 0 cancelled"), timeout=LIVE_MS)
    # The tasks may straddle a minute: compare what the bars draw in all, 5 against 2.
    heights = {kind: sum(rect.bounding_box()["height"] for rect in page.locator(
        f'figure[data-chart="finished"] rect.fill-{kind}').all())
        for kind in ("succeeded", "failed")}
    assert heights["succeeded"] == pytest.approx(2.5 * heights["failed"], rel=0.05)
    assert heights["failed"] > 0
    expect(page.locator('tr[data-type-stats="broken"] [data-stat="failed"]')).to_have_text("2")
    expect(page.locator('tr[data-type-stats="broken"] td.last-failure')).to_contain_text(
        "RuntimeError: no route")
    expect(page.locator('tr[data-type-stats="echo"] [data-stat="failure-rate"]')).to_have_text(
        "0 %")
    expect(page.locator('figure[data-chart="run-time"] polyline, '
                        'figure[data-chart="run-time"] circle').first).to_be_visible()
    save_screenshot(page, "charts")
    save_screenshot(page, "charts", phone=True)


def test_a_range_and_a_task_type_can_be_chosen(server, page: Page):
    run_tasks(server, echoes=3, failures=1)
    page.goto(server.url + "/")
    page.get_by_role("link", name="24 h", exact=True).click()
    expect(page).to_have_url(re.compile(r"range=24h"))
    expect(page.locator('figure[data-chart="finished"] g.bar')).to_have_count(48)
    expect(page.get_by_role("link", name="24 h", exact=True)).to_have_attribute(
        "aria-current", "true")

    page.locator(".range-picker select[name=task_name]").select_option("broken")
    page.locator(".range-picker").get_by_role("button", name="Show").click()
    expect(page).to_have_url(re.compile(r"range=24h&task_name=broken"))
    expect(finished_chart(page)).to_have_attribute(
        "aria-label", re.compile(r"over the last 24 h: 0 succeeded, 1 failed"))
    expect(page.locator("tr[data-type-stats]")).to_have_count(0)  # one type: no table
    save_screenshot(page, "one-type-24h")


def test_a_task_type_page_shows_its_statistics_and_recent_tasks(server, page: Page):
    run_tasks(server, echoes=4, failures=0)
    page.goto(server.url + "/")
    page.locator('tr[data-type-stats="echo"]').get_by_role("link", name="echo").click()
    expect(page).to_have_url(re.compile(r"/task-types/echo$"))
    expect(page.locator("h1")).to_contain_text("echo")
    expect(page.get_by_text("Return the text unchanged.")).to_be_visible()
    expect(finished_chart(page)).to_have_attribute(
        "aria-label", re.compile(r"4 succeeded, 0 failed"))
    expect(page.locator("section", has_text="Recent tasks").locator("tr[data-task-id]")
           ).to_have_count(4)
    page.get_by_role("link", name="7 d", exact=True).click()
    expect(page).to_have_url(re.compile(r"/task-types/echo\?range=7d$"))
    expect(page.locator('figure[data-chart="finished"] g.bar')).to_have_count(42)
    save_screenshot(page, "task-type")
    save_screenshot(page, "task-type", phone=True)
