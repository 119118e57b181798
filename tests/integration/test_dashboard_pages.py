"""The dashboard over real HTTP from an embedded `deferred.Server` on a real SQLite file: the
overview's charts and per task type statistics of the tasks just run, every range, the page
of a task type, its live parts, and clear errors for a bad range or an unknown type."""

from __future__ import annotations

import html
import http.client
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from polling import wait_until

import deferred
from deferred.records import TaskStatus
from deferred.stats import RANGES
from deferred.tasks.registry import TaskRegistry


@pytest.fixture
def registry() -> TaskRegistry:
    registry = TaskRegistry()

    @deferred.task(name="double", registry=registry,
                   json_schema={"type": "object", "properties": {"value": {"type": "integer"}},
                                "required": ["value"]})
    def double(value):
        """Doubles `value`."""
        return 2 * value

    @deferred.task(name="boom", registry=registry)
    def boom():
        raise ValueError("upstream said no")

    @deferred.task(name="idle", registry=registry)
    def idle():
        return None

    return registry


@pytest.fixture
def server(tmp_path: Path, registry: TaskRegistry) -> Iterator[deferred.Server]:
    server = deferred.Server({"db": {"url": f"sqlite+pysqlite:///{tmp_path / 'tasks.db'}"},
                              "http": {"port": 0}, "limits": {"names": {"double": 3}}},
                             registry)
    server.start()
    yield server
    server.stop(grace_s=10)


def get(server: deferred.Server, path: str) -> tuple[int, str]:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        connection.request("GET", path, headers={"Accept": "text/html"})
        response = connection.getresponse()
        return response.status, response.read().decode("utf-8")
    finally:
        connection.close()


def chart_summary(page: str, key: str) -> str:
    figure = page[page.index(f'data-chart="{key}"'):]
    return html.unescape(re.search(r'aria-label="([^"]*)"', figure).group(1))


def stats_cell(page: str, name: str, stat: str) -> str:
    row = page[page.index(f'data-type-stats="{name}"'):]
    row = row[:row.index("</tr>")]
    return html.unescape(re.search(rf'data-stat="{stat}">([^<]*)<', row).group(1)).strip()


def run_some(server: deferred.Server) -> None:
    handles = [server.submit("double", {"value": n}) for n in range(6)]
    handles += [server.submit("boom") for _ in range(2)]
    for handle in handles:
        wait_until(lambda handle=handle: handle.ready)


def test_the_overview_charts_the_tasks_just_run(server):
    run_some(server)
    status, page = get(server, "/")
    assert status == 200
    assert chart_summary(page, "finished") == (
        "Tasks finished per minute over the last 1 h: 6 succeeded, 2 failed, 0 cancelled, "
        "0 timed out")
    assert page.count('<g class="bar"') == RANGES["1h"].points
    assert "fill-succeeded" in page and "fill-failed" in page
    assert chart_summary(page, "depth").endswith("now 0 queued, 0 delayed, 0 running")
    assert chart_summary(page, "run-time").startswith("Run time over the last 1 h: p50 ")
    assert 'data-live-every="5"' in page and "/ui/parts/stats?range=1h" in page


def test_the_overview_shows_statistics_per_task_type(server):
    run_some(server)
    _, page = get(server, "/")
    assert stats_cell(page, "double", "succeeded") == "6"
    assert stats_cell(page, "double", "failed") == "0"
    assert stats_cell(page, "double", "failure-rate") == "0 %"
    assert stats_cell(page, "boom", "failed") == "2"
    assert stats_cell(page, "boom", "failure-rate") == "100 %"
    boom_row = page[page.index('data-type-stats="boom"'):]
    assert "ValueError: upstream said no" in boom_row[:boom_row.index("</tr>")]
    idle_row = page[page.index('data-type-stats="idle"'):]
    assert "none in this range" in idle_row[:idle_row.index("</tr>")]


@pytest.mark.parametrize("key", list(RANGES))
def test_every_range_draws_its_bars(server, key):
    run_some(server)
    status, page = get(server, f"/?range={key}")
    assert status == 200
    assert page.count('<g class="bar"') == RANGES[key].points
    assert f"over the last {RANGES[key].label}: 6 succeeded, 2 failed" in chart_summary(
        page, "finished")
    assert 'aria-current="true"' in page.split(f">{RANGES[key].label}</a>")[0].rsplit("<a", 1)[1]


def test_one_task_type_and_no_tasks_read_well(server):
    _, empty = get(server, "/")
    assert "No task finished in the last 1 h" in empty
    assert "Nothing was queued, delayed or running" in empty
    run_some(server)
    _, page = get(server, "/?range=15m&task_name=boom")
    assert chart_summary(page, "finished").endswith(
        "0 succeeded, 2 failed, 0 cancelled, 0 timed out")
    assert 'data-type-stats="double"' not in page


def test_a_task_type_page_shows_its_limits_schema_statistics_and_tasks(server):
    run_some(server)
    queued = server.submit("double", {"value": 1}, delay_s=3600)
    status, page = get(server, "/task-types/double")
    assert status == 200
    text = html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page)))
    assert "Doubles value ." in text and "<code>value</code>" in page
    assert "0 / 3 running" in text and "runs when submitted" in text
    assert '"required": [' in html.unescape(page)  # the whole schema, folded
    assert chart_summary(page, "finished").endswith(
        "6 succeeded, 0 failed, 0 cancelled, 0 timed out")
    assert f'data-task-id="{queued.id}"' in page
    assert "/ui/parts/task-type/double?range=1h" in page
    status, part = get(server, "/ui/parts/task-type/double?range=24h")
    assert status == 200 and part.count('<g class="bar"') == RANGES["24h"].points
    status, recent = get(server, "/ui/parts/task-type/double/recent")
    assert status == 200 and f'data-task-id="{queued.id}"' in recent
    assert queued.status is TaskStatus.QUEUED


def test_a_bad_range_or_an_unknown_type_is_a_clear_error(server):
    status, page = get(server, "/?range=2d")
    assert status == 400
    assert "error 100: range: range &#039;2d&#039; is not one of 15m, 1h, 24h, 7d" in page
    status, page = get(server, "/?task_name=nope")
    assert status == 404 and "no task type is named &#039;nope&#039;" in page
    status, page = get(server, "/task-types/nope")
    assert status == 404 and "error 104" in page
    status, page = get(server, "/ui/parts/task-type/nope")
    assert status == 404


def get_json(server: deferred.Server, path: str) -> tuple[int, Any]:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        connection.request("GET", path, headers={"Accept": "application/json"})
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


def test_the_api_gives_the_same_statistics_as_json(server):
    run_some(server)
    status, stats = get_json(server, "/api/stats")
    assert status == 200
    assert (stats["range"], stats["task_name"], stats["bar_s"]) == ("1h", None, 60)
    assert len(stats["bars"]) == 60 and stats["bars"][-1]["start"].endswith("Z")
    assert sum(bar["succeeded"] for bar in stats["bars"]) == 6
    assert sum(bar["failed"] for bar in stats["bars"]) == 2
    by_name = {item["name"]: item for item in stats["task_types"]}
    assert set(by_name) == {"double", "boom"}
    assert by_name["boom"]["failure_rate"] == 1.0
    assert by_name["boom"]["last_failure"]["error"] == "ValueError: upstream said no"
    assert by_name["double"]["last_failure"] is None
    assert by_name["double"]["run_p50_s"] is not None
    status, one = get_json(server, "/api/stats?range=7d&task_name=boom")
    assert status == 200 and one["bar_s"] == 4 * 3600 and len(one["bars"]) == 42
    assert [item["name"] for item in one["task_types"]] == ["boom"]
    status, error = get_json(server, "/api/stats?range=2d")
    assert status == 400 and error["error_code"] == 100 and error["error_where"] == "range"
    status, error = get_json(server, "/api/stats?task_name=nope")
    assert status == 404 and error["error_code"] == 101 and "double" in error["error_msg"]


@pytest.mark.parametrize("query", ["range=", "range=1h&range=7d", "range=-3"])
def test_a_range_given_empty_twice_or_wrong_is_refused(server, query):
    status, error = get_json(server, f"/api/stats?{query}")
    assert status == 400 and error["error_where"] == "range", error
    status, _ = get(server, f"/?{query}")
    assert status == 400


def test_a_task_type_given_twice_is_refused_and_one_in_utf8_is_found(server):
    status, error = get_json(server, "/api/stats?task_name=a&task_name=b")
    assert status == 400 and error["error_where"] == "task_name"
    status, error = get_json(server, "/api/stats?task_name=caf%C3%A9")
    assert status == 404 and "'café'" in error["error_msg"]
