"""The UI's pure parts for list rows and task type descriptions: the time a row shows, results
on one line, `code` spans, and what a task without a schema takes."""

from __future__ import annotations

import datetime

import pytest

from deferred.http.ui import describe, listing
from deferred.interfaces import RunParams
from deferred.records import TaskRecord, TaskStatus

NOW = datetime.datetime(2024, 5, 1, 12, 0, 0, tzinfo=datetime.UTC)
CREATED, STARTED, FINISHED = (NOW - datetime.timedelta(minutes=minutes) for minutes in (9, 8, 7))


def record(status: TaskStatus, **times: datetime.datetime | None) -> TaskRecord:
    return TaskRecord(id=1, name="t", params={}, status=status, created_at=CREATED, **times)


@pytest.mark.parametrize("status, times, label, moment", [
    (TaskStatus.SUCCEEDED, {"started_at": STARTED, "finished_at": FINISHED}, "finished", FINISHED),
    (TaskStatus.CANCELLED, {"finished_at": FINISHED}, "finished", FINISHED),
    (TaskStatus.RUNNING, {"started_at": STARTED}, "started", STARTED),
    (TaskStatus.QUEUED, {}, "created", CREATED),
    (TaskStatus.QUEUED, {"run_at": NOW + datetime.timedelta(hours=1)}, "may start",
     NOW + datetime.timedelta(hours=1)),
    (TaskStatus.QUEUED, {"run_at": NOW - datetime.timedelta(seconds=1)}, "created", CREATED),
])
def test_a_row_shows_the_time_that_fits_its_status(status, times, label, moment):
    assert listing.row_time(record(status, **times), NOW) == listing.RowTime(label, moment)


def test_a_result_in_a_list_is_one_compact_line_cut_at_the_limit():
    assert listing.list_result({"a": [1, 2], "b": None}) == ('{"a": [1, 2], "b": null}', False)
    assert listing.list_result("one\r\n  two\n\nthree\n") == ("one ↵ two ↵ three", False)
    text, was_cut = listing.list_result(["y" * 100] * 3)
    assert was_cut and len(text) == 161 and text.endswith("…") and "\n" not in text
    assert listing.list_result(None) == ("", False)
    assert listing.list_error("first\nsecond") == "first ↵ second"


@pytest.mark.parametrize("text, parts", [
    ("plain", [("plain", False)]),
    ("run `mult` now", [("run ", False), ("mult", True), (" now", False)]),
    ("``a`b`` and `c`", [("a`b", True), (" and ", False), ("c", True)]),
    ("`` `x` ``", [("`x`", True)]),
    ("a `code\nspan` b", [("a ", False), ("code span", True), (" b", False)]),
    ("an `unclosed one", [("an `unclosed one", False)]),
    ("``not closed` by one", [("``not closed` by one", False)]),
    ("`<b>`", [("<b>", True)]),  # the template escapes it
    ("", []),
])
def test_a_description_is_split_into_text_and_code_spans(text, parts):
    assert [(part.text, part.is_code) for part in describe.text_parts(text)] == parts


@pytest.mark.parametrize("run_params, short, sentence", [
    (RunParams((), frozenset(), False), ([], "takes no params"), "takes no params"),
    (RunParams(), ([], "any JSON object"), "takes any params"),
    (RunParams(("msg", "count"), frozenset({"msg"}), False),
     ([("msg", True), ("count", False)], ""), "takes msg (required) and count"),
    (RunParams(("tag",), frozenset({"tag"}), True),
     ([("tag", True)], "and any other params"), "takes tag (required) and any other params"),
    (RunParams(("a", "b", "c"), frozenset(), False),
     ([("a", False), ("b", False), ("c", False)], ""), "takes a, b and c"),
])
def test_a_task_without_a_schema_says_what_its_run_takes(run_params, short, sentence):
    in_short = describe.run_params_in_short(run_params)
    assert ([(param.name, param.required) for param in in_short.params], in_short.note) == short
    assert all(param.type_text == "any" for param in in_short.params)
    assert describe.run_params_text(run_params) == sentence
