"""`POST /api/tasks/bulk` of a real `runserver` process, over real HTTP: cancel, retry and
delete by ids and by filter, with exact counts of what matched, changed and was skipped; the
role each action needs; every malformed body refused with its code and place; one audit
entry per action."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from serverproc import ServerProcess, wait_until
from test_http_api import SAMPLE_TASKS, assert_error, call

from deferred.access.identity import new_token, token_hash

JSON = {"Content-Type": "application/json"}
MAX_BODY_BYTES = 256 * 1024  # room for more ids than one bulk action may name
CONFIG = {"http": {"sync_wait_s": 20, "max_body_bytes": MAX_BODY_BYTES},
          "limits": {"global": 4, "names": {"slow": 2}}}
TOKENS = {role: new_token() for role in ("read", "submit", "admin")}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """One sample_tasks.py server without auth (every request acts as an admin); each test
    tells its own tasks apart by a marker in their params."""
    process = ServerProcess(SAMPLE_TASKS, tmp_path_factory.mktemp("bulk"), CONFIG)
    try:
        yield process.start()
    finally:
        process.stop()


@pytest.fixture(scope="module")
def auth_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """The same with auth on: a token of each role."""
    config = {**CONFIG, "auth": {"tokens": [
        {"name": f"{role}-bot", "role": role, "hash": token_hash(token)}
        for role, token in TOKENS.items()]}}
    process = ServerProcess(SAMPLE_TASKS, tmp_path_factory.mktemp("bulk-auth"), config)
    try:
        yield process.start()
    finally:
        process.stop()


def bulk(server: ServerProcess, body: Any, role: str | None = None) -> tuple[int, Any]:
    headers = dict(JSON)
    if role is not None:
        headers["Authorization"] = f"Bearer {TOKENS[role]}"
    answer = call(server, "POST", "/api/tasks/bulk", body, headers)
    return answer.status, answer.json()


def submit(server: ServerProcess, task_name: str, params: dict[str, Any], role: str | None = None,
           **extra: Any) -> int:
    headers = {"Authorization": f"Bearer {TOKENS[role]}"} if role else {}
    status, body = server.request("POST", "/api/tasks", {"task_name": task_name,
                                                         "params": params, **extra}, headers)
    assert status in (200, 202, 500), body
    return int(body["task_id"])


def record(server: ServerProcess, task_id: int, role: str | None = None) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {TOKENS[role]}"} if role else {}
    status, body = server.request("GET", f"/api/tasks/{task_id}", headers=headers)
    assert status == 200, body
    return body


def marker() -> str:
    return f"bulk-{uuid.uuid4().hex}"


def done(action: str, matched: int, changed: int, not_found: int = 0) -> dict[str, Any]:
    return {"status": "OK", "action": action, "matched": matched, "changed": changed,
            "skipped": matched - changed, "not_found": not_found}


def test_a_bulk_retry_by_filter_runs_the_failed_tasks_again(server):
    tag = marker()
    failed = [submit(server, "fail", {"message": tag}) for _ in range(3)]
    succeeded = submit(server, "multiprint", {"msg": tag})
    assert bulk(server, {"action": "retry", "filter": {"status": "failed", "q": tag}}) == (
        200, done("retry", 3, 3))
    for task_id in failed:
        again = wait_until(lambda task_id=task_id: (found := record(server, task_id))[
            "status"] == "FAILED" and found["attempts"] == 2 and found)
        assert [attempt["status"] for attempt in again["history"]] == ["FAILED", "FAILED"]
    # Without a status: the succeeded one matches too, and is skipped.
    assert bulk(server, {"action": "retry", "filter": {"q": tag}}) == (
        200, done("retry", 4, 3))
    assert record(server, succeeded)["status"] == "SUCCEEDED"


def test_a_bulk_cancel_by_ids_cancels_queued_and_asks_running_ones_to_stop(server):
    running = [submit(server, "slow", {"seconds": 60}, wait=0) for _ in range(2)]
    wait_until(lambda: all(record(server, task_id)["status"] == "RUNNING"
                           for task_id in running))
    waiting = submit(server, "slow", {"seconds": 60}, wait=0)  # over the limit of 2: queued
    delayed = submit(server, "mult", {"operands": [2]}, delay_s=3600, wait=0)
    finished = submit(server, "mult", {"operands": [3]})
    ids = [*running, waiting, delayed, finished, 2**40]
    assert bulk(server, {"action": "cancel", "ids": [*ids[:-1], float(ids[-1])]}) == (
        200, done("cancel", 5, 4, 1))  # 2.0**40 is a whole number, as JSON Schema sees it
    for task_id in (*running, waiting, delayed):
        wait_until(lambda task_id=task_id: record(server, task_id)["status"] == "CANCELLED")
    assert record(server, finished)["status"] == "SUCCEEDED"
    # Nothing is left to cancel: all five are skipped.
    assert bulk(server, {"action": "cancel", "ids": ids}) == (200, done("cancel", 5, 0, 1))


def test_a_bulk_delete_takes_only_finished_tasks(server):
    tag = marker()
    finished = [submit(server, "fail", {"message": tag}),
                submit(server, "multiprint", {"msg": tag})]
    later = submit(server, "multiprint", {"msg": tag}, delay_s=3600, wait=0)
    assert bulk(server, {"action": "delete", "filter": {"q": tag, "task_name": None}}) == (
        200, done("delete", 3, 2))
    for task_id in finished:
        assert_error(call(server, "GET", f"/api/tasks/{task_id}"), 404, 104)
    assert record(server, later)["status"] == "QUEUED"
    assert bulk(server, {"action": "delete", "filter": {"status": "FINISHED", "q": tag}}) == (
        200, done("delete", 0, 0))


def test_the_task_name_filter_takes_one_task_type(server):
    tag = marker()
    fails = [submit(server, "fail", {"message": tag}) for _ in range(2)]
    submit(server, "multiprint", {"msg": tag, "count": 2})
    assert bulk(server, {"action": "delete", "filter": {"task_name": "fail", "q": tag}}) == (
        200, done("delete", 2, 2))
    assert all(call(server, "GET", f"/api/tasks/{task_id}").status == 404
               for task_id in fails)


def test_cancel_and_retry_need_submit_and_delete_needs_admin(auth_server):
    task_id = submit(auth_server, "fail", {"message": marker()}, role="submit")
    by_ids = {"ids": [task_id]}
    assert_error(call(auth_server, "POST", "/api/tasks/bulk",
                      {"action": "retry", **by_ids}, JSON), 401, 110)
    for action in ("cancel", "retry", "delete"):
        status, body = bulk(auth_server, {"action": action, **by_ids}, "read")
        assert (status, body["error_code"]) == (403, 111), body
    status, body = bulk(auth_server, {"action": "delete", **by_ids}, "submit")
    assert (status, body["error_code"]) == (403, 111), body
    assert "'submit-bot' has the role 'submit'; a bulk delete needs 'admin'" in body["error_msg"]
    assert record(auth_server, task_id, "read")["status"] == "FAILED"
    assert bulk(auth_server, {"action": "cancel", **by_ids}, "submit") == (
        200, done("cancel", 1, 0))
    assert bulk(auth_server, {"action": "retry", **by_ids}, "submit") == (
        200, done("retry", 1, 1))
    wait_until(lambda: record(auth_server, task_id, "read")["attempts"] == 2
               and record(auth_server, task_id, "read")["status"] == "FAILED")
    assert bulk(auth_server, {"action": "delete", **by_ids}, "admin") == (
        200, done("delete", 1, 1))


def test_each_bulk_action_has_one_audit_entry_with_its_counts_and_filter(auth_server):
    tag = marker()
    for _ in range(3):
        submit(auth_server, "fail", {"message": tag}, role="submit")
    assert bulk(auth_server, {"action": "retry", "filter": {"q": tag}}, "submit") == (
        200, done("retry", 3, 3))
    status, body = auth_server.request("GET", "/api/audit?limit=5", headers={
        "Authorization": f"Bearer {TOKENS['admin']}"})
    assert status == 200, body
    entry = body["entries"][0]
    assert {key: entry[key] for key in ("actor", "role", "action", "task_id", "detail")} == {
        "actor": "submit-bot", "role": "submit", "action": "bulk_retry", "task_id": None,
        "detail": f"retried 3 of 3 matched, 0 skipped; filter q='{tag}'"}
    assert [item["action"] for item in body["entries"][1:4]] == ["launch"] * 3


TOO_MANY = list(range(1, 10_002))
BAD_BODIES = [
    ({"ids": [1]}, "body", "'action' is missing: one of cancel, retry, delete"),
    ({"action": "purge", "ids": [1]}, "body.action", "'purge' is not an action"),
    ({"action": 3, "ids": [1]}, "body.action", "must be a string, got integer"),
    ({"action": "retry"}, "body", "'ids' or 'filter' is missing"),
    ({"action": "retry", "ids": [1], "filter": {}}, "body", "not both"),
    ({"action": "retry", "ids": []}, "body.ids", "must hold 1 to 10000 task ids, got 0"),
    ({"action": "retry", "ids": TOO_MANY}, "body.ids", "got 10001; select more by 'filter'"),
    ({"action": "retry", "ids": "1,2"}, "body.ids", "must be a list of task ids, got string"),
    ({"action": "retry", "ids": [1, 0]}, "body.ids[1]", "must be a task id"),
    ({"action": "retry", "ids": [True]}, "body.ids[0]", "must be a task id"),
    ({"action": "retry", "ids": [2**63]}, "body.ids[0]", "must be a task id"),
    ({"action": "retry", "ids": [1.5]}, "body.ids[0]", "must be a task id"),
    ({"action": "retry", "filter": []}, "body.filter", "got array"),
    ({"action": "retry", "filter": {"name": "x"}}, "body.filter", "unknown key 'name'"),
    ({"action": "retry", "filter": {"status": "broken"}}, "body.filter.status",
     "'broken' is not a status (allowed, in any case: QUEUED"),
    ({"action": "retry", "filter": {"status": ""}}, "body.filter.status", "must not be empty"),
    ({"action": "retry", "filter": {"q": 5}}, "body.filter.q", "must be a string or null"),
    ({"action": "retry", "filter": {"q": "a\x00b"}}, "body.filter.q", "no control characters"),
    ({"action": "retry", "filter": {"q": "x" * 201}}, "body.filter.q", "at most 200"),
    ({"action": "retry", "ids": [1], "wait": 1}, "body", "unknown key 'wait'"),
]


@pytest.mark.parametrize("body, where, fragment", BAD_BODIES,
                         ids=[str(index) for index in range(len(BAD_BODIES))])
def test_a_malformed_bulk_body_gets_100_naming_its_place(server, body, where, fragment):
    status, answer = bulk(server, body)
    assert (status, answer["error_code"], answer.get("error_where")) == (400, 100, where), answer
    assert fragment in answer["error_msg"], answer


def test_bad_json_a_wrong_type_a_big_body_and_a_get_get_their_codes(server):
    assert_error(call(server, "POST", "/api/tasks/bulk", b'{"action": "retry",', JSON),
                 400, 103, "line 1")
    assert_error(call(server, "POST", "/api/tasks/bulk", b"<ids/>",
                      {"Content-Type": "application/xml"}), 415, 106)
    big = json.dumps({"action": "retry", "filter": {"q": "x" * MAX_BODY_BYTES}}).encode()
    assert_error(call(server, "POST", "/api/tasks/bulk", big, JSON), 413, 105)
    answer = call(server, "GET", "/api/tasks/bulk")
    assert_error(answer, 405, 107)
    assert answer.headers["Allow"] == "POST"


def test_a_browser_post_from_another_site_is_refused(server, tmp_path: Path):
    task_id = submit(server, "fail", {"message": marker()})
    answer = call(server, "POST", "/api/tasks/bulk", {"action": "retry", "ids": [task_id]},
                  {**JSON, "Origin": "http://evil.example"})
    assert_error(answer, 403, 109)
    assert record(server, task_id)["attempts"] == 1
