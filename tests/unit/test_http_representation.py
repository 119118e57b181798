"""How the API shows records, files and errors, and how it reads list queries: pure functions."""

import datetime
import json
import types
import urllib.parse

import pytest

from deferred.errors import BadRequestError
from deferred.links import request_base_url
from deferred.http.listquery import (DEFAULT_LIMIT, MAX_LIMIT, ListQuery, next_cursor,
                                     parse_cursor, parse_list_query)
from deferred.http.representation import (accepted_answer, content_disposition, json_bytes,
                                          record_json, submit_answer, task_types_json,
                                          timestamp_json)
from deferred.interfaces import TaskType
from deferred.records import (EmailDelivery, EmailStatus, StoredFile, TaskError, TaskRecord,
                              TaskStatus)

BASE = "http://example.com:8080"
UTC = datetime.timezone.utc
STATS_FILE = StoredFile(token="tok_123", name="statistics.tsv",
                        content_type="text/tab-separated-values", size_bytes=42)


def make_record(**overrides) -> TaskRecord:
    values = dict(id=7, name="multiprint", params={"msg": "hello", "count": 2},
                  status=TaskStatus.SUCCEEDED, attempts=1, result="hello\nhello",
                  created_at=datetime.datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC),
                  started_at=datetime.datetime(2024, 5, 1, 12, 0, 1, 250000, tzinfo=UTC),
                  finished_at=datetime.datetime(2024, 5, 1, 12, 0, 2, tzinfo=UTC))
    values.update(overrides)
    return TaskRecord(**values)


def test_a_record_shows_every_field_with_utc_timestamps():
    assert record_json(make_record(email="a@example.com"), BASE) == {
        "task_id": 7, "task_name": "multiprint", "status": "SUCCEEDED",
        "params": {"msg": "hello", "count": 2}, "result": "hello\nhello", "files": [],
        "error": None, "attempts": 1, "owner": None, "email": "a@example.com",
        "email_delivery": None, "priority": 0, "run_at": None, "cancel_requested": False,
        "interruptions": 0,
        "progress": None, "history": [], "parent_id": None, "children": [], "chain_next": [],
        "created_at": "2024-05-01T12:00:00.000000Z",
        "started_at": "2024-05-01T12:00:01.250000Z",
        "finished_at": "2024-05-01T12:00:02.000000Z"}


def test_the_email_delivery_state_is_shown():
    pending = EmailDelivery(EmailStatus.PENDING, "a@example.com", attempts=2,
                            last_error="451 try later",
                            next_attempt_at=datetime.datetime(2024, 5, 1, 12, 1, tzinfo=UTC))
    assert record_json(make_record(email="a@example.com", email_delivery=pending),
                       BASE)["email_delivery"] == {
        "status": "PENDING", "recipient": "a@example.com", "attempts": 2,
        "last_error": "451 try later", "next_attempt_at": "2024-05-01T12:01:00.000000Z",
        "sent_at": None}
    sent = EmailDelivery(EmailStatus.SENT, "a@example.com", attempts=1,
                         next_attempt_at=datetime.datetime(2024, 5, 1, 12, 1, tzinfo=UTC),
                         sent_at=datetime.datetime(2024, 5, 1, 12, 2, tzinfo=UTC))
    shown = record_json(make_record(email="a@example.com", email_delivery=sent), BASE)
    assert shown["email_delivery"]["status"] == "SENT"
    assert shown["email_delivery"]["next_attempt_at"] is None
    assert shown["email_delivery"]["sent_at"] == "2024-05-01T12:02:00.000000Z"


def test_a_failed_record_shows_its_error_but_never_the_traceback():
    record = make_record(status=TaskStatus.FAILED, result=None, error=TaskError(
        "RuntimeError", "boom", 'Traceback (most recent call last):\n  File "x.py"'))
    shown = record_json(record, BASE)
    assert shown["error"] == {"type": "RuntimeError", "message": "boom"}
    assert "Traceback" not in json.dumps(shown)


def test_a_queued_record_has_null_times():
    shown = record_json(make_record(status=TaskStatus.QUEUED, attempts=0, result=None,
                                    started_at=None, finished_at=None), BASE)
    assert (shown["status"], shown["started_at"], shown["finished_at"]) == ("QUEUED", None, None)


def test_files_get_absolute_download_urls():
    shown = record_json(make_record(files=(STATS_FILE,)), BASE)
    assert shown["files"] == [{"name": "statistics.tsv", "url": f"{BASE}/results/tok_123",
                               "content_type": "text/tab-separated-values", "size_bytes": 42}]


@pytest.mark.parametrize("moment, text", [
    (datetime.datetime(2024, 5, 1, 14, 30, tzinfo=datetime.timezone(datetime.timedelta(hours=2))),
     "2024-05-01T12:30:00.000000Z"),
    (datetime.datetime(2024, 5, 1, 12, 30), "2024-05-01T12:30:00.000000Z"),  # naive: UTC
    (None, None),
])
def test_timestamps_are_iso_8601_utc_with_z(moment, text):
    assert timestamp_json(moment) == text


def test_a_succeeded_submit_answers_ok_with_its_result():
    assert submit_answer(make_record(), BASE) == (
        200, {"status": "OK", "task_id": 7, "result": "hello\nhello"}, {})


def test_a_succeeded_submit_lists_its_files():
    status, body, _ = submit_answer(make_record(result="Complete statistics",
                                                files=(STATS_FILE,)), BASE)
    assert status == 200
    assert body["files"][0]["url"] == f"{BASE}/results/tok_123"


def test_a_failed_submit_answers_500_with_the_task_failed_code_and_its_id():
    record = make_record(name="fail", status=TaskStatus.FAILED, result=None,
                         error=TaskError("RuntimeError", "boom\n  more", "Traceback ..."))
    assert submit_answer(record, BASE) == (500, {
        "status": "ERROR", "error_code": 200,
        "error_msg": "task 'fail' failed: RuntimeError: boom more", "task_id": 7}, {})


@pytest.mark.parametrize("status", [TaskStatus.QUEUED, TaskStatus.RUNNING])
def test_an_unfinished_submit_answers_202_with_where_to_poll(status):
    assert submit_answer(make_record(status=status), BASE) == (
        202, {"status": status.value, "task_id": 7, "url": f"{BASE}/api/tasks/7"},
        {"Location": f"{BASE}/api/tasks/7"})


def test_a_submit_with_email_answers_ok_at_once():
    assert accepted_answer(make_record(status=TaskStatus.QUEUED)) == {"status": "OK",
                                                                      "task_id": 7}


def test_task_types_show_schemas_limits_and_pauses():
    schema = types.MappingProxyType({"type": "object"})
    paused_at = datetime.datetime(2024, 5, 1, 12, 0, 0, 125000, tzinfo=datetime.UTC)
    shown = task_types_json([TaskType("mult", "Multiply.", schema, 4),
                             TaskType("fail", "Fail.", None, None, paused_at=paused_at,
                                      paused_by="alice")], global_limit=15)
    assert json.loads(json_bytes(shown)) == {
        "task_types": [{"name": "mult", "description": "Multiply.",
                        "json_schema": {"type": "object"}, "limit": 4, "paused": False,
                        "paused_at": None, "paused_by": None},
                       {"name": "fail", "description": "Fail.", "json_schema": None,
                        "limit": None, "paused": True,
                        "paused_at": "2024-05-01T12:00:00.125000Z", "paused_by": "alice"}],
        "limits": {"global": 15}}


def test_answers_are_utf8_json_without_nan():
    assert json_bytes({"msg": "é"}) == '{"msg":"é"}'.encode()
    with pytest.raises(ValueError):
        json_bytes({"x": float("nan")})


@pytest.mark.parametrize("name, header", [
    ("statistics.tsv", "attachment; filename=\"statistics.tsv\"; "
                       "filename*=UTF-8''statistics.tsv"),
    ("rapport é.pdf", "attachment; filename=\"rapport _.pdf\"; "
                      "filename*=UTF-8''rapport%20%C3%A9.pdf"),
    ('a"b\\c%d.txt', "attachment; filename=\"a_b_c_d.txt\"; "
                     "filename*=UTF-8''a%22b%5Cc%25d.txt"),
    ("数据.csv", "attachment; filename=\"__.csv\"; filename*=UTF-8''%E6%95%B0%E6%8D%AE.csv"),
])
def test_content_disposition_is_rfc_6266_with_an_ascii_fallback(name, header):
    assert content_disposition(name) == header


@pytest.mark.parametrize("name", ["a;b,c.txt", "x\r\ny.txt", "€ & ü (2).tsv", "'quoted'"])
def test_content_disposition_round_trips_and_stays_on_one_line(name):
    header = content_disposition(name)
    assert "\r" not in header and "\n" not in header
    assert header.isascii()
    encoded = header.split("filename*=UTF-8''", 1)[1]
    assert urllib.parse.unquote(encoded, encoding="utf-8") == name


def test_an_empty_query_lists_the_newest_page():
    assert parse_list_query("") == ListQuery(None, None, DEFAULT_LIMIT, None)


def test_a_query_reads_every_filter():
    assert parse_list_query("status=failed&task_name=mult%C3%A9&limit=10&cursor=42") == \
        ListQuery(TaskStatus.FAILED, "multé", 10, 42)


def test_empty_values_mean_no_filter():
    assert parse_list_query("status=&task_name=&limit=&cursor=") == ListQuery()


@pytest.mark.parametrize("query, where", [
    ("status=DONE", "query.status: 'DONE' is not a status (allowed: QUEUED, RUNNING"),
    ("limit=0", "query.limit: '0' is not a whole number from 1 to 500"),
    (f"limit={MAX_LIMIT + 1}", "query.limit"),
    ("limit=ten", "query.limit"),
    ("cursor=abc", "query.cursor: 'abc' is not a cursor"),
    ("cursor=-3", "query.cursor"),
    ("cursor=0", "query.cursor"),
    ("cursor=99999999999999999999", "query.cursor"),
    ("page=2", "query.page: unknown parameter (allowed: status, task_name, limit, cursor)"),
    ("limit=1&limit=2", "query.limit: given more than once"),
])
def test_a_bad_query_names_the_parameter_and_what_it_accepts(query, where):
    with pytest.raises(BadRequestError) as info:
        parse_list_query(query)
    assert str(info.value).startswith(where)
    assert info.value.to_json()["error_code"] == 100


def test_a_cursor_is_the_id_to_list_below():
    assert parse_cursor("17") == 17
    assert parse_cursor("") is None


def test_the_next_cursor_exists_only_when_there_is_another_page():
    records = [make_record(id=task_id) for task_id in (9, 8, 7)]
    assert next_cursor(records, limit=2) == "8"  # fetched limit + 1: a third exists
    assert next_cursor(records[:2], limit=2) is None
    assert next_cursor([], limit=2) is None


def test_links_use_the_public_url_when_configured():
    assert request_base_url({"HTTP_HOST": "internal:5000"}, "https://jobs.example.com/x/") \
        == "https://jobs.example.com/x"


@pytest.mark.parametrize("environ, base", [
    ({"wsgi.url_scheme": "http", "HTTP_HOST": "127.0.0.1:5000"}, "http://127.0.0.1:5000"),
    ({"wsgi.url_scheme": "https", "HTTP_HOST": "example.com", "SCRIPT_NAME": "/jobs/"},
     "https://example.com/jobs"),
    ({"wsgi.url_scheme": "http", "SERVER_NAME": "host", "SERVER_PORT": "8080"},
     "http://host:8080"),
    ({"wsgi.url_scheme": "http", "SERVER_NAME": "host", "SERVER_PORT": "80"}, "http://host"),
])
def test_links_otherwise_use_the_address_the_client_used(environ, base):
    assert request_base_url(environ, None) == base
