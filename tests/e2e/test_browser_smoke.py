"""The browser fixtures themselves, on static pages from a tiny local HTTP server: chromium
starts, pages load, screenshots are written, and what a UI must never do is recorded."""

from __future__ import annotations

import functools
import http.server
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page

from browser import BrowserLog, save_screenshot

SERVE_STOP_S = 5
HEAD = '<meta charset="utf-8"><link rel="icon" href="data:,">'  # no favicon request

Site = Callable[[str, str], str]


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the base's name)
        pass


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    """`site(name, html)`: writes a page under tmp_path and returns its URL on a
    `ThreadingHTTPServer` at 127.0.0.1, stopped after the test."""
    handler = functools.partial(_QuietHandler, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              name="smoke-http")
    thread.start()

    def publish(name: str, html: str) -> str:
        (tmp_path / name).write_text(html, encoding="utf-8")
        return f"http://127.0.0.1:{server.server_address[1]}/{name}"

    try:
        yield publish
    finally:
        server.shutdown()
        server.server_close()
        thread.join(SERVE_STOP_S)
        assert not thread.is_alive(), "the test HTTP server did not stop"


def test_a_local_page_loads_and_is_shot_at_two_sizes(page: Page, site: Site) -> None:
    url = site("index.html", f"<!doctype html><html><head>{HEAD}<title>Smoke</title></head>"
                             "<body><h1>It works</h1></body></html>")
    page.goto(url)

    assert page.title() == "Smoke"
    assert page.locator("h1").inner_text() == "It works"
    desktop = save_screenshot(page, "index")
    phone = save_screenshot(page, "index", phone=True)
    assert desktop.name == "test_a_local_page_loads_and_is_shot_at_two_sizes-index.png"
    assert phone.name == "test_a_local_page_loads_and_is_shot_at_two_sizes-index-phone.png"
    assert desktop.read_bytes()[:4] == phone.read_bytes()[:4] == b"\x89PNG"
    assert page.viewport_size == {"width": 1280, "height": 800}


def test_a_request_off_this_machine_is_aborted_and_recorded(page: Page, site: Site,
                                                            browser_log: BrowserLog) -> None:
    url = site("outside.html", f"<!doctype html><html><head>{HEAD}<title>Outside</title>"
                               '<script src="https://example.com/x.js"></script></head>'
                               "<body></body></html>")
    page.goto(url)

    assert browser_log.outside_requests == ["https://example.com/x.js"]
    assert all("ERR_BLOCKED_BY_CLIENT" in text for text in browser_log.console_errors)
    browser_log.clear()


def test_csp_violations_dialogs_and_uncaught_errors_are_recorded(page: Page, site: Site,
                                                                 browser_log: BrowserLog
                                                                 ) -> None:
    site("app.js", "alert('hello'); throw new Error('boom');")
    url = site("csp.html", f"<!doctype html><html><head>{HEAD}<title>CSP</title>"
                           "<meta http-equiv=\"Content-Security-Policy\" "
                           "content=\"script-src 'self'\">"
                           "<script>document.title = 'inline ran'</script>"
                           '<script src="app.js"></script></head><body></body></html>')
    page.goto(url)

    assert page.title() == "CSP"  # the inline script was refused
    assert browser_log.dialogs == ["alert: hello"]
    assert browser_log.page_errors == ["Error: boom"]
    assert any("Content Security Policy" in text for text in browser_log.console_errors)
    browser_log.clear()
