"""The UI's pure parts: times and durations as people read them, usage against limits, schemas
in short, and the same-origin and CSRF checks."""

from __future__ import annotations

import datetime

import pytest

from deferred.errors import CrossOriginError, ErrorCode
from deferred.http import security
from deferred.http.ui import pages
from deferred.interfaces import TaskType
from deferred.records import QueueDepth, TaskStatus

NOW = datetime.datetime(2024, 5, 1, 12, 0, 0, tzinfo=datetime.timezone.utc)


@pytest.mark.parametrize("seconds, text", [
    (0.85, "850 ms"), (4.25, "4.2 s"), (42, "42 s"), (200, "3 min 20 s"), (3600, "1 h"),
    (7500, "2 h 5 min"), (3 * 86400 + 4 * 3600, "3 d 4 h"), (60, "1 min")])
def test_durations_read_as_people_say_them(seconds, text):
    assert pages.duration_text(seconds) == text


def test_relative_times_say_ago_or_in_and_just_now():
    assert pages.relative_time(NOW - datetime.timedelta(seconds=12), NOW) == "12 s ago"
    assert pages.relative_time(NOW + datetime.timedelta(minutes=5), NOW) == "in 5 min"
    assert pages.relative_time(NOW, NOW) == "just now"
    assert pages.relative_time(None, NOW) == ""


def test_exact_times_are_utc_whatever_the_zone():
    moment = datetime.datetime(2024, 5, 1, 14, 0, 3, tzinfo=datetime.timezone(
        datetime.timedelta(hours=2)))
    assert pages.exact_time(moment) == "2024-05-01 12:00:03 UTC"


def test_usage_reads_running_over_limit_waiting_and_delayed():
    depths = {"a": QueueDepth(queued=7, delayed=3, running=2), "b": QueueDepth(running=1)}
    types = [TaskType("a", "", None, 4), TaskType("b", "", None, None),
             TaskType("c", "", None, 1)]
    usage = pages.usage_by_name(depths, types)
    assert usage["a"].text == "2 / 4 running, 7 waiting, 3 delayed"
    assert usage["a"].percent == 50
    assert usage["b"].text == "1 running, 0 waiting"  # no delayed ones: not said
    assert usage["c"].text == "0 / 1 running, 0 waiting"
    assert pages.total_usage(depths, 8).text == "3 / 8 running, 7 waiting, 3 delayed"


def test_a_schema_in_short_names_types_bounds_and_required():
    schema = {"type": "object", "required": ["msg"], "properties": {
        "msg": {"type": "string"}, "count": {"type": "integer", "minimum": 1},
        "mode": {"enum": ["fast", "slow"]}, "operands": {"type": "array",
                                                          "items": {"type": "number"}},
        "when": {"type": "string", "format": "date"}, "anything": {}}}
    assert [(p.name, p.type_text, p.required) for p in pages.schema_summary(schema)] == [
        ("msg", "string", True), ("count", "integer ≥ 1", False),
        ("mode", 'one of "fast", "slow"', False), ("operands", "array of number", False),
        ("when", "string (date)", False), ("anything", "any", False)]
    assert pages.schema_summary(None) == []


def test_long_results_are_cut_and_say_so():
    assert pages.cut("abc", 3) == ("abc", False)
    assert pages.cut("abcdef", 3) == ("abc…", True)
    assert pages.result_text({"a": [1]}) == '{\n  "a": [\n    1\n  ]\n}'
    assert pages.result_text("as is") == "as is"


def test_status_badges_have_a_class_per_status():
    assert pages.status_class(TaskStatus.SUCCEEDED) == "badge badge-succeeded"


def environ(**headers: str) -> dict[str, str]:
    return {"wsgi.url_scheme": "http", "HTTP_HOST": "127.0.0.1:5000",
            **{f"HTTP_{name.upper()}": value for name, value in headers.items()}}


def test_posts_without_origin_or_from_the_same_origin_pass():
    security.check_same_origin(environ(), None)  # curl, scripts
    security.check_same_origin(environ(origin="http://127.0.0.1:5000"), None)
    security.check_same_origin(environ(origin="https://jobs.example.com"),
                               "https://jobs.example.com/base")


@pytest.mark.parametrize("headers", [
    {"origin": "http://evil.example"}, {"origin": "null"},
    {"origin": "http://127.0.0.1:5001"}, {"sec_fetch_site": "cross-site"},
    {"sec_fetch_site": "same-site"}])
def test_posts_from_another_site_are_refused_with_their_code(headers):
    with pytest.raises(CrossOriginError) as info:
        security.check_same_origin(environ(**headers), None)
    assert info.value.code is ErrorCode.CROSS_ORIGIN and info.value.http_status == 403


def test_the_csrf_token_must_match_its_cookie():
    token, is_new = security.csrf_token({})
    assert is_new and len(token) == 64
    assert security.csrf_token({security.CSRF_COOKIE: token}) == (token, False)
    assert security.csrf_token({security.CSRF_COOKIE: "<script>"})[1] is True
    security.check_csrf({security.CSRF_COOKIE: token}, token)
    right, wrong = "a" * 64, "b" * 64
    for cookies, submitted in (({}, right), ({security.CSRF_COOKIE: right}, ""),
                               ({security.CSRF_COOKIE: right}, wrong)):
        with pytest.raises(CrossOriginError, match="security token"):
            security.check_csrf(cookies, submitted)
