"""The overview's Pause and Resume forms over real HTTP from an embedded `deferred.Server`:
the badge and the buttons (for admins only), the CSRF token and origin they need, the audit
page naming the type, an unknown name's error page."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from test_ui_pages import Browser, csrf_of, visible_text

import deferred
from deferred.access.identity import new_token, token_hash
from deferred.tasks.registry import TaskRegistry


@pytest.fixture
def registry() -> TaskRegistry:
    registry = TaskRegistry()

    @deferred.task(name="echo", registry=registry)
    def echo(text=""):
        """Say it back."""
        return text

    @deferred.task(name="other", registry=registry)
    def other():
        """Another type."""
        return "other"

    return registry


def start(tmp_path: Path, registry: TaskRegistry, **config: object) -> deferred.Server:
    server = deferred.Server({"db": {"url": f"sqlite+pysqlite:///{tmp_path / 'tasks.db'}"},
                              "http": {"port": 0}, **config}, registry)
    server.start()
    return server


@pytest.fixture
def server(tmp_path: Path, registry: TaskRegistry) -> Iterator[deferred.Server]:
    server = start(tmp_path, registry)
    yield server
    server.stop(grace_s=10)


def test_an_admin_pauses_and_resumes_from_the_overview(server):
    browser = Browser(server.port)
    page = browser.get("/")[2]
    assert 'aria-label="Pause echo"' in page and "badge-paused" not in page
    status, headers, _ = browser.post_form("/task-types/echo/pause",
                                           {"csrf_token": csrf_of(page)})
    assert (status, headers["location"]) == (303, "/")
    page = browser.get("/")[2]
    assert 'aria-label="Resume echo"' in page and 'aria-label="Pause other"' in page
    assert "paused since just now by local; its tasks wait" in visible_text(page)
    assert visible_text(browser.get("/ui/parts/overview")[2]).count("paused since") == 1

    record = server.submit("echo", {"text": "later"})
    assert record.status.value == "QUEUED"
    status, _, _ = browser.post_form("/task-types/echo/resume", {"csrf_token": csrf_of(page)})
    assert status == 303
    assert record.wait(10) == "later"
    audit = visible_text(browser.get("/audit")[2])
    assert "resume echo (the type)" in audit.replace("  ", " ")
    assert "pause echo (the type)" in audit.replace("  ", " ")


def test_the_forms_need_their_csrf_token_and_this_origin(server):
    browser = Browser(server.port)
    token = csrf_of(browser.get("/")[2])
    status, _, page = browser.post_form("/task-types/echo/pause", {})
    assert status == 403 and "109" in page
    status, _, page = browser.post_form("/task-types/echo/pause", {"csrf_token": token},
                                        Origin="https://evil.example")
    assert status == 403 and "109" in page
    assert "badge-paused" not in browser.get("/")[2]
    status, _, page = browser.post_form("/task-types/nope/pause", {"csrf_token": token})
    assert status == 404 and "unknown task" in visible_text(page)


def test_only_admins_see_and_may_use_the_buttons(tmp_path, registry):
    admin, submitter = new_token(), new_token()
    server = start(tmp_path, registry, auth={"tokens": [
        {"name": "ops", "role": "admin", "hash": token_hash(admin)},
        {"name": "ci", "role": "submit", "hash": token_hash(submitter)}]})
    try:
        browser = Browser(server.port)
        page = browser.request("GET", "/", headers={"Authorization": f"Bearer {submitter}"})[2]
        assert "Launch" in page and 'aria-label="Pause echo"' not in page
        status, _, _ = browser.request(
            "POST", "/task-types/echo/pause", f"csrf_token={csrf_of(page)}".encode(),
            {"Authorization": f"Bearer {submitter}", "Accept": "text/html",
             "Content-Type": "application/x-www-form-urlencoded"})
        assert status == 403
        page = browser.request("GET", "/", headers={"Authorization": f"Bearer {admin}"})[2]
        assert 'aria-label="Pause echo"' in page
    finally:
        server.stop(grace_s=10)
