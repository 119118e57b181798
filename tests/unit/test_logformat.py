"""The JSON log format (one object per line, extra fields, exceptions as one string) and the
start and end lines of a task's run, in both formats."""

from __future__ import annotations

import datetime
import io
import json
import logging
from collections.abc import Iterator

import pytest

from deferred.cli.logformat import TEXT_FORMAT, JsonFormatter, make_formatter
from deferred.records import Outcome, TaskError, TaskStatus
from deferred.runtime.runner import log_finished, log_started


@pytest.fixture
def capture() -> Iterator[tuple[logging.Logger, io.StringIO, io.StringIO]]:
    """A logger writing to two streams, one per format, as `runserver` would to stderr."""
    json_out, text_out = io.StringIO(), io.StringIO()
    handlers = []
    for stream, log_format in ((json_out, "json"), (text_out, "text")):
        handler = logging.StreamHandler(stream)
        handler.setFormatter(make_formatter(log_format))
        handlers.append(handler)
    logger = logging.getLogger("deferred.runtime.runner")  # the logger of the task lines
    saved = logger.level, logger.propagate
    logger.setLevel(logging.INFO)
    logger.propagate = False
    for handler in handlers:
        logger.addHandler(handler)
    yield logger, json_out, text_out
    for handler in handlers:
        logger.removeHandler(handler)
    logger.setLevel(saved[0])
    logger.propagate = saved[1]


def objects(stream: io.StringIO) -> list[dict[str, object]]:
    lines = stream.getvalue().splitlines()
    return [json.loads(line) for line in lines]


def test_a_record_is_one_object_with_time_level_logger_and_message(capture):
    logger, json_out, _ = capture
    logger.warning("disk at %d%%", 93)
    [entry] = objects(json_out)
    assert {key: entry[key] for key in ("level", "logger", "message", "thread")} == {
        "level": "WARNING", "logger": "deferred.runtime.runner", "message": "disk at 93%",
        "thread": "MainThread"}
    moment = datetime.datetime.fromisoformat(str(entry["ts"]).replace("Z", "+00:00"))
    assert str(entry["ts"]).endswith("Z") and moment.utcoffset() == datetime.timedelta(0)
    assert abs(moment - datetime.datetime.now(datetime.timezone.utc)) < datetime.timedelta(
        minutes=1)
    assert "exception" not in entry and "task_id" not in entry


def test_extra_fields_become_fields_and_odd_values_their_text(capture):
    logger, json_out, _ = capture
    logger.info("x", extra={"task_id": 7, "duration_s": 0.25, "day": datetime.date(2030, 1, 2)})
    [entry] = objects(json_out)
    assert (entry["task_id"], entry["duration_s"], entry["day"]) == (7, 0.25, "2030-01-02")


def test_an_exception_is_one_string_field_on_the_same_line(capture):
    logger, json_out, text_out = capture
    try:
        raise ValueError("bad\nvalue")
    except ValueError:
        logger.exception("it broke")
    assert len(json_out.getvalue().splitlines()) == 1
    [entry] = objects(json_out)
    assert entry["message"] == "it broke"
    exception = str(entry["exception"])
    assert exception.startswith("Traceback (most recent call last):\n")
    assert exception.endswith("ValueError: bad\nvalue")
    assert "Traceback" in text_out.getvalue()  # the text handler still prints its traceback


def test_unicode_is_kept_readable_and_line_breaks_stay_escaped(capture):
    logger, json_out, _ = capture
    logger.info("héllo %s", "日本\u2028next\u2029para\x85nel\nline\r\x0b\x0c\x1c",
                extra={"task_name": "résumé"})
    text = json_out.getvalue()
    assert text.count("\n") == 1 and len(text.splitlines()) == 1  # splitlines: every kind
    [entry] = objects(json_out)
    assert entry["message"] == "héllo 日本\u2028next\u2029para\x85nel\nline\r\x0b\x0c\x1c"
    assert entry["task_name"] == "résumé"
    assert "日本" in text and "résumé" in text  # not \\u-escaped


def test_a_lone_surrogate_does_not_break_the_line(capture):
    logger, json_out, _ = capture
    logger.info("bad %s", "\udcff")
    [entry] = objects(json_out)
    assert entry["message"] == "bad \udcff"


def test_stack_info_is_a_field_too():
    record = logging.LogRecord("deferred", logging.INFO, __file__, 1, "here", None, None,
                               sinfo="Stack (most recent call last):\n  File x")
    entry = json.loads(JsonFormatter().format(record))
    assert entry["stack"] == "Stack (most recent call last):\n  File x"


def test_the_text_format_names_time_level_thread_and_logger():
    assert isinstance(make_formatter("json"), JsonFormatter)
    record = logging.LogRecord("deferred.runtime.runner", logging.INFO, __file__, 1, "task %s", (3,),
                               None)
    line = make_formatter("text").format(record)
    assert line.endswith(" INFO [MainThread] deferred.runtime.runner: task 3")
    assert make_formatter("text")._fmt == TEXT_FORMAT  # type: ignore[attr-defined]


def outcome(status: TaskStatus, **fields: object) -> Outcome:
    return Outcome(12, 2, status, **fields)  # type: ignore[arg-type]


def test_a_run_logs_a_start_line_and_an_end_line_with_its_fields(capture):
    _, json_out, text_out = capture
    log_started(12, "mult", 2)
    log_finished("mult", outcome(TaskStatus.SUCCEEDED), 0.0031)
    assert text_out.getvalue().splitlines()[0].endswith(
        "deferred.runtime.runner: task 12 (mult) attempt 2 started")
    assert text_out.getvalue().splitlines()[1].endswith(
        "deferred.runtime.runner: task 12 (mult) attempt 2 SUCCEEDED in 0.003s")
    start, end = objects(json_out)
    assert start["level"] == end["level"] == "INFO"
    assert {key: start.get(key) for key in ("task_id", "task_name", "attempt", "status")} == {
        "task_id": 12, "task_name": "mult", "attempt": 2, "status": None}
    assert {key: end[key] for key in ("task_id", "task_name", "attempt", "duration_s",
                                      "status")} == {
        "task_id": 12, "task_name": "mult", "attempt": 2, "duration_s": 0.0031,
        "status": "SUCCEEDED"}


def test_a_failure_says_why_and_a_retried_one_when_it_runs_again(capture):
    _, json_out, text_out = capture
    error = TaskError("OSError", "no route to host")
    retry_at = datetime.datetime(2030, 5, 1, 12, 0, 2, 500000, tzinfo=datetime.timezone.utc)
    log_finished("fetch", outcome(TaskStatus.FAILED, error=error), 1.5)
    log_finished("fetch", outcome(TaskStatus.QUEUED, error=error, retry_at=retry_at), 1.5)
    failed, retried = text_out.getvalue().splitlines()
    assert failed.endswith("task 12 (fetch) attempt 2 FAILED in 1.500s: OSError: no route to "
                           "host")
    assert retried.endswith("task 12 (fetch) attempt 2 FAILED in 1.500s: OSError: no route to "
                            "host; will retry at 2030-05-01T12:00:02.500Z")
    first, second = objects(json_out)
    assert first["status"] == second["status"] == "FAILED"
    assert first["error"] == "OSError: no route to host" and "retry_at" not in first
    assert second["retry_at"] == "2030-05-01T12:00:02.500Z"


def test_a_time_out_is_a_warning_and_a_cancel_an_info(capture):
    _, json_out, text_out = capture
    log_finished("slow", outcome(TaskStatus.TIMED_OUT, error=TaskError("TimeoutError", "late")),
                 2.0, "asked to stop")
    log_finished("slow", outcome(TaskStatus.CANCELLED), 0.5)
    timed_out, cancelled = objects(json_out)
    assert (timed_out["level"], timed_out["status"]) == ("WARNING", "TIMED_OUT")
    assert str(timed_out["message"]).endswith("TIMED_OUT in 2.000s: TimeoutError: late; "
                                              "asked to stop")
    assert (cancelled["level"], cancelled["status"]) == ("INFO", "CANCELLED")
    assert text_out.getvalue().splitlines()[1].endswith("attempt 2 CANCELLED in 0.500s")


def test_nothing_is_built_when_info_is_off(capture, monkeypatch):
    logger, json_out, _ = capture
    logger.setLevel(logging.WARNING)
    monkeypatch.setattr(logging.Logger, "_log", lambda *args, **kwargs: pytest.fail("logged"))
    log_started(1, "mult", 1)
    log_finished("mult", outcome(TaskStatus.SUCCEEDED), 0.1)
    assert json_out.getvalue() == ""


def test_json_output_written_to_a_narrow_stream_stays_one_line():
    stream = io.TextIOWrapper(io.BytesIO(), encoding="ascii", errors="backslashreplace")
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.emit(logging.LogRecord("x", logging.INFO, __file__, 1, "日本 %s", ("\udcff",), None))
    stream.flush()
    written = stream.buffer.getvalue().decode("ascii")  # type: ignore[attr-defined]
    assert written.count("\n") == 1 and written.startswith("{")
