"""The HTTP API of a real `runserver` process, over real HTTP: every example of the spec, the
record, list, task-type, file and health routes, and every error in the spec's JSON shape."""

from __future__ import annotations

import contextlib
import dataclasses
import http.client
import json
import re
import socket
import textwrap
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from serverproc import ServerProcess, wait_until

PROJECT_ROOT = Path(__file__).resolve().parents[2]
SAMPLE_TASKS = PROJECT_ROOT / "sample_tasks.py"
MAX_BODY_BYTES = 4096
CONFIG = {"http": {"sync_wait_s": 20, "max_body_bytes": MAX_BODY_BYTES},
          "limits": {"global": 4, "names": {"slow": 2}}}
TIMEOUT_S = 60
JSON = {"Content-Type": "application/json"}


@dataclasses.dataclass
class Answer:
    """What the server answered: status, headers and the raw body."""

    status: int
    headers: http.client.HTTPMessage
    body: bytes

    def json(self) -> Any:
        assert self.headers["Content-Type"] == "application/json", self.headers
        return json.loads(self.body)


def call(server: ServerProcess, method: str, path: str, body: Any = None,
         headers: dict[str, str] | None = None) -> Answer:
    """One request; `body` is sent as JSON unless it is bytes. Never a traceback back."""
    parts = urllib.parse.urlsplit(server.url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=TIMEOUT_S)
    data = body if body is None or isinstance(body, bytes) else json.dumps(body).encode()
    try:
        connection.request(method, path, body=data, headers=headers or {})
        response = connection.getresponse()
        answer = Answer(response.status, response.headers, response.read())
    finally:
        connection.close()
    assert b"Traceback" not in answer.body and b'File "' not in answer.body, answer.body
    return answer


def post(server: ServerProcess, body: Any, path: str = "/api/tasks") -> Answer:
    return call(server, "POST", path, body, JSON)


def assert_error(answer: Answer, http_status: int, code: int, *fragments: str) -> dict:
    body = answer.json()
    assert answer.status == http_status, body
    assert set(body) >= {"status", "error_code", "error_msg"}
    assert (body["status"], body["error_code"]) == ("ERROR", code), body
    for fragment in fragments:
        assert fragment in body["error_msg"], body
    return body


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """One sample_tasks.py server for the tests that do not depend on what the others did."""
    process = ServerProcess(SAMPLE_TASKS, tmp_path_factory.mktemp("api"), CONFIG)
    try:
        yield process.start()
    finally:
        process.stop()


@pytest.fixture
def fresh_server(tmp_path: Path) -> Iterator[ServerProcess]:
    """A server on an empty database, for tests that count records."""
    process = ServerProcess(SAMPLE_TASKS, tmp_path, CONFIG)
    try:
        yield process.start()
    finally:
        process.stop()


# The spec's examples

def test_spec_3_multiprint_answers_its_result(server):
    answer = post(server, {"task_name": "multiprint", "params": {"msg": "hello", "count": 2}})
    body = answer.json()
    assert answer.status == 200
    assert body == {"status": "OK", "task_id": body["task_id"], "result": "hello\nhello"}
    assert isinstance(body["task_id"], int)


def test_spec_3_post_to_the_root_works_as_in_the_original_examples(server):
    answer = post(server, {"task_name": "mult", "params": {"operands": [3, 2, 8]}}, path="/")
    assert (answer.status, answer.json()["result"]) == (200, 48)


def test_spec_4_with_email_the_answer_is_ok_at_once(server):
    answer = post(server, {"task_name": "multiprint", "params": {"msg": "hello", "count": 3},
                           "email": "example@domain.com"})
    body = answer.json()
    assert answer.status == 200
    assert body == {"status": "OK", "task_id": body["task_id"]}
    record = call(server, "GET", f"/api/tasks/{body['task_id']}").json()
    assert record["email"] == "example@domain.com"


def test_with_email_the_answer_does_not_wait_for_the_task(server):
    answer = post(server, {"task_name": "slow", "params": {"seconds": 30},
                           "email": "example@domain.com"})
    assert (answer.status, answer.json()["status"]) == (200, "OK")
    record = call(server, "GET", f"/api/tasks/{answer.json()['task_id']}").json()
    assert record["status"] in ("QUEUED", "RUNNING")  # answered long before its 30 s end


def test_spec_5_files_come_back_as_links_that_download_them(server):
    answer = post(server, {"task_name": "get_statistics"})
    body = answer.json()
    assert answer.status == 200
    assert body["result"] == "Complete statistics"
    [stats] = body["files"]
    assert stats["name"] == "statistics.tsv"
    assert stats["url"].startswith(f"{server.url}/results/")
    download = call(server, "GET", urllib.parse.urlsplit(stats["url"]).path)
    assert download.status == 200
    assert download.body.startswith(b"metric\tvalue\n")
    assert len(download.body) == stats["size_bytes"]
    assert download.headers["Content-Type"] == stats["content_type"]
    assert download.headers["Content-Disposition"] == (
        "attachment; filename=\"statistics.tsv\"; filename*=UTF-8''statistics.tsv")
    assert download.headers["X-Content-Type-Options"] == "nosniff"
    assert download.headers["Cache-Control"] == "private, max-age=0"


def test_a_file_downloads_with_its_exact_bytes_and_its_unicode_name(tmp_path):
    tasks_file = tmp_path / "file_tasks.py"
    tasks_file.write_text(textwrap.dedent("""
        import deferred

        @deferred.task(name='make_file')
        def make_file():
            return deferred.Result(msg='made', files=[
                {'name': 'données "été".bin', 'data': bytes(range(256)) * 3}])

        if __name__ == '__main__':
            deferred.run_cli()
    """), encoding="utf-8")
    process = ServerProcess(tasks_file, tmp_path, CONFIG).start()
    try:
        [made] = post(process, {"task_name": "make_file"}).json()["files"]
        download = call(process, "GET", urllib.parse.urlsplit(made["url"]).path)
    finally:
        process.stop()
    assert download.status == 200
    assert download.body == bytes(range(256)) * 3
    assert download.headers["Content-Disposition"] == (
        "attachment; filename=\"donn_es __t__.bin\"; "
        "filename*=UTF-8''donn%C3%A9es%20%22%C3%A9t%C3%A9%22.bin")
    assert download.headers["X-Content-Type-Options"] == "nosniff"


# Waiting, reading and listing

def test_wait_0_answers_202_at_once_and_the_url_polls_to_the_result(server):
    answer = post(server, {"task_name": "multiprint", "params": {"msg": "hi", "count": 2},
                           "wait": 0})
    body = answer.json()
    task_url = f"{server.url}/api/tasks/{body['task_id']}"
    assert answer.status == 202
    assert body == {"status": body["status"], "task_id": body["task_id"], "url": task_url}
    assert body["status"] in ("QUEUED", "RUNNING")
    assert answer.headers["Location"] == task_url
    path = urllib.parse.urlsplit(task_url).path

    def succeeded() -> dict | None:
        record = call(server, "GET", path).json()
        return record if record["status"] == "SUCCEEDED" else None

    record = wait_until(succeeded)
    assert record["result"] == "hi\nhi"
    assert record["task_name"] == "multiprint"
    assert record["params"] == {"msg": "hi", "count": 2}
    assert record["error"] is None and record["files"] == []
    assert record["attempts"] == 1
    for key in ("created_at", "started_at", "finished_at"):
        assert record[key].endswith("Z"), record


def test_a_task_still_running_after_the_wait_answers_202_running(server):
    answer = post(server, {"task_name": "slow", "params": {"seconds": 3}, "wait": 1})
    body = answer.json()
    assert (answer.status, body["status"]) == (202, "RUNNING")
    assert call(server, "GET", f"/api/tasks/{body['task_id']}").json()["status"] == "RUNNING"


def test_the_list_filters_and_pages_newest_first(fresh_server):
    ids = [post(fresh_server, {"task_name": "mult", "params": {"operands": [n, 2]}}).json()[
        "task_id"] for n in range(5)]
    failed = post(fresh_server, {"task_name": "fail"}).json()["task_id"]

    seen, cursor, pages = [], None, 0
    while True:
        query = "task_name=mult&limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = call(fresh_server, "GET", f"/api/tasks?{query}").json()
        seen += [record["task_id"] for record in page["tasks"]]
        assert all(record["task_name"] == "mult" for record in page["tasks"])
        pages, cursor = pages + 1, page["next_cursor"]
        if cursor is None:
            break
    assert seen == sorted(ids, reverse=True)
    assert pages == 3

    everything = call(fresh_server, "GET", "/api/tasks").json()
    assert [record["task_id"] for record in everything["tasks"]] == [failed, *reversed(ids)]
    assert everything["next_cursor"] is None
    only_failed = call(fresh_server, "GET", "/api/tasks?status=FAILED").json()
    assert [record["task_id"] for record in only_failed["tasks"]] == [failed]
    assert only_failed["tasks"][0]["error"] == {"type": "RuntimeError",
                                                "message": "this task always fails"}


@pytest.mark.parametrize("query, fragments", [
    ("status=DONE", ("status", "QUEUED, RUNNING, SUCCEEDED, FAILED")),
    ("limit=0", ("limit", "1 to 500")),
    ("limit=501", ("limit", "1 to 500")),
    ("cursor=abc", ("cursor", "next_cursor")),
    ("page=2", ("page", "status, task_name, limit, cursor")),
])
def test_a_bad_list_query_names_the_parameter(server, query, fragments):
    assert_error(call(server, "GET", f"/api/tasks?{query}"), 400, 100, *fragments)


def test_task_types_list_schemas_and_limits(server):
    answer = call(server, "GET", "/api/task-types")
    body = answer.json()
    assert answer.status == 200
    types = {item["name"]: item for item in body["task_types"]}
    assert set(types) == {"multiprint", "mult", "get_statistics", "slow", "fail"}
    assert types["multiprint"] == {
        "name": "multiprint", "description": "Repeat a message, one line per repetition.",
        "json_schema": {"type": "object",
                        "properties": {"msg": {"type": "string", "maxLength": 1000},
                                       "count": {"type": "integer", "minimum": 1,
                                                 "maximum": 10000}},
                        "required": ["msg"]},
        "limit": None, "paused": False, "paused_at": None, "paused_by": None}
    assert types["slow"]["limit"] == 2
    assert types["get_statistics"]["json_schema"] is None
    assert body["limits"] == {"global": 4}


def test_healthz_says_ok(server):
    answer = call(server, "GET", "/healthz")
    assert answer.status == 200 and answer.json()["status"] == "OK"
    # Readable and permanent: host, pid and random hex, at most the owner column's 64.
    server_id = answer.json()["server_id"]
    assert re.fullmatch(r".+-[0-9]+-[0-9a-f]{12}", server_id) and len(server_id) <= 64


# Errors, each in the spec's shape with its code

def test_an_unknown_task_gets_101_and_the_known_names(server):
    assert_error(post(server, {"task_name": "nope", "params": {}}), 404, 101, "nope",
                 "multiprint")


def test_bad_json_gets_103_with_line_and_column(server):
    answer = call(server, "POST", "/api/tasks", b'{"task_name": "mult",\n "params": }', JSON)
    assert_error(answer, 400, 103, "line 2 column 12")


def test_params_breaking_the_schema_get_102_naming_the_path(server):
    answer = post(server, {"task_name": "multiprint", "params": {"msg": "x", "count": -1}})
    assert_error(answer, 422, 102, "$.count", "-1 is less than the minimum of 1")


def test_an_unknown_body_key_gets_100_naming_it(server):
    assert_error(post(server, {"task_name": "mult", "parms": {}}), 400, 100, "'parms'")


def test_a_body_of_another_type_gets_415_saying_how(server):
    answer = call(server, "POST", "/api/tasks", b'<task name="mult"/>',
                  {"Content-Type": "application/xml"})
    assert_error(answer, 415, 106, "-H 'Content-Type: application/json'")


def test_a_form_body_that_is_not_json_gets_415_saying_how(server):
    answer = call(server, "POST", "/api/tasks", b"task_name=mult&params=3",
                  {"Content-Type": "application/x-www-form-urlencoded"})
    assert_error(answer, 415, 106, "-H 'Content-Type: application/json'")


@pytest.mark.parametrize("headers", [{"Content-Type": "application/x-www-form-urlencoded"},
                                     {}], ids=["curl -d", "no content type"])
def test_spec_3_json_sent_as_curl_d_sends_it_is_accepted(server, headers):
    answer = call(server, "POST", "/", json.dumps(
        {"task_name": "multiprint", "params": {"msg": "hello", "count": 2}}).encode(), headers)
    assert answer.status == 200
    assert answer.json()["result"] == "hello\nhello"


def test_a_body_over_the_limit_is_refused_before_it_is_sent(server):
    parts = urllib.parse.urlsplit(server.url)
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        sock.sendall(b"POST /api/tasks HTTP/1.1\r\nHost: test\r\n"
                     b"Content-Type: application/json\r\n"
                     + f"Content-Length: {MAX_BODY_BYTES + 1}\r\n\r\n".encode())
        with contextlib.closing(http.client.HTTPResponse(sock)) as response:
            response.begin()
            answer = Answer(response.status, response.headers, response.read())
    assert_error(answer, 413, 105, f"over the limit of {MAX_BODY_BYTES} bytes")


def test_an_unknown_task_id_gets_104(server):
    assert_error(call(server, "GET", "/api/tasks/999999"), 404, 104, "999999")


def test_an_unknown_result_token_gets_104(server):
    assert_error(call(server, "GET", "/results/no-such-token"), 404, 104)


def test_an_unknown_route_gets_104(server):
    assert_error(call(server, "GET", "/no/such/route"), 404, 104, "/no/such/route")


def test_a_wrong_method_gets_107_and_the_allowed_ones(server):
    answer = call(server, "DELETE", "/api/tasks/1")
    assert_error(answer, 405, 107, "DELETE", "GET")
    assert answer.headers["Allow"] == "GET"


def test_a_failing_task_gets_200_in_a_500_answer_with_its_id(server):
    answer = post(server, {"task_name": "fail", "params": {"message": "boom"}})
    body = assert_error(answer, 500, 200)
    assert body["error_msg"] == "task 'fail' failed: RuntimeError: boom"
    record = call(server, "GET", f"/api/tasks/{body['task_id']}").json()
    assert record["status"] == "FAILED"
    assert record["error"] == {"type": "RuntimeError", "message": "boom"}
