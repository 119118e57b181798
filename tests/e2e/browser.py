"""Browser fixtures for the UI tests: Debian's chromium, headless, driven by Playwright.

tests/e2e/conftest.py imports the fixtures, so one chromium serves the whole session; test
modules import `BrowserLog` and `save_screenshot` from here.

`page` fails its test at teardown when the page opened a JavaScript dialog, logged a console
error (a Content-Security-Policy violation is one), threw an uncaught exception, or asked for
anything off this machine (those requests are aborted). A test that expects one of these
looks at `browser_log` and calls `browser_log.clear()`.
"""

from __future__ import annotations

import dataclasses
import os
import re
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import (Browser, BrowserContext, ConsoleMessage, Dialog, Error, Page,
                                 Route, WebError, sync_playwright)

PROJECT_ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = PROJECT_ROOT / "artifacts" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
INSTALL = "apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium"
# The resolver rule keeps Chromium from looking up Google hosts at start and sends nothing off
# this machine; 127.0.0.1 and localhost must stay excluded or `goto` to the test server fails.
CHROMIUM_ARGS = ["--disable-gpu", "--disable-quic",
                 "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1"]
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
TIMEOUT_MS = 10_000


@dataclasses.dataclass
class BrowserLog:
    """What went wrong in the test's browser context, in the order it happened."""

    dialogs: list[str] = dataclasses.field(default_factory=list)
    console_errors: list[str] = dataclasses.field(default_factory=list)
    page_errors: list[str] = dataclasses.field(default_factory=list)
    outside_requests: list[str] = dataclasses.field(default_factory=list)

    def problems(self) -> list[str]:
        """Every entry, one line each, prefixed with its kind."""
        return ([f"dialog: {text}" for text in self.dialogs]
                + [f"console error: {text}" for text in self.console_errors]
                + [f"page error: {text}" for text in self.page_errors]
                + [f"request off this machine (aborted): {url}"
                   for url in self.outside_requests])

    def clear(self) -> None:
        """Forget everything recorded so far: the test expected it."""
        for entries in (self.dialogs, self.console_errors, self.page_errors,
                        self.outside_requests):
            entries.clear()


def is_outside(url: str) -> bool:
    """Whether `url` is a network request to a host other than this machine."""
    parts = urllib.parse.urlsplit(url)
    return parts.scheme in ("http", "https", "ws", "wss") and parts.hostname not in LOCAL_HOSTS


@pytest.fixture(scope="session")
def chromium() -> Iterator[Browser]:
    """Debian's chromium, headless, for the whole session. Fails, never skips, when it is
    missing or will not start."""
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"the browser tests need Debian's chromium at {CHROMIUM}; install it with "
                    f"`{INSTALL}` (./test.sh does)", pytrace=False)
    playwright = sync_playwright().start()
    try:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    except Error as exc:
        playwright.stop()
        pytest.fail(f"{CHROMIUM} did not start under Playwright: {exc.message}\n"
                    f"reinstall it with `{INSTALL}`", pytrace=False)
    try:
        yield browser
    finally:
        browser.close()
        playwright.stop()


@pytest.fixture
def browser_log() -> BrowserLog:
    """The dialogs, console errors, page errors and outside requests of this test's `page`."""
    return BrowserLog()


@pytest.fixture
def page(chromium: Browser, browser_log: BrowserLog) -> Iterator[Page]:
    """A page in a fresh context (1280x800, downloads accepted). At teardown the context is
    closed and the test fails if `browser_log` holds anything."""
    context = chromium.new_context(accept_downloads=True, viewport=DESKTOP)
    context.set_default_timeout(TIMEOUT_MS)
    _record(context, browser_log)
    try:
        yield context.new_page()
    finally:
        context.close()
    problems = browser_log.problems()
    if problems:
        pytest.fail("the browser reported problems (call browser_log.clear() after checking "
                    "expected ones):\n  " + "\n  ".join(problems), pytrace=False)


def _record(context: BrowserContext, log: BrowserLog) -> None:
    """Listen on the whole context, so pages a test opens (popups, new tabs) count too."""

    def on_dialog(dialog: Dialog) -> None:
        log.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            where = message.location.get("url", "")
            log.console_errors.append(f"{message.text} ({where})" if where else message.text)

    def on_web_error(error: WebError) -> None:
        log.page_errors.append(f"{error.error.name}: {error.error.message}")

    def on_outside(route: Route) -> None:
        log.outside_requests.append(route.request.url)
        route.abort("blockedbyclient")

    context.on("dialog", on_dialog)
    context.on("console", on_console)
    context.on("weberror", on_web_error)
    context.route(is_outside, on_outside)


def save_screenshot(page: Page, name: str, *, phone: bool = False) -> Path:
    """Save a full-page PNG as `artifacts/screenshots/<test>-<name>.png` and return its path.
    With `phone`, the page is shot at 390x844 (`<test>-<name>-phone.png`), must not scroll
    sideways there, and gets its viewport back afterwards."""
    test = os.environ.get("PYTEST_CURRENT_TEST", "test").split("::")[-1].split(" ")[0]
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", f"{test}-{name}" + ("-phone" if phone else ""))
    path = SCREENSHOTS / f"{stem}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    if not phone:
        page.screenshot(path=path, full_page=True)
        return path
    viewport = page.viewport_size
    page.set_viewport_size(PHONE)
    try:
        page.screenshot(path=path, full_page=True)
        # A phone page must never scroll sideways as a whole (a wide table scrolls in its box).
        widths = page.evaluate("[document.documentElement.scrollWidth, "
                               "document.documentElement.clientWidth]")
        assert widths[0] <= widths[1], f"{name}: {widths[0]} px wide on a {widths[1]} px phone"
    finally:
        if viewport is not None:
            page.set_viewport_size(viewport)
    return path
