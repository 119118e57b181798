"""Issue 17 item 6 in the web UI and the API, over real HTTP from an embedded
`deferred.Server` on a real SQLite file: `status=all` and `finished` in the API as in the UI,
delayed tasks counted apart from waiting ones, the time each list row shows, results on one
line in lists, `code` spans in descriptions, what a task without a schema takes, and the
launch page with nothing chosen."""

from __future__ import annotations

import html
import json
import re
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from polling import wait_until
from test_ui_pages import Browser, visible_text

import deferred
from deferred.tasks.registry import TaskRegistry

DELAY_S = 3600
RESULT = {"sizes": [1, 2, 3], "name": "box"}


@pytest.fixture
def registry() -> Iterator[TaskRegistry]:
    registry = TaskRegistry()
    gate = threading.Event()

    @deferred.task(name="echo", registry=registry,
                   json_schema={"type": "object", "properties": {"text": {"type": "string"}},
                                "required": ["text"]})
    def echo(text):
        """Return `text` unchanged, <b>bold</b> and all."""
        return text

    @deferred.task(name="gated", registry=registry)
    def gated():
        """Wait for the test's ``gate`` (a `threading.Event`)."""
        gate.wait(30)
        return "opened"

    @deferred.task(name="shaped", registry=registry)
    def shaped(shape="dict", count=1):
        return {"dict": RESULT, "lines": "line 1\nline 2\n", "long": ["x" * 40] * count}[shape]

    @deferred.task(name="anything", registry=registry)
    def anything(**params):
        return params

    @deferred.task(name="tagged", registry=registry)
    def tagged(tag, **extra):
        return tag

    registry.gate = gate  # type: ignore[attr-defined]
    yield registry
    gate.set()


@pytest.fixture
def server(tmp_path: Path, registry: TaskRegistry) -> Iterator[deferred.Server]:
    server = deferred.Server({"db": {"url": f"sqlite+pysqlite:///{tmp_path / 'tasks.db'}"},
                              "http": {"port": 0},
                              "limits": {"global": 4, "names": {"gated": 2}}}, registry)
    server.start()
    yield server
    registry.gate.set()
    server.stop(grace_s=10)


@pytest.fixture
def browser(server: deferred.Server) -> Browser:
    return Browser(server.port)


def api_ids(browser: Browser, query: str) -> list[int]:
    status, _, body = browser.request("GET", f"/api/tasks?{query}",
                                      headers={"Accept": "application/json"})
    assert status == 200, body
    return [task["task_id"] for task in json.loads(body)["tasks"]]


def rows(page: str) -> dict[int, str]:
    """Each row of the page's task tables, by task id: its visible text."""
    return {int(task_id): visible_text(row) for task_id, row in re.findall(
        r'<tr data-task-id="(\d+)">(.*?)</tr>', page, re.DOTALL)}


def mixed_tasks(server: deferred.Server) -> dict[str, int]:
    """One task in each state a list shows: finished, running, waiting and delayed."""
    done = server.submit("echo", {"text": "done"})
    done.wait(10)
    running = [server.submit("gated") for _ in range(2)]  # gated's limit is 2
    wait_until(lambda: all(handle.status.value == "RUNNING" for handle in running))
    waiting = server.submit("gated")
    delayed = server.submit("echo", {"text": "later"}, delay_s=DELAY_S)
    return {"finished": done.id, "running": running[0].id, "waiting": waiting.id,
            "delayed": delayed.id}


def test_the_api_takes_the_ui_s_all_and_finished_in_any_case(server, browser):
    ids = mixed_tasks(server)
    every = api_ids(browser, "status=all")
    assert set(ids.values()) <= set(every) and len(every) == 5  # and the second running one
    assert api_ids(browser, "status=ALL") == api_ids(browser, "")
    assert api_ids(browser, "status=finished") == [ids["finished"]]
    assert api_ids(browser, "status=Finished") == [ids["finished"]]
    assert api_ids(browser, "status=queued") == [ids["delayed"], ids["waiting"]]
    status, _, body = browser.request("GET", "/api/tasks?status=done")
    assert status == 400 and json.loads(body)["error_msg"] == (
        "query.status: 'done' is not a status (allowed: QUEUED, RUNNING, SUCCEEDED, FAILED, "
        "CANCELLED, TIMED_OUT, finished, all)")
    # The UI's task list reads the same words, in any case, and offers them all.
    for query in ("status=all", "status=All"):
        status, _, page = browser.get(f"/tasks?{query}")
        assert status == 200 and set(ids.values()) <= set(rows(page)), query
    assert list(rows(browser.get("/tasks?status=FINISHED")[2])) == [ids["finished"]]
    page = browser.get("/tasks")[2]
    assert re.findall(r'<option value="([^"]+)"', page)[:8] == [
        "finished", "all", "QUEUED", "RUNNING", "SUCCEEDED", "FAILED", "CANCELLED", "TIMED_OUT"]


def test_the_openapi_document_lists_the_status_words(browser):
    status, _, body = browser.get("/api/openapi.json")
    assert status == 200
    operation = json.loads(body)["paths"]["/api/tasks"]["get"]
    pattern = next(parameter for parameter in operation["parameters"]
                   if parameter["name"] == "status")["schema"]["pattern"]
    for word in ("all", "ALL", "finished", "Finished", "queued", "TIMED_OUT"):
        assert re.fullmatch(pattern, word), word
    assert not re.fullmatch(pattern, "done")


def test_the_overview_counts_delayed_tasks_apart_from_waiting_ones(server, browser):
    mixed_tasks(server)
    server.submit("echo", {"text": "later too"}, delay_s=DELAY_S)
    text = visible_text(browser.get("/")[2])
    assert "All tasks: 2 / 4 running, 1 waiting, 2 delayed" in text, text
    assert "2 / 2 running, 1 waiting (" not in text  # gated has no delayed ones: not said
    page = browser.get("/ui/parts/overview")[2]
    usage = {name: visible_text(cell).strip() for name, cell in re.findall(
        r'<td class="usage" data-usage="([^"]+)">(.*?)</td>', page, re.DOTALL)}
    assert usage["gated"] == "2 / 2 running, 1 waiting"
    assert usage["echo"] == "0 running, 0 waiting, 2 delayed (no limit of its own)"


def test_each_list_row_shows_the_time_that_fits_its_status(server, browser):
    ids = mixed_tasks(server)
    shown = rows(browser.get("/tasks?status=all")[2])
    assert re.search(r"finished (just now|\d+ ms ago|[\d.]+ s ago)",
                     shown[ids["finished"]]), shown[ids["finished"]]
    assert re.search(r"started ", shown[ids["running"]]), shown[ids["running"]]
    assert re.search(r"created ", shown[ids["waiting"]]), shown[ids["waiting"]]
    assert re.search(r"may start in (59 min|1 h)", shown[ids["delayed"]]), (
        shown[ids["delayed"]])
    assert "finished" not in shown[ids["running"]] + shown[ids["waiting"]]
    # The overview's running list says the same.
    running = rows(browser.get("/")[2])[ids["running"]]
    assert "started " in running and "finished" not in running


def test_results_in_lists_are_one_compact_line_and_whole_on_the_task_page(server, browser):
    as_dict = server.submit("shaped")
    as_lines = server.submit("shaped", {"shape": "lines"})
    long = server.submit("shaped", {"shape": "long", "count": 10})
    for handle in (as_dict, as_lines, long):
        handle.wait(10)
    for path in ("/tasks", "/"):
        page = browser.get(path)[2]
        results = {int(task_id): html.unescape(text) for task_id, text in re.findall(
            r'<tr data-task-id="(\d+)">.*?<span class="result-text">(.*?)</span>', page, re.DOTALL)}
        assert results[as_dict.id] == '{"sizes": [1, 2, 3], "name": "box"}', path
        assert results[as_lines.id] == "line 1 ↵ line 2", path
        assert len(results[long.id]) == 161 and results[long.id].endswith("…"), path
        assert "\n" not in results[long.id]
        assert f'<a href="/tasks/{long.id}">whole result</a>' in page, path
        assert f'<a href="/tasks/{as_dict.id}">whole result</a>' not in page, path
    page = browser.get(f"/tasks/{as_dict.id}")[2]
    whole = html.unescape(re.search(r'<pre class="result">(.*?)</pre>', page, re.DOTALL).group(1))
    assert whole == json.dumps(RESULT, indent=2)
    page = browser.get(f"/tasks/{long.id}")[2]
    whole = html.unescape(re.search(r'<pre class="result">(.*?)</pre>', page, re.DOTALL).group(1))
    assert json.loads(whole) == ["x" * 40] * 10 and whole.count("\n") == 11


def test_descriptions_show_their_code_spans_as_code_and_escape_the_rest(browser):
    expected = "Return <code>text</code> unchanged, &lt;b&gt;bold&lt;/b&gt; and all."
    gated = "Wait for the test&#039;s <code>gate</code> (a <code>threading.Event</code>)."
    for path in ("/", "/launch", "/launch?task=echo"):
        page = re.sub(r"\s+", " ", browser.get(path)[2])
        assert expected in page, path
        assert "`" not in visible_text(page), path
        assert "<b>" not in page, path
    for path in ("/", "/launch", "/launch?task=gated"):
        assert gated in re.sub(r"\s+", " ", browser.get(path)[2]), path


def test_a_task_without_a_schema_says_what_its_run_takes(browser):
    page = browser.get("/ui/parts/overview")[2]
    summary = {name: visible_text(cell).strip() for name, cell in re.findall(
        r'<tr data-task-type="([^"]+)">.*?<td class="schema-summary">(.*?)</td>', page, re.DOTALL)}
    assert summary["gated"] == "takes no params"
    assert summary["shaped"] == "shape any count any"
    assert summary["anything"] == "any JSON object"
    assert summary["tagged"] == "tag * any and any other params"
    assert summary["echo"] == "text * string"
    text = visible_text(browser.get("/launch?task=gated")[2])
    assert "This task takes no params." in text and "any JSON object" not in text
    text = visible_text(browser.get("/launch?task=tagged")[2])
    assert ("This field is edited as JSON: the task has no schema; its run() takes tag "
            "(required) and any other params.") in text
    text = visible_text(browser.get("/launch?task=shaped")[2])
    assert "its run() takes shape and count." in text
    text = visible_text(browser.get("/launch?task=anything")[2])
    assert "its run() takes any params." in text


def test_a_task_without_params_launches_from_its_form(server, browser):
    page = browser.get("/launch?task=gated")[2]
    assert "data-input" not in page.split('data-form-root>')[1].split("</div>")[0]
    token = re.search(r'name="csrf_token" value="([0-9a-f]+)"', page).group(1)
    status, headers, _ = browser.post_form("/launch", {
        "csrf_token": token, "task_name": "gated", "params": "", "email": ""})
    assert status == 303 and re.fullmatch(r"/tasks/\d+", headers["location"])


def test_launch_with_nothing_chosen_lists_every_task_type_with_a_link(browser):
    status, _, page = browser.get("/launch")
    assert status == 200
    choices = dict(re.findall(r'<li data-task-type="([^"]+)">(.*?)</li>', page, re.DOTALL))
    assert list(choices) == ["anything", "echo", "gated", "shaped", "tagged"]
    assert '<a class="task-name" href="/launch?task=echo">echo</a>' in choices["echo"]
    assert "Return text unchanged, <b>bold</b> and all." in visible_text(choices["echo"])
    assert "text * string" in visible_text(choices["echo"])
    assert "takes no params" in visible_text(choices["gated"])
    assert "Pick a task type to launch." in visible_text(page)
