"""The web UI in a real browser (Debian's chromium through Playwright) against a real
`runserver` of ui_tasks.py: the overview and its limits, launching through the JSON box and
through the generated form, errors beside their fields, live pages, escaping, downloads, the
page without JavaScript and the task list's filters. Screenshots go to artifacts/screenshots/.
"""

from __future__ import annotations

import json
import re
import urllib.parse
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Locator, Page, Route, expect

from browser import DESKTOP, TIMEOUT_MS, BrowserLog, is_outside, save_screenshot
from serverproc import PROJECT_ROOT, ServerProcess, wait_until

UI_TASKS = PROJECT_ROOT / "tests" / "e2e" / "ui_tasks.py"
GLOBAL_LIMIT = 4
HOLD_LIMIT = 1
XSS = "<img src=x onerror=alert(1)>"
# What ui_tasks.report returns (not imported: that would register its tasks in this process).
REPORT_CSV = "name,value\npi,3.14\nπ,3.14159\n".encode()
BLOB = bytes(range(256)) * 4
TASK_URL = re.compile(r"/tasks/(\d+)$")
TERMINAL = ("SUCCEEDED", "FAILED")


def make_config(tmp: Path, **overrides: Any) -> dict[str, Any]:
    config: dict[str, Any] = {"db": {"url": f"sqlite+pysqlite:///{tmp / 'ui.db'}"},
                              "limits": {"global": GLOBAL_LIMIT, "names": {"hold": HOLD_LIMIT}}}
    config.update(overrides)
    return config


@pytest.fixture(autouse=True, scope="module")
def _expect_timeout() -> Iterator[None]:
    """Live pages refresh once a second: give every `expect` up to 10 s."""
    expect.set_options(timeout=TIMEOUT_MS)
    yield
    expect.set_options(timeout=5_000)  # Playwright's default, for the other modules


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """One server for the tests that look only at their own tasks."""
    cwd = tmp_path_factory.mktemp("ui")
    process = ServerProcess(UI_TASKS, cwd, make_config(cwd))
    try:
        yield process.start()
    finally:
        process.stop()


@pytest.fixture
def fresh_server(tmp_path: Path) -> Iterator[ServerProcess]:
    """A server on an empty database, for tests that count tasks. Ask for it before `page`
    and `holds`, so that it stops after the page is closed and the holds are released."""
    process = ServerProcess(UI_TASKS, tmp_path, make_config(tmp_path))
    try:
        yield process.start()
    finally:
        process.stop()


class Holds:
    """Release files for the `hold` task; whatever the test left held is released after it."""

    def __init__(self, directory: Path) -> None:
        self._directory = directory
        self._paths: list[Path] = []
        self._servers: list[ServerProcess] = []

    def new(self, server: ServerProcess) -> Path:
        path = self._directory / f"release-{len(self._paths)}"
        self._paths.append(path)
        if server not in self._servers:
            self._servers.append(server)
        return path

    def release_all(self) -> None:
        for path in self._paths:
            path.touch()
        for server in self._servers:
            if server.process is not None and server.process.poll() is None:
                wait_until(lambda: not busy_holds(server))


def busy_holds(server: ServerProcess) -> list[dict[str, Any]]:
    tasks = []
    for status in ("QUEUED", "RUNNING"):
        code, body = server.request("GET", f"/api/tasks?task_name=hold&status={status}")
        assert code == 200, body
        tasks += body["tasks"]
    return tasks


@pytest.fixture
def holds(tmp_path: Path) -> Iterator[Holds]:
    files = Holds(tmp_path)
    yield files
    files.release_all()


@pytest.fixture
def no_script_log() -> BrowserLog:
    """The console errors and outside requests of this test's `no_script_page`."""
    return BrowserLog()


@pytest.fixture
def no_script_page(chromium: Browser, no_script_log: BrowserLog) -> Iterator[Page]:
    """A page with JavaScript turned off; like `page`, it fails its test at teardown on
    console errors or requests off this machine left in `no_script_log`."""
    context = chromium.new_context(java_script_enabled=False, viewport=DESKTOP)
    context.set_default_timeout(TIMEOUT_MS)

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            where = message.location.get("url", "")
            no_script_log.console_errors.append(f"{message.text} ({where})" if where
                                                else message.text)

    def on_outside(route: Route) -> None:
        no_script_log.outside_requests.append(route.request.url)
        route.abort("blockedbyclient")

    context.on("console", on_console)
    context.route(is_outside, on_outside)
    try:
        yield context.new_page()
    finally:
        context.close()
    problems = no_script_log.problems()
    if problems:
        pytest.fail("the browser reported problems:\n  " + "\n  ".join(problems), pytrace=False)


def finished(server: ServerProcess, task_id: int) -> dict[str, Any]:
    """The task's record once it has finished."""
    return wait_until(lambda: (record := server.task(task_id))["status"] in TERMINAL and record)


def navigations(page: Page) -> list[str]:
    """The URLs the page's main frame navigates to from now on (a live update is not one)."""
    seen: list[str] = []
    page.on("framenavigated",
            lambda frame: seen.append(frame.url) if frame == page.main_frame else None)
    return seen


def task_id_of(page: Page) -> int:
    page.wait_for_url(TASK_URL)
    match = TASK_URL.search(page.url)
    assert match is not None, page.url
    return int(match.group(1))


def forget_refusals(log: BrowserLog, count: int, path: str = "/api/tasks") -> None:
    """Chromium logs each answer of 4xx as a console error: the test expected exactly
    `count` refusals (422) of its POST to `path`, and nothing else."""
    assert len(log.console_errors) == count, log.console_errors
    assert all("status of 422" in text and text.endswith(f"{path})")
               for text in log.console_errors), log.console_errors
    assert not (log.dialogs or log.page_errors or log.outside_requests), log.problems()
    log.clear()


def wait_for_query(page: Page, query: dict[str, str]) -> None:
    """Wait until the page is /tasks with these non-empty query values."""
    def matches(url: str) -> bool:
        parts = urllib.parse.urlsplit(url)
        values = urllib.parse.parse_qs(parts.query)
        return parts.path == "/tasks" and values == {key: [value] for key, value in query.items()}

    page.wait_for_url(matches)


def field(page: Page, *names: str) -> Locator:
    """The generated form's field at a path of property names."""
    locator = page.locator("[data-form-root] .form-root")
    for name in names:
        locator = locator.locator(f':scope > [data-kind][data-name="{name}"]')
    return locator


def control(page: Page, *names: str) -> Locator:
    return field(page, *names).locator(":scope > [data-input]")


def error_slot(page: Page, *names: str) -> Locator:
    return field(page, *names).locator(":scope > [data-error-slot]")


def rows(page: Page, name: str) -> Locator:
    return field(page, name).locator(":scope > [data-rows] > [data-row]")


def running_row(page: Page, task_id: int) -> Locator:
    return page.locator(f'section[aria-labelledby="running-heading"] tr[data-task-id="{task_id}"]')


def recent_row(page: Page, task_id: int) -> Locator:
    return page.locator(f'section[aria-labelledby="recent-heading"] tr[data-task-id="{task_id}"]')


def detail(page: Page) -> Locator:
    return page.locator("section.task-detail")


FORM_VALUES = {"color": "green", "count": 7, "loud": True, "weights": [1.5, 3.25],
               "day": "2024-05-01", "size": {"width": 30, "unit": "in"}}


def fill_form_echo(page: Page) -> None:
    """Fill form_echo's generated form with FORM_VALUES, adding three weight rows and
    removing the middle one."""
    control(page, "color").select_option(label="green")
    control(page, "count").fill("7")
    control(page, "loud").check()
    add = field(page, "weights").locator(':scope > button[data-action="add-row"]')
    for value in ("1.5", "2", "3.25"):
        add.click()
        rows(page, "weights").last.locator("[data-input]").fill(value)
    expect(rows(page, "weights")).to_have_count(3)
    rows(page, "weights").nth(1).get_by_role("button", name="Remove").click()
    expect(rows(page, "weights")).to_have_count(2)
    control(page, "day").fill("2024-05-01")
    control(page, "size", "width").fill("30")
    control(page, "size", "unit").select_option(label="in")


# 1. The overview

def test_the_overview_shows_task_types_limits_and_live_usage(fresh_server, page: Page, holds):
    page.goto(fresh_server.url + "/")

    names = page.locator("table.task-types tr[data-task-type]")
    expect(names).to_have_count(6)
    assert [row.get_attribute("data-task-type") for row in names.all()] == [
        "book", "broken", "echo", "form_echo", "hold", "report"]
    hold_row = page.locator('tr[data-task-type="hold"]')
    expect(hold_row).to_contain_text("Run until the file release exists, then say so.")
    expect(hold_row.locator(".help code")).to_have_text("release")
    expect(hold_row.locator("td.schema-summary")).to_contain_text("release*")
    expect(page.locator('tr[data-task-type="form_echo"] td.schema-summary')).to_contain_text(
        'color* one of "red", "green", "blue"')
    expect(page.locator('td[data-usage="hold"]')).to_contain_text("0 / 1 running, 0 waiting")
    expect(page.locator('td[data-usage="echo"]')).to_contain_text(
        "0 running, 0 waiting (no limit of its own)")
    expect(page.locator('[data-usage="global"]')).to_have_text(
        re.compile(r"All tasks:\s+0 / 4 running, 0 waiting"))
    expect(page.get_by_text("Nothing is running.")).to_be_visible()
    expect(page.get_by_text("No task has finished yet.")).to_be_visible()
    save_screenshot(page, "overview-empty")

    first = fresh_server.submit("hold", {"release": str(holds.new(fresh_server))})
    second = fresh_server.submit("hold", {"release": str(holds.new(fresh_server))})

    expect(page.locator('td[data-usage="hold"]')).to_contain_text("1 / 1 running, 1 waiting")
    expect(page.locator('[data-usage="global"]')).to_contain_text("1 / 4 running, 1 waiting")
    expect(running_row(page, first)).to_contain_text("RUNNING")
    expect(running_row(page, second)).to_have_count(0)  # waiting, not running
    save_screenshot(page, "overview")
    save_screenshot(page, "overview", phone=True)


def test_a_new_server_says_no_task_has_finished_yet(fresh_server, page: Page):
    page.goto(fresh_server.url + "/tasks")

    expect(page.locator("tr[data-task-id]")).to_have_count(0)
    expect(page.locator("p.empty")).to_have_text("No task has finished yet. Launch one.")
    page.get_by_role("link", name="Launch one").click()
    expect(page.get_by_text("Pick a task type to launch.")).to_be_visible()


# 2. Launching through the JSON box, then watching the task finish

def test_a_task_launched_as_json_is_watched_until_it_succeeds_without_a_reload(
        page: Page, server, holds):
    release = holds.new(server)
    page.goto(server.url + "/launch?task=hold")
    page.locator('button[data-tab="json"]').click()
    page.locator("#params").fill(json.dumps({"release": str(release)}))
    page.get_by_role("button", name="Run hold").click()

    task_id = task_id_of(page)
    expect(detail(page)).to_have_attribute("data-status", "RUNNING")
    expect(detail(page)).to_contain_text("This page updates by itself while the task runs.")
    page.evaluate("window.marker = 1")
    moves = navigations(page)
    save_screenshot(page, "task-running")
    release.touch()

    expect(detail(page)).to_have_attribute("data-status", "SUCCEEDED")
    expect(detail(page).locator("pre.result")).to_have_text("released")
    expect(detail(page).locator("h1")).to_have_text(f"#{task_id} hold")
    assert page.evaluate("window.marker") == 1
    assert moves == []
    assert page.url == f"{server.url}/tasks/{task_id}"
    save_screenshot(page, "task")
    save_screenshot(page, "task", phone=True)


# 3. The generated form

def test_the_generated_form_sends_exactly_the_values_entered(page: Page, server):
    page.goto(server.url + "/launch?task=form_echo")
    expect(page.locator('button[data-tab="form"]')).to_have_attribute("aria-selected", "true")
    fill_form_echo(page)
    save_screenshot(page, "launch-form")
    save_screenshot(page, "launch-form", phone=True)
    page.get_by_role("button", name="Run form_echo").click()

    task_id = task_id_of(page)
    expect(detail(page)).to_have_attribute("data-status", "SUCCEEDED")
    assert json.loads(detail(page).locator("pre.result").inner_text()) == FORM_VALUES
    assert json.loads(detail(page).locator("pre.json").inner_text()) == FORM_VALUES
    record = server.task(task_id)
    assert (record["params"], record["result"]) == (FORM_VALUES, FORM_VALUES)


def test_the_form_and_the_json_box_carry_the_same_params(page: Page, server):
    page.goto(server.url + "/launch?task=form_echo")
    fill_form_echo(page)

    page.locator('button[data-tab="json"]').click()
    textarea = page.locator("#params")
    expect(textarea).to_be_visible()
    expect(page.locator("[data-form-root]")).to_be_hidden()
    assert json.loads(textarea.input_value()) == FORM_VALUES

    textarea.fill(json.dumps({"color": "blue", "count": 3, "weights": [4, 5.5, 6],
                              "size": {"unit": "cm"}}))
    page.locator('button[data-tab="form"]').click()

    expect(page.locator("[data-form-root]")).to_be_visible()
    expect(control(page, "color")).to_have_value('"blue"')
    expect(control(page, "count")).to_have_value("3")
    expect(control(page, "loud")).not_to_be_checked()
    expect(rows(page, "weights")).to_have_count(3)
    assert [row.input_value() for row in rows(page, "weights").locator("[data-input]").all()
            ] == ["4", "5.5", "6"]
    expect(control(page, "day")).to_have_value("")
    expect(control(page, "size", "width")).to_have_value("")
    expect(control(page, "size", "unit")).to_have_value('"cm"')

    # A value the form cannot show keeps the JSON box open and says which one.
    page.locator('button[data-tab="json"]').click()
    textarea.fill(json.dumps({"color": "blue", "count": 3, "shade": "dark"}))
    page.locator('button[data-tab="form"]').click()
    expect(page.locator("#form-error")).to_have_text(
        "The form cannot show $.shade; these values stay only in the JSON box.")
    expect(textarea).to_be_visible()


# 4. Errors beside their fields

def test_a_value_out_of_range_gets_the_servers_message_beside_its_field(
        page: Page, server, browser_log: BrowserLog):
    page.goto(server.url + "/launch?task=form_echo")
    page.evaluate("window.marker = 1")
    moves = navigations(page)
    control(page, "color").select_option(label="red")
    control(page, "count").fill("11")
    page.get_by_role("button", name="Run form_echo").click()

    slot = error_slot(page, "count")
    expect(slot).to_be_visible()
    expect(slot).to_have_text("$.count: 11 is greater than the maximum of 10")
    expect(control(page, "count")).to_have_attribute("aria-invalid", "true")
    input_box, slot_box = control(page, "count").bounding_box(), slot.bounding_box()
    assert input_box is not None and slot_box is not None
    assert 0 <= slot_box["y"] - (input_box["y"] + input_box["height"]) < 40  # right below it
    assert abs(slot_box["x"] - input_box["x"]) < 40
    expect(error_slot(page, "color")).to_be_hidden()
    expect(page.locator("#form-error")).to_be_hidden()
    assert page.evaluate("window.marker") == 1 and moves == []
    assert page.url == server.url + "/launch?task=form_echo"
    save_screenshot(page, "launch-error")
    save_screenshot(page, "launch-error", phone=True)

    # A missing required choice lands beside that choice; the old message is gone.
    control(page, "color").select_option(value="")
    control(page, "count").fill("5")
    page.get_by_role("button", name="Run form_echo").click()
    expect(error_slot(page, "color")).to_have_text("$: 'color' is a required property")
    expect(error_slot(page, "count")).to_be_hidden()
    assert moves == []
    forget_refusals(browser_log, 2)


def test_a_json_box_error_is_shown_under_the_box(page: Page, server, browser_log: BrowserLog):
    page.goto(server.url + "/launch?task=form_echo")
    moves = navigations(page)
    page.locator('button[data-tab="json"]').click()
    page.locator("#params").fill('{"color": "red", "count": 0}')
    page.get_by_role("button", name="Run form_echo").click()

    expect(page.locator("#params-error")).to_have_text(
        "$.count: 0 is less than the minimum of 1")
    expect(page.locator("#params")).to_have_attribute("aria-invalid", "true")

    page.locator("#params").fill('{"color": ')
    page.get_by_role("button", name="Run form_echo").click()
    expect(page.locator("#params-error")).to_contain_text("params: not valid JSON")

    page.locator("#params").fill('{"color": "red", "count": 2}')
    page.locator("#email").fill("not an address")
    page.get_by_role("button", name="Run form_echo").click()
    expect(page.locator("#email-error")).to_be_visible()
    expect(page.locator("#params-error")).to_be_hidden()
    assert moves == []
    forget_refusals(browser_log, 2)  # the invalid JSON never left the page


# 5. Escaping

def test_markup_in_params_results_and_errors_is_shown_as_text(page: Page, server, holds):
    token = uuid.uuid4().hex[:12]
    text = f"{token} {XSS}"
    echoed = server.submit("echo", {"text": text})
    failed = server.submit("broken", {"message": text})
    held = server.submit("hold", {"note": text, "release": str(holds.new(server))})
    assert finished(server, echoed)["status"] == "SUCCEEDED"
    assert finished(server, failed)["status"] == "FAILED"

    page.goto(server.url + "/")
    expect(recent_row(page, echoed)).to_contain_text(text)
    expect(recent_row(page, failed)).to_contain_text(f"RuntimeError: {text}")
    expect(running_row(page, held)).to_contain_text(json.dumps(text))  # its params
    assert text in page.locator("main").inner_text()
    assert page.locator("main img").count() == 0

    page.goto(f"{server.url}/tasks?q={token}")
    expect(page.locator("tr[data-task-id]")).to_have_count(2)
    assert text in page.locator(f'tr[data-task-id="{echoed}"]').inner_text()
    assert f"RuntimeError: {text}" in page.locator(f'tr[data-task-id="{failed}"]').inner_text()
    assert page.locator("main img").count() == 0

    page.goto(f"{server.url}/tasks/{echoed}")
    assert detail(page).locator("pre.result").inner_text() == text
    assert json.loads(detail(page).locator("pre.json").inner_text()) == {"text": text}
    assert page.locator("main img").count() == 0

    page.goto(f"{server.url}/tasks/{failed}")
    expect(detail(page)).to_have_attribute("data-status", "FAILED")
    assert f"RuntimeError: {text}" in detail(page).locator("p.error-text").inner_text()
    assert page.locator("main img").count() == 0


def test_markup_typed_into_the_json_box_round_trips_as_text(page: Page, server):
    page.goto(server.url + "/launch?task=echo")
    page.locator('button[data-tab="json"]').click()
    page.locator("#params").fill(json.dumps({"text": XSS}))
    page.locator('button[data-tab="form"]').click()
    expect(control(page, "text")).to_have_value(XSS)
    page.get_by_role("button", name="Run echo").click()

    task_id = task_id_of(page)
    expect(detail(page)).to_have_attribute("data-status", "SUCCEEDED")
    expect(detail(page).locator("pre.result")).to_have_text(XSS)
    assert server.task(task_id)["result"] == XSS
    assert page.locator("main img").count() == 0


# 6. Result files

def test_a_result_file_downloads_with_its_name_and_bytes(page: Page, server):
    task_id = server.submit("report", {})
    assert finished(server, task_id)["status"] == "SUCCEEDED"
    page.goto(f"{server.url}/tasks/{task_id}")
    files = detail(page).locator("ul.file-list")
    expect(files).to_contain_text(f"report.csv text/csv, {len(REPORT_CSV)} bytes")
    expect(files).to_contain_text(f"blob.bin application/octet-stream, {len(BLOB)} bytes")

    for name, data in (("report.csv", REPORT_CSV), ("blob.bin", BLOB)):
        with page.expect_download() as info:
            files.get_by_role("link", name=name).click()
        download = info.value
        assert download.failure() is None
        assert download.suggested_filename == name
        assert Path(download.path()).read_bytes() == data
    assert page.url == f"{server.url}/tasks/{task_id}"


# 7. Live lists

def test_the_overview_shows_a_task_submitted_elsewhere_without_a_reload(page: Page, server,
                                                                        holds):
    page.goto(server.url + "/")
    page.evaluate("window.marker = 1")
    moves = navigations(page)
    release = holds.new(server)

    task_id = server.submit("hold", {"release": str(release)})
    expect(running_row(page, task_id)).to_contain_text("RUNNING")
    expect(page.locator('td[data-usage="hold"]')).to_contain_text("1 / 1 running")
    release.touch()

    expect(recent_row(page, task_id)).to_contain_text("SUCCEEDED")
    expect(recent_row(page, task_id)).to_contain_text("released")
    expect(running_row(page, task_id)).to_have_count(0)
    expect(page.locator('td[data-usage="hold"]')).to_contain_text("0 / 1 running")
    assert page.evaluate("window.marker") == 1 and moves == []


def test_the_task_list_shows_new_finished_tasks_without_a_reload(page: Page, server):
    token = uuid.uuid4().hex[:12]
    page.goto(f"{server.url}/tasks?q={token}")
    expect(page.locator("p.empty")).to_contain_text("No tasks match these filters.")
    page.evaluate("window.marker = 1")

    task_id = server.submit("echo", {"text": token})
    expect(page.locator(f'tr[data-task-id="{task_id}"]')).to_contain_text("SUCCEEDED")
    assert page.evaluate("window.marker") == 1


# 8. Without JavaScript

def test_the_json_form_launches_a_task_without_javascript(no_script_page: Page, server):
    page = no_script_page
    page.goto(server.url + "/launch?task=echo")
    expect(page.locator('button[data-tab="json"]')).to_be_hidden()  # tabs need a script
    expect(page.locator("[data-form-root]")).to_be_hidden()
    page.locator("#params").fill(json.dumps({"text": "sent without a script"}))
    page.get_by_role("button", name="Run echo").click()

    task_id = task_id_of(page)
    expect(detail(page).locator("h1")).to_have_text(f"#{task_id} echo")
    assert json.loads(detail(page).locator("pre.json").inner_text()) == {
        "text": "sent without a script"}
    assert finished(server, task_id)["status"] == "SUCCEEDED"
    page.reload()  # nothing refreshes the page without a script
    expect(detail(page)).to_have_attribute("data-status", "SUCCEEDED")
    expect(detail(page).locator("pre.result")).to_have_text("sent without a script")


def test_without_javascript_a_refused_task_comes_back_with_its_error(
        no_script_page: Page, no_script_log: BrowserLog, server):
    page = no_script_page
    page.goto(server.url + "/launch?task=form_echo")
    typed = json.dumps({"color": XSS, "count": 3})
    page.locator("#params").fill(typed)
    page.get_by_role("button", name="Run form_echo").click()

    expect(page.locator("#params-error")).to_be_visible()
    expect(page.locator("#params-error")).to_contain_text("$.color")
    expect(page.locator("#params")).to_have_value(typed)  # kept, and as text
    assert page.url == server.url + "/launch"
    assert page.locator("main img").count() == 0
    forget_refusals(no_script_log, 1, path="/launch")


# 9. The task list's filters

def test_the_task_list_filters_by_status_type_and_text(page: Page, server):
    token = uuid.uuid4().hex[:12]
    failed = server.submit("broken", {"message": f"{token} went wrong"})
    echoed = server.submit("echo", {"text": f"{token} went fine"})
    assert finished(server, failed)["status"] == "FAILED"
    assert finished(server, echoed)["status"] == "SUCCEEDED"
    listed = page.locator("tr[data-task-id]")

    page.goto(server.url + "/tasks")
    page.get_by_label("Status").select_option("FAILED")
    page.get_by_label("Text").fill(token)
    page.get_by_role("button", name="Filter").click()
    wait_for_query(page, {"status": "FAILED", "q": token})
    expect(listed).to_have_count(1)
    expect(page.locator(f'tr[data-task-id="{failed}"]')).to_contain_text(
        f"RuntimeError: {token} went wrong")
    save_screenshot(page, "tasks")
    save_screenshot(page, "tasks", phone=True)

    page.get_by_label("Status").select_option("finished")
    page.get_by_role("button", name="Filter").click()
    wait_for_query(page, {"status": "finished", "q": token})
    assert [row.get_attribute("data-task-id") for row in listed.all()] == [
        str(echoed), str(failed)]  # newest first

    page.get_by_label("Task type").select_option("echo")
    page.get_by_role("button", name="Filter").click()
    wait_for_query(page, {"status": "finished", "task_name": "echo", "q": token})
    expect(listed).to_have_count(1)
    expect(page.locator(f'tr[data-task-id="{echoed}"]')).to_contain_text(f"{token} went fine")

    page.get_by_label("Text").fill(token + "-matches-nothing")
    page.get_by_role("button", name="Filter").click()
    expect(listed).to_have_count(0)
    expect(page.locator("p.empty")).to_have_text(
        "No tasks match these filters. Clear the filters.")
    save_screenshot(page, "tasks-empty")
    page.get_by_role("link", name="Clear the filters").click()
    page.wait_for_url(server.url + "/tasks")
    expect(page.get_by_label("Text")).to_have_value("")
    expect(page.get_by_label("Status")).to_have_value("finished")


# Issue 8 in the browser: a delayed launch, its cancel button, and "Run again"

def test_a_delayed_launch_is_cancelled_then_run_again_from_its_page(page: Page, server):
    page.goto(server.url + "/launch?task=echo")
    page.locator('button[data-tab="json"]').click()
    page.locator("#params").fill(json.dumps({"text": "in an hour"}))
    page.locator("summary", has_text="Later, or first").click()
    page.locator("#delay_s").fill("3600")
    page.locator("#priority").fill("3")
    page.get_by_role("button", name="Run echo").click()

    task_id = task_id_of(page)
    expect(detail(page)).to_have_attribute("data-status", "QUEUED")
    expect(detail(page)).to_contain_text("Not before")
    expect(detail(page)).to_contain_text("Priority3")
    save_screenshot(page, "delayed")
    page.get_by_role("button", name="Cancel").click()
    expect(detail(page)).to_have_attribute("data-status", "CANCELLED")
    page.get_by_role("button", name="Run again").click()
    expect(detail(page)).to_have_attribute("data-status", "SUCCEEDED")
    expect(detail(page).locator("pre.result")).to_have_text("in an hour")
    assert finished(server, task_id)["attempts"] == 1
    save_screenshot(page, "run-again", phone=True)
