"""Issue 17 item 6 in a real browser (Debian's chromium through Playwright) against a real
`runserver` of ui_tasks.py: an optional nested object left untouched is left out of the
params and a required one gets its error beside its field; the overview counts delayed tasks
apart and shows descriptions with their `code`; the task list shows the time that fits each
row's status and results on one line; /launch with nothing chosen lists the task types.
Screenshots go to artifacts/screenshots/."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from browser import TIMEOUT_MS, BrowserLog, save_screenshot
from playwright.sync_api import Page, expect
from serverproc import ServerProcess
from test_ui_browser import (
    UI_TASKS,
    control,
    detail,
    error_slot,
    field,
    finished,
    forget_refusals,
    make_config,
    task_id_of,
)

DELAY_S = 3600


@pytest.fixture(autouse=True, scope="module")
def _expect_timeout() -> Iterator[None]:
    """Live pages refresh once a second: give every `expect` up to 10 s."""
    expect.set_options(timeout=TIMEOUT_MS)
    yield
    expect.set_options(timeout=5_000)  # Playwright's default, for the other modules


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    """A server on an empty database, so that the counts are this test's own."""
    process = ServerProcess(UI_TASKS, tmp_path, make_config(tmp_path))
    try:
        yield process.start()
    finally:
        process.stop()


def run_book(page: Page) -> None:
    page.get_by_role("button", name="Run book").click()


def test_an_untouched_optional_object_is_left_out_of_the_params(server, page: Page):
    page.goto(server.url + "/launch?task=book")
    expect(field(page, "window")).to_contain_text("Time window")
    control(page, "room", "name").fill("Blue")
    save_screenshot(page, "launch-nested")
    save_screenshot(page, "launch-nested", phone=True)
    page.locator('button[data-tab="json"]').click()
    assert json.loads(page.locator("#params").input_value()) == {"room": {"name": "Blue"}}
    page.locator('button[data-tab="form"]').click()
    run_book(page)

    task_id = task_id_of(page)
    expect(detail(page)).to_have_attribute("data-status", "SUCCEEDED")
    record = server.task(task_id)
    assert record["params"] == {"room": {"name": "Blue"}}
    assert record["result"] == {"room": {"name": "Blue"}, "window": None}


def test_a_required_object_left_empty_gets_its_error_beside_its_field(
        server, page: Page, browser_log: BrowserLog):
    page.goto(server.url + "/launch?task=book")
    run_book(page)
    expect(error_slot(page, "room", "name")).to_contain_text("$.room.name: ''")
    expect(control(page, "room", "name")).to_have_attribute("aria-invalid", "true")
    expect(error_slot(page, "window", "start")).to_be_hidden()  # left out: no error there
    save_screenshot(page, "launch-nested-error")

    # A window begun without its required start: the server names the missing start.
    control(page, "room", "name").fill("Blue")
    control(page, "window", "end").fill("2030-05-01T12:30")
    run_book(page)
    expect(error_slot(page, "window", "start")).to_have_text(
        "$.window: 'start' is a required property")
    expect(error_slot(page, "room", "name")).to_be_hidden()
    forget_refusals(browser_log, 2)

    control(page, "window", "start").fill("2030-05-01T12:00")
    run_book(page)
    task_id = task_id_of(page)
    assert finished(server, task_id)["params"] == {"room": {"name": "Blue"}, "window": {
        "start": "2030-05-01T12:00:00Z", "end": "2030-05-01T12:30:00Z"}}


def test_the_overview_and_the_task_list_show_what_fits_each_task(server, page: Page):
    done = server.submit("form_echo", {"color": "red", "count": 2, "weights": [1, 2]})
    assert finished(server, done)["status"] == "SUCCEEDED"
    delayed = [server.submit("echo", {"text": f"later {n}"}, delay_s=DELAY_S) for n in (1, 2)]

    page.goto(server.url + "/")
    expect(page.locator('td[data-usage="echo"]')).to_contain_text(
        "0 running, 0 waiting, 2 delayed")
    expect(page.locator('[data-usage="global"]')).to_have_text(
        re.compile(r"All tasks:\s+0 / 4 running, 0 waiting, 2 delayed"))
    expect(page.locator('td[data-usage="hold"]')).to_have_text(
        re.compile(r"^\s*0 / 1 running, 0 waiting\s*$"))
    expect(page.locator('tr[data-task-type="book"] .help code')).to_have_text(["room", "window"])
    expect(page.locator('tr[data-task-type="report"] td.schema-summary')).to_have_text(
        "takes no params")
    recent = page.locator(f'section[aria-labelledby="recent-heading"] tr[data-task-id="{done}"]')
    expect(recent.locator(".result-text")).to_have_text(
        '{"color": "red", "count": 2, "weights": [1, 2]}')
    save_screenshot(page, "overview")
    save_screenshot(page, "overview", phone=True)

    page.goto(server.url + "/tasks?status=all")
    for task_id in delayed:
        expect(page.locator(f'tr[data-task-id="{task_id}"] td[data-label="When"]')).to_have_text(
            re.compile(r"may start\s+in (59 min|1 h)"))
    expect(page.locator(f'tr[data-task-id="{done}"] td[data-label="When"]')).to_have_text(
        re.compile(r"finished\s+(just now|.* ago)"))
    save_screenshot(page, "tasks-all")
    save_screenshot(page, "tasks-all", phone=True)


def test_launch_with_nothing_chosen_lists_the_task_types(server, page: Page):
    page.goto(server.url + "/launch")
    choices = page.locator("ul.launch-choices > li")
    expect(choices).to_have_count(6)
    book = page.locator('li[data-task-type="book"]')
    expect(book).to_contain_text("Book a room, within a window of time if one is given.")
    expect(book.locator("code")).to_have_text(["room", "window", "room", "window"])
    expect(page.locator('li[data-task-type="report"]')).to_contain_text("takes no params")
    save_screenshot(page, "launch-choices")
    save_screenshot(page, "launch-choices", phone=True)

    book.get_by_role("link", name="book").click()
    page.wait_for_url(server.url + "/launch?task=book")
    expect(page.get_by_role("button", name="Run book")).to_be_visible()
    page.goto(server.url + "/launch?task=report")
    expect(page.locator("[data-form-root]")).to_contain_text("This task takes no params.")
    page.get_by_role("button", name="Run report").click()
    assert finished(server, task_id_of(page))["status"] == "SUCCEEDED"
