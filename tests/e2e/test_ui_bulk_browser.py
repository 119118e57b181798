"""The task list's bulk actions in a real browser (Debian's chromium through Playwright)
against a real `runserver` of bulk_tasks.py: selecting all that match a filter across pages,
the confirmation that counts what will change, the message after, the rows' own buttons,
the page without JavaScript, and the buttons each role sees. Screenshots go to
artifacts/screenshots/."""

from __future__ import annotations

import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import test_ui_browser
from browser import TIMEOUT_MS, save_screenshot
from playwright.sync_api import Locator, Page, expect
from serverproc import PROJECT_ROOT, ServerProcess, wait_until

from deferred.access.identity import new_token, token_hash

# The page without JavaScript, and what it logged, as the UI's other browser tests have them.
no_script_log = test_ui_browser.no_script_log
no_script_page = test_ui_browser.no_script_page
BULK_TASKS = PROJECT_ROOT / "tests" / "e2e" / "bulk_tasks.py"
TOKENS = {role: new_token() for role in ("read", "submit", "admin")}


@pytest.fixture(autouse=True, scope="module")
def _expect_timeout() -> Iterator[None]:
    """Live pages refresh once a second: give every `expect` up to 10 s."""
    expect.set_options(timeout=TIMEOUT_MS)
    yield
    expect.set_options(timeout=5_000)  # Playwright's default, for the other modules


def start(directory: Path, **config: Any) -> ServerProcess:
    return ServerProcess(BULK_TASKS, directory, {
        "db": {"url": f"sqlite+pysqlite:///{directory / 'bulk.db'}"},
        "limits": {"global": 4}, **config}).start()


@pytest.fixture
def fresh_server(tmp_path: Path) -> Iterator[ServerProcess]:
    """A server on an empty database (every request acts as an admin on loopback). Ask for
    it before `page`, so that it stops after the page is closed."""
    process = start(tmp_path)
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture(scope="module")
def auth_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A server with auth on: a token of each role."""
    directory = tmp_path_factory.mktemp("bulk-auth")
    process = start(directory, auth={"tokens": [
        {"name": f"{role}-bot", "role": role, "hash": token_hash(token)}
        for role, token in TOKENS.items()]})
    try:
        yield process
    finally:
        process.stop()


def tasks_in(server: ServerProcess, status: str, headers: dict[str, str] | None = None
             ) -> list[dict[str, Any]]:
    code, body = server.request("GET", f"/api/tasks?status={status}&limit=500",
                                headers=headers)
    assert code == 200, body
    return body["tasks"]


def failing(server: ServerProcess, gate: Path, count: int) -> list[int]:
    """`count` flaky tasks, failed (their gate is closed); their ids."""
    ids = [server.submit("flaky", {"gate": str(gate), "tag": f"t{index}"})
           for index in range(count)]
    wait_until(lambda: len(tasks_in(server, "FAILED")) == count)
    return ids


def bulk_bar(page: Page) -> Locator:
    return page.locator("#bulk-form")


def row(page: Page, task_id: int) -> Locator:
    return page.locator(f'tr[data-task-id="{task_id}"]')


def notice(page: Page) -> Locator:
    return page.locator(".notice[role=status]")


def test_all_failed_tasks_that_match_are_retried_and_run_again(fresh_server, page: Page,
                                                               tmp_path):
    gate = tmp_path / "gate"
    ids = failing(fresh_server, gate, 55)
    page.goto(fresh_server.url + "/tasks?status=FAILED")
    expect(page.locator("tr[data-task-id]")).to_have_count(50)  # a page; 5 more are older
    expect(bulk_bar(page).get_by_role("button", name="Retry")).to_be_disabled()
    page.get_by_label("Select all 50 on this page").check()
    expect(page.locator("input[data-select-row]:checked")).to_have_count(50)
    page.get_by_label("All 55 that match this filter").check()
    expect(page.locator("[data-bulk-live]")).to_have_attribute("data-live-paused", "")
    expect(bulk_bar(page)).to_contain_text("Live updates are paused")
    save_screenshot(page, "list-selected")
    save_screenshot(page, "list-selected", phone=True)

    bulk_bar(page).get_by_role("button", name="Retry").click()
    expect(page.get_by_role("heading", name="Retry 55 tasks?")).to_be_visible()
    expect(page.locator(".confirm-count")).to_contain_text("55 tasks will be retried")
    expect(page.locator(".confirm-card")).to_contain_text(
        "All tasks that match this filter (status FAILED): 55 tasks")
    save_screenshot(page, "confirm")
    save_screenshot(page, "confirm", phone=True)
    gate.touch()  # the next runs pass
    page.get_by_role("button", name="Retry 55 tasks").click()

    assert urllib.parse.urlsplit(page.url)[2:4] == ("/tasks", "status=FAILED")
    expect(notice(page)).to_have_text("55 tasks retried")
    expect(page.locator("tr[data-task-id]")).to_have_count(0)  # live: none failed any more
    save_screenshot(page, "after-retry")
    wait_until(lambda: len(tasks_in(fresh_server, "SUCCEEDED")) == 55)
    assert {task["task_id"]: task["attempts"] for task in tasks_in(fresh_server, "SUCCEEDED")
            } == dict.fromkeys(ids, 2)
    page.goto(fresh_server.url + "/tasks?status=SUCCEEDED")
    expect(row(page, ids[-1])).to_contain_text("passed t54")
    expect(notice(page)).to_have_count(0)  # the message was shown once


def test_ticking_rows_pauses_the_live_list_and_the_page_box_follows(fresh_server, page: Page,
                                                                   tmp_path):
    ids = failing(fresh_server, tmp_path / "gate", 3)
    page.goto(fresh_server.url + "/tasks")
    live = page.locator("[data-bulk-live]")
    page.get_by_label(f"Select task #{ids[0]}").check()
    expect(live).to_have_attribute("data-live-paused", "")
    expect(bulk_bar(page)).to_contain_text("1 selected")
    page_box = page.get_by_label("Select all 3 on this page")
    assert page_box.evaluate("box => box.indeterminate")
    page_box.check()
    expect(page.locator("input[data-select-row]:checked")).to_have_count(3)
    expect(bulk_bar(page)).to_contain_text("3 selected")
    page_box.uncheck()
    expect(page.locator("input[data-select-row]:checked")).to_have_count(0)
    expect(live).not_to_have_attribute("data-live-paused", "")
    expect(bulk_bar(page).get_by_role("button", name="Delete")).to_be_disabled()
    # Live again: a task that fails now shows up without a reload.
    late = fresh_server.submit("flaky", {"gate": str(tmp_path / "gate"), "tag": "late"})
    expect(row(page, late)).to_be_visible()


def test_selected_rows_are_retried_without_javascript(fresh_server, no_script_page: Page,
                                                      no_script_log, tmp_path):
    page = no_script_page
    ids = failing(fresh_server, tmp_path / "gate", 3)
    page.goto(fresh_server.url + "/tasks?status=FAILED&task_name=flaky")
    for task_id in ids[:2]:
        page.get_by_label(f"Select task #{task_id}").check()
    bulk_bar(page).get_by_role("button", name="Retry").click()
    expect(page.get_by_role("heading", name="Retry 2 tasks?")).to_be_visible()
    expect(page.locator(".confirm-card")).to_contain_text("The selected tasks: 2 tasks")
    page.get_by_role("button", name="Retry 2 tasks").click()
    expect(notice(page)).to_have_text("2 tasks retried")
    assert urllib.parse.parse_qs(urllib.parse.urlsplit(page.url).query) == {
        "status": ["FAILED"], "task_name": ["flaky"]}
    wait_until(lambda: [fresh_server.task(task_id)["attempts"] for task_id in ids] == [2, 2, 1]
               and all(fresh_server.task(task_id)["status"] == "FAILED" for task_id in ids))
    # Nothing ticked: the confirmation is not reached, the error says what to do.
    page.goto(fresh_server.url + "/tasks?status=FAILED")
    bulk_bar(page).get_by_role("button", name="Retry").click()
    expect(page.locator(".error-card")).to_contain_text("error 100: ids: no task is selected")
    assert [text for text in no_script_log.console_errors if "status of 400" not in text] == []
    no_script_log.clear()


def test_a_rows_own_buttons_cancel_or_retry_it_and_come_back(fresh_server, page: Page,
                                                             tmp_path):
    later = fresh_server.submit("echo", {"text": "in an hour"}, delay_s=3600)
    failed, = failing(fresh_server, tmp_path / "gate", 1)
    page.goto(fresh_server.url + "/tasks?status=all")
    expect(row(page, failed).get_by_role("button", name="Cancel")).to_have_count(0)
    row(page, later).get_by_role("button", name="Cancel").click()
    expect(notice(page)).to_have_text("1 task cancelled")
    assert urllib.parse.urlsplit(page.url).query == "status=all"
    assert fresh_server.task(later)["status"] == "CANCELLED"
    row(page, failed).get_by_role("button", name="Retry").click()
    expect(notice(page)).to_have_text("1 task retried")
    wait_until(lambda: fresh_server.task(failed)["attempts"] == 2)


def test_a_bulk_delete_counts_what_it_skips_and_deletes_the_finished_ones(
        fresh_server, page: Page, tmp_path):
    failed = failing(fresh_server, tmp_path / "gate", 2)
    later = fresh_server.submit("echo", {"text": "in an hour"}, delay_s=3600)
    page.goto(fresh_server.url + "/tasks?status=all")
    page.get_by_label("Select all 3 on this page").check()
    bulk_bar(page).get_by_role("button", name="Delete").click()
    expect(page.get_by_role("heading", name="Delete 2 tasks?")).to_be_visible()
    expect(page.locator(".confirm-count")).to_contain_text(
        "2 tasks will be deleted, 1 skipped: only finished tasks can be deleted")
    page.get_by_role("button", name="Delete 2 tasks").click()
    expect(notice(page)).to_have_text("2 tasks deleted, 1 skipped")
    expect(page.locator("tr[data-task-id]")).to_have_count(1)
    assert all(fresh_server.request("GET", f"/api/tasks/{task_id}")[0] == 404
               for task_id in failed)
    assert fresh_server.task(later)["status"] == "QUEUED"


def log_in_with_token(page: Page, server: ServerProcess, role: str) -> None:
    page.goto(server.url + "/tasks?status=all")
    page.locator("summary", has_text="Log in with an API token instead").click()
    page.get_by_label("API token").fill(TOKENS[role])
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Tasks")).to_be_visible()


@pytest.mark.parametrize("role, buttons", [("read", []), ("submit", ["Cancel", "Retry"]),
                                           ("admin", ["Cancel", "Retry", "Delete"])])
def test_each_role_sees_the_actions_it_may_take(auth_server, page: Page, browser_log, role,
                                                buttons, tmp_path):
    headers = {"Authorization": f"Bearer {TOKENS['submit']}"}
    code, body = auth_server.request("POST", "/api/tasks", {
        "task_name": "flaky", "params": {"gate": str(tmp_path / "gate")}}, headers)
    assert code == 500, body
    log_in_with_token(page, auth_server, role)
    browser_log.console_errors.clear()  # the login form was answered 401, as it should
    expect(row(page, body["task_id"])).to_be_visible()
    if not buttons:
        expect(bulk_bar(page)).to_have_count(0)
        expect(page.locator("input[data-select-row]")).to_have_count(0)
        expect(row(page, body["task_id"]).get_by_role("button")).to_have_count(0)
        return
    expect(bulk_bar(page).get_by_role("button")).to_have_text(buttons)
    expect(row(page, body["task_id"]).get_by_role("button")).to_have_text(["Retry"])
