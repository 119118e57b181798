"""The web UI's pages over real HTTP from an embedded `deferred.Server` on a real SQLite file:
what each page shows, escaping, the security headers, the launch form without JavaScript
(CSRF token, errors beside their field), cross-origin posts, filters and paging."""

from __future__ import annotations

import html
import http.client
import json
import re
import threading
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest
from polling import wait_until

import deferred
from deferred.tasks.registry import TaskRegistry

HOSTILE = "<img src=x onerror=alert(1)>"


@pytest.fixture
def registry() -> TaskRegistry:
    registry = TaskRegistry()
    gate = threading.Event()

    @deferred.task(name="echo", registry=registry,
                   json_schema={"type": "object", "properties": {
                       "text": {"type": "string", "title": "Text to echo"},
                       "count": {"type": "integer", "minimum": 1}},
                       "required": ["text"]})
    def echo(text, count=1):
        """Say it back."""
        return text * count

    @deferred.task(name="report", registry=registry)
    def report():
        """Write a report file."""
        return deferred.Result(msg="report ready",
                               files=[{"name": "report.txt", "data": b"line 1\n"}])

    @deferred.task(name="gated", registry=registry)
    def gated():
        gate.wait(30)
        return "opened"

    @deferred.task(name="boom", registry=registry)
    def boom():
        raise ValueError(HOSTILE)

    registry.gate = gate  # type: ignore[attr-defined]
    return registry


@pytest.fixture
def server(tmp_path: Path, registry: TaskRegistry) -> Iterator[deferred.Server]:
    server = deferred.Server({"db": {"url": f"sqlite+pysqlite:///{tmp_path / 'tasks.db'}"},
                              "http": {"port": 0},
                              "limits": {"global": 4, "names": {"gated": 2}}}, registry)
    server.start()
    yield server
    registry.gate.set()
    server.stop(grace_s=10)


class Browser:
    """A tiny HTTP client that keeps cookies, like a browser would for one site."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, body: bytes | None = None,
                headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], str]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            all_headers = dict(headers or {})
            if self.cookies:
                all_headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
            connection.request(method, path, body=body, headers=all_headers)
            response = connection.getresponse()
            text = response.read().decode("utf-8")
            for name, value in response.getheaders():
                if name.lower() == "set-cookie":
                    key, _, rest = value.partition("=")
                    self.cookies[key] = rest.split(";")[0]
            return response.status, {k.lower(): v for k, v in response.getheaders()}, text
        finally:
            connection.close()

    def get(self, path: str) -> tuple[int, dict[str, str], str]:
        return self.request("GET", path)

    def post_form(self, path: str, fields: dict[str, str], **headers: str
                  ) -> tuple[int, dict[str, str], str]:
        return self.request("POST", path, urllib.parse.urlencode(fields).encode(), {
            "Content-Type": "application/x-www-form-urlencoded", **headers})


@pytest.fixture
def browser(server: deferred.Server) -> Browser:
    return Browser(server.port)


def visible_text(page: str) -> str:
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page)))


def csrf_of(page: str) -> str:
    return re.search(r'name="csrf_token" value="([0-9a-f]+)"', page).group(1)


def test_the_overview_shows_task_types_limits_and_usage(server, browser, registry):
    server.submit("gated")
    server.submit("gated")
    server.submit("gated")
    wait_until(lambda: "2 / 2 running, 1 waiting" in visible_text(browser.get("/")[2]))
    status, headers, page = browser.get("/")
    text = visible_text(page)
    assert status == 200 and headers["content-type"] == "text/html; charset=utf-8"
    assert "echo Say it back." in text, text
    assert "text * string" in text and "count integer ≥ 1" in text
    assert "All tasks: 2 / 4 running, 1 waiting" in text
    assert "0 running, 0 waiting (no limit of its own)" in text
    assert "Running 2" in text


def test_every_page_carries_a_strict_policy_and_no_inline_script(server, browser):
    record = server.submit("echo", {"text": "hi"})
    record.wait(10)
    for path in ("/", "/tasks", f"/tasks/{record.id}", "/launch", "/launch?task=echo",
                 "/ui/parts/overview", "/tasks/999999", "/api/tasks"):
        status, headers, page = browser.get(path)
        policy = headers["content-security-policy"]
        assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy, path
        assert "unsafe-inline" not in policy
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["x-frame-options"] == "DENY"
        assert not re.search(r"<script(?![^>]*\bsrc=)", page), path
        assert not re.search(r"\son[a-z]+\s*=", page), path
        assert not re.search(r"\sstyle\s*=", page), path


def test_params_results_and_errors_are_escaped_everywhere(server, browser):
    echoed = server.submit("echo", {"text": HOSTILE})
    echoed.wait(10)
    failed = server.submit("boom")
    wait_until(lambda: failed.ready)
    for path in ("/", "/tasks", f"/tasks/{echoed.id}", f"/tasks/{failed.id}",
                 f"/tasks?q={urllib.parse.quote('onerror')}"):
        page = browser.get(path)[2]
        assert HOSTILE not in page, path
        assert "&lt;img src=x onerror=alert(1)&gt;" in page, path


def test_a_task_page_shows_everything_its_record_holds(server, browser):
    handle = server.submit("report", email=None)
    handle.wait(10)
    status, _, page = browser.get(f"/tasks/{handle.id}")
    text = visible_text(page)
    assert status == 200
    assert f"#{handle.id} report SUCCEEDED" in text
    for label in ("Created", "Started", "Finished", "Took", "Attempts 1", "Params {}",
                  "Result report ready", "report.txt text/plain, 7 bytes"):
        assert label in text
    token = handle.record.files[0].token
    assert f'href="/results/{token}" download' in page
    assert browser.get(f"/results/{token}")[2] == "line 1\n"


def test_a_running_task_page_polls_and_a_finished_one_does_not(server, browser, registry):
    handle = server.submit("gated")
    page = browser.get(f"/tasks/{handle.id}")[2]
    assert f'data-live-src="/ui/parts/task/{handle.id}"' in page
    assert "data-live-final" not in browser.get(f"/ui/parts/task/{handle.id}")[2]
    registry.gate.set()
    handle.wait(10)
    part = browser.get(f"/ui/parts/task/{handle.id}")[2]
    assert "data-live-final" in part and "SUCCEEDED" in part
    assert "data-live-src" not in browser.get(f"/tasks/{handle.id}")[2]


def test_a_long_result_is_cut_with_a_link_to_the_whole(server, browser):
    handle = server.submit("echo", {"text": "x", "count": 100_000})
    handle.wait(10)
    page = browser.get("/tasks")[2]
    assert f'<a href="/tasks/{handle.id}">whole result</a>' in page
    assert "x" * 100_000 not in page
    page = browser.get(f"/tasks/{handle.id}")[2]
    assert f'href="/tasks/{handle.id}/result"' in page and "x" * 100_000 not in page
    status, headers, whole = browser.get(f"/tasks/{handle.id}/result")
    assert (status, whole) == (200, "x" * 100_000)
    assert headers["content-type"] == "text/plain; charset=utf-8"


def test_the_task_list_filters_by_status_type_and_text_and_pages(server, browser):
    handles = [server.submit("echo", {"text": f"word{i}"}) for i in range(60)]
    failed = server.submit("boom")
    for handle in handles:
        handle.wait(10)
    wait_until(lambda: failed.ready)

    def ids(path: str) -> list[int]:
        status, _, page = browser.get(path)
        assert status == 200, page
        return [int(i) for i in re.findall(r'<tr data-task-id="(\d+)"', page)]

    assert ids("/tasks")[:2] == [failed.id, handles[-1].id] and len(ids("/tasks")) == 50
    assert ids("/tasks?status=FAILED") == [failed.id]
    assert ids("/tasks?task_name=boom") == [failed.id]
    assert ids("/tasks?q=WORD59") == [handles[59].id]
    page = browser.get("/tasks")[2]
    older = html.unescape(re.search(r'href="(/tasks\?cursor=\d+)" rel="next"', page).group(1))
    assert ids(older) == [handle.id for handle in handles[:11]][::-1]
    assert "← Newest" in browser.get(older)[2]
    assert "No tasks match these filters" in browser.get("/tasks?q=nothing-like-this")[2]
    status, _, page = browser.get("/tasks?status=sideways")
    assert status == 400 and "error 100: query.status: 'sideways' is not a status" in (
        visible_text(page))


def test_the_launch_form_without_javascript_runs_a_task(server, browser):
    status, headers, page = browser.get("/launch?task=echo")
    assert status == 200 and "deferred_csrf" in browser.cookies
    cookie = headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    status, headers, _ = browser.post_form("/launch", {
        "csrf_token": csrf_of(page), "task_name": "echo", "params": '{"text": "hi"}',
        "email": ""})
    assert status == 303
    task_path = headers["location"]
    assert re.fullmatch(r"/tasks/\d+", task_path)
    wait_until(lambda: "SUCCEEDED" in browser.get(task_path)[2])


def test_a_launch_mistake_comes_back_beside_its_field_with_the_typed_text(server, browser):
    page = browser.get("/launch?task=echo")[2]
    token = csrf_of(page)
    status, _, page = browser.post_form("/launch", {
        "csrf_token": token, "task_name": "echo", "params": '{"text": 5}', "email": ""})
    assert status == 422
    error = re.search(r'<p class="field-error" id="params-error"[^>]*>([^<]*)</p>', page)
    assert html.unescape(error.group(1)) == "$.text: 5 is not of type 'string'"
    assert "{&quot;text&quot;: 5}" in page  # what was typed is kept
    status, _, page = browser.post_form("/launch", {
        "csrf_token": token, "task_name": "echo", "params": '{"text": "a"}',
        "email": "not an address"})
    assert status == 422
    assert re.search(r'id="email-error" role="alert" >[^<]*not', page)
    status, _, page = browser.post_form("/launch", {
        "csrf_token": token, "task_name": "echo", "params": '{"text": ', "email": ""})
    assert status == 400 and "params: " in visible_text(page)


def test_a_launch_without_its_token_or_from_another_site_is_refused(server, browser):
    browser.get("/launch?task=echo")
    fields = {"task_name": "echo", "params": '{"text": "x"}', "email": ""}
    status, _, page = browser.post_form("/launch", {**fields, "csrf_token": "0" * 64})
    assert status == 403 and "error 109" in page
    token = browser.cookies["deferred_csrf"]
    status, _, _ = browser.post_form("/launch", {**fields, "csrf_token": token},
                                     Origin="http://evil.example")
    assert status == 403
    assert server.submit("echo", {"text": "y"}).id == 1  # nothing else was stored


def test_the_api_refuses_cross_origin_browser_posts_of_any_content_type(server, browser):
    body = json.dumps({"task_name": "echo", "params": {"text": "x"}}).encode()
    for content_type in ("text/plain", "application/x-www-form-urlencoded",
                         "application/json"):
        status, _, answer = browser.request("POST", "/api/tasks", body, {
            "Content-Type": content_type, "Origin": "http://evil.example"})
        assert status == 403 and json.loads(answer)["error_code"] == 109
    status, _, answer = browser.request("POST", "/api/tasks", body, {
        "Content-Type": "application/json", "Origin": f"http://127.0.0.1:{server.port}"})
    assert status == 200 and json.loads(answer)["result"] == "x"


def test_static_files_are_served_and_nothing_else(server, browser):
    status, headers, css = browser.get("/static/app.css")
    assert status == 200 and headers["content-type"].startswith("text/css") and ":root" in css
    assert browser.get("/static/live.js")[0] == 200
    for path in ("/static/..%2Fui.py", "/static/nope.js", "/static/../ui.py"):
        assert browser.get(path)[0] == 404


def test_a_missing_task_page_says_so_with_its_code(server, browser):
    status, headers, page = browser.get("/tasks/424242")
    assert status == 404 and headers["content-type"].startswith("text/html")
    assert "error 104: task_id: no task with id 424242" in visible_text(page)
    assert "Traceback" not in page


def test_an_unknown_page_is_an_html_404_for_browsers_and_json_for_others(server, browser):
    status, headers, page = browser.request("GET", "/nowhere", headers={
        "Accept": "text/html,application/xhtml+xml"})
    assert status == 404 and headers["content-type"].startswith("text/html")
    assert "error 104: path: no page at /nowhere" in visible_text(page)
    for path, accept in (("/nowhere", "*/*"), ("/api/nowhere", "text/html")):
        status, headers, answer = browser.request("GET", path, headers={"Accept": accept})
        assert status == 404 and json.loads(answer)["error_code"] == 104


def test_the_cancel_button_cancels_a_queued_task_and_asks_a_running_one(server, browser,
                                                                        registry):
    running = [server.submit("gated") for _ in range(2)]  # the limit of gated is 2
    wait_until(lambda: all(handle.status.value == "RUNNING" for handle in running))
    queued = server.submit("gated")
    page = browser.get(f"/tasks/{queued.id}")[2]
    assert ">Cancel</button>" in page
    status, headers, _ = browser.post_form(f"/tasks/{queued.id}/cancel",
                                           {"csrf_token": csrf_of(page)})
    assert status == 303 and headers["location"] == f"/tasks/{queued.id}"
    assert queued.status.value == "CANCELLED"
    assert "CANCELLED" in browser.get(f"/tasks/{queued.id}")[2]
    page = browser.get(f"/tasks/{running[0].id}")[2]
    assert ">Ask to stop</button>" in page
    browser.post_form(f"/tasks/{running[0].id}/cancel", {"csrf_token": csrf_of(page)})
    assert "asked to stop" in browser.get(f"/tasks/{running[0].id}")[2]
    status, _, page = browser.post_form(f"/tasks/{running[1].id}/cancel",
                                        {"csrf_token": "0" * 64})
    assert status == 403 and not running[1].record.cancel_requested
    registry.gate.set()
    # The gated task ignores the request and returns: it finished its work anyway.
    wait_until(lambda: running[0].status.value == "SUCCEEDED")
    assert running[0].record.cancel_requested
    assert "asked to stop, finished anyway" in browser.get(f"/tasks/{running[0].id}")[2]
    assert "finished anyway" not in browser.get(f"/tasks/{running[1].id}")[2]


def test_a_failed_task_runs_again_from_its_page_and_lists_its_attempts(server, browser):
    handle = server.submit("boom")
    wait_until(lambda: handle.ready)
    page = browser.get(f"/tasks/{handle.id}")[2]
    assert ">Run again</button>" in page
    status, _, _ = browser.post_form(f"/tasks/{handle.id}/retry", {"csrf_token": csrf_of(page)})
    assert status == 303
    wait_until(lambda: handle.record.attempts == 2 and handle.ready)
    text = visible_text(browser.get(f"/tasks/{handle.id}")[2])
    assert "Attempts # Ended When Error 1 failed" in text and "2 failed" in text


def test_the_launch_form_can_delay_and_prioritise_a_task(server, browser):
    page = browser.get("/launch?task=echo")[2]
    status, headers, _ = browser.post_form("/launch", {
        "csrf_token": csrf_of(page), "task_name": "echo", "params": '{"text": "later"}',
        "email": "", "delay_s": "3600", "priority": "2"})
    assert status == 303
    record = server.cancel(int(headers["location"].rsplit("/", 1)[1])).record
    assert record.priority == 2 and record.run_at is not None
    assert record.status.value == "CANCELLED"  # it was still waiting for its time
    status, _, page = browser.post_form("/launch", {
        "csrf_token": csrf_of(page), "task_name": "echo", "params": '{"text": "x"}',
        "email": "", "delay_s": "", "priority": "5000"})
    assert status == 400
    error = re.search(r'id="priority-error" role="alert" >([^<]*)<', page)
    assert html.unescape(error.group(1)) == "priority: must be from -1000 to 1000, got 5000"
    assert 'value="5000"' in page
