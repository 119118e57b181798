"""Logging in to the web UI in a real browser (Debian's chromium through Playwright) against a
`runserver` with users configured: the login form, a session that lasts across pages, only the
actions the role allows, the audit log page, and logging out."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from browser import TIMEOUT_MS, BrowserLog, save_screenshot
from serverproc import PROJECT_ROOT, ServerProcess

from deferred.access.identity import hash_password

UI_TASKS = PROJECT_ROOT / "tests" / "e2e" / "ui_tasks.py"
PASSWORD = "a long passphrase"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    cwd = tmp_path_factory.mktemp("login")
    users = [{"name": "alice", "role": "admin", "password": hash_password(PASSWORD)},
             {"name": "rita", "role": "read", "password": hash_password(PASSWORD)}]
    process = ServerProcess(UI_TASKS, cwd, {
        "db": {"url": f"sqlite+pysqlite:///{cwd / 'ui.db'}"}, "auth": {"users": users}})
    expect.set_options(timeout=TIMEOUT_MS)
    try:
        yield process.start()
    finally:
        process.stop()
        expect.set_options(timeout=5_000)


def expect_refused_loads(browser_log: BrowserLog, statuses: str = "401|403") -> None:
    """Chromium logs every page answered 401/403 (or `statuses`) as a console error: those
    are expected here, anything else is not."""
    unexpected = [text for text in browser_log.console_errors
                  if not re.search(rf"status of ({statuses}) ", text)]
    assert unexpected == []
    browser_log.console_errors.clear()


def log_in(page: Page, user: str, password: str) -> None:
    page.get_by_label("User name").fill(user)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()


def test_an_admin_logs_in_launches_sees_the_audit_log_and_logs_out(
        page: Page, server: ServerProcess, browser_log: BrowserLog):
    page.goto(server.url + "/tasks?status=all")
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    expect(page.get_by_role("navigation", name="Main")).to_have_count(0)
    save_screenshot(page, "login", phone=True)
    log_in(page, "alice", "wrong password")
    expect(page.get_by_role("alert")).to_contain_text("wrong user name or password")
    log_in(page, "alice", PASSWORD)
    expect(page).to_have_url(re.compile(r"/tasks\?status=all$"))  # back where it was going
    expect(page.locator(".session .who")).to_contain_text("alice")
    page.get_by_role("link", name="Launch", exact=True).click()
    page.goto(server.url + "/launch?task=echo")
    page.get_by_role("tab", name="JSON").click()
    page.get_by_label("Params as JSON").fill('{"text": "from the browser"}')
    page.get_by_role("button", name="Run echo").click()
    expect(page).to_have_url(re.compile(r"/tasks/\d+$"))
    task_id = page.url.rsplit("/", 1)[1]
    page.get_by_role("link", name="Audit").click()
    row = page.locator("tr[data-action='launch']").first
    expect(row).to_contain_text("alice")
    expect(row).to_contain_text(f"#{task_id}")
    expect(row).to_contain_text("127.0.0.1")
    expect(page.locator("tr[data-action='login_failed']")).to_have_count(1)
    save_screenshot(page, "audit", phone=True)
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    page.goto(server.url + "/tasks")  # the session is gone for good
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    expect_refused_loads(browser_log)


def test_a_read_only_user_sees_no_launch_cancel_or_retry(
        page: Page, server: ServerProcess, browser_log: BrowserLog):
    page.goto(server.url + "/")
    log_in(page, "rita", PASSWORD)
    expect(page.locator(".session .who")).to_contain_text("rita")
    expect(page.get_by_role("link", name="Launch")).to_have_count(0)
    expect(page.get_by_role("link", name="Audit")).to_have_count(0)
    page.goto(server.url + "/tasks?status=all")
    first = page.locator("a[href*='/tasks/']").first
    if first.count():
        first.click()
        expect(page.get_by_role("button", name=re.compile("Cancel|Ask to stop|Run again"))
               ).to_have_count(0)
    page.goto(server.url + "/launch")
    expect(page.locator(".error-text")).to_contain_text("error 111")
    expect_refused_loads(browser_log)


def test_a_live_page_shows_the_login_form_once_its_session_ends(
        page: Page, server: ServerProcess, browser_log: BrowserLog):
    page.goto(server.url + "/")
    log_in(page, "alice", PASSWORD)
    expect(page.locator(".session .who")).to_contain_text("alice")
    other = page.context.new_page()  # the same browser: the same session cookie
    other.goto(server.url + "/tasks")
    other.get_by_role("button", name="Log out").click()
    expect(other.get_by_role("heading", name="Log in")).to_be_visible()
    # The overview polls its live part each second; the 401 makes it show the form.
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    expect_refused_loads(browser_log)


def test_an_admin_makes_a_token_sees_it_once_uses_it_and_revokes_it(
        page: Page, server: ServerProcess, browser_log: BrowserLog):
    page.goto(server.url + "/")
    log_in(page, "alice", PASSWORD)
    page.get_by_role("link", name="Tokens").click()
    page.get_by_label("Name").fill("nightly-report")
    page.get_by_label("Role").select_option("submit")
    page.get_by_role("button", name="Make token").click()
    token = page.locator("#new-token").inner_text().strip()
    assert token.startswith("dfr_")
    save_screenshot(page, "new-token", phone=True)
    status, body = server.request("GET", "/api/tasks",
                                  headers={"Authorization": f"Bearer {token}"})
    assert status == 200
    page.goto(server.url + "/tokens")  # shown once: the page again shows the list only
    expect(page.locator("#new-token")).to_have_count(0)
    row = page.locator("tr[data-token='nightly-report']")
    expect(row).to_contain_text("submit")
    expect(row).to_contain_text("alice")
    page.get_by_label("Name").fill("nightly-report")
    page.get_by_role("button", name="Make token").click()
    expect(page.get_by_role("alert")).to_contain_text("exists")
    page.get_by_role("button", name="Revoke nightly-report").click()
    expect(page.locator("tr[data-token='nightly-report']")).to_have_count(0)
    status, body = server.request("GET", "/api/tasks",
                                  headers={"Authorization": f"Bearer {token}"})
    assert status == 401 and body["error_code"] == 110
    expect_refused_loads(browser_log, "401|403|409")  # 409: the name already taken
