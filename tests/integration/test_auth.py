"""Authentication and roles over real HTTP, from an embedded `deferred.Server` on a real
SQLite file: every route of bottle's route table refuses a stranger, each role may do what
it should and no more, the UI logs in and out with a session cookie, and the audit log
records who launched, cancelled and retried what, from where."""

from __future__ import annotations

import http.client
import io
import json
import re
import threading
import urllib.parse
import wsgiref.util
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from polling import wait_until

import deferred
from deferred.access.identity import new_token, token_hash
from deferred.tasks.registry import TaskRegistry

PASSWORD = "correct horse battery"
TOKENS = {role: new_token() for role in ("read", "submit", "admin")}
# Open to strangers: the UI's files and the health check. Everything else answers 401/403.
PUBLIC_ROUTES = {("GET", "/static/<name>"), ("GET", "/healthz")}


def auth_config(hash_of: Callable[[str], str], **extra: Any) -> dict[str, Any]:
    return {"tokens": [{"name": f"{role}-bot", "role": role, "hash": token_hash(token)}
                       for role, token in TOKENS.items()],
            "users": [{"name": "alice", "role": "admin", "password": hash_of(PASSWORD)},
                      {"name": "rita", "role": "read", "password": hash_of(PASSWORD)}],
            **extra}


@pytest.fixture
def registry() -> TaskRegistry:
    registry = TaskRegistry()
    gate = threading.Event()

    @deferred.task(name="echo", registry=registry)
    def echo(text="hi"):
        """Say it back."""
        return deferred.Result(msg=text, files=[{"name": "echo.txt", "data": text.encode()}])

    @deferred.task(name="gated", registry=registry)
    def gated():
        gate.wait(30)
        return "opened"

    @deferred.task(name="boom", registry=registry)
    def boom():
        raise ValueError("boom")

    registry.gate = gate  # type: ignore[attr-defined]
    return registry


def finish(handle: Any) -> None:
    """Wait for a task to end, however it ends."""
    wait_until(lambda: handle.ready, timeout_s=10)


def start_server(tmp_path: Path, registry: TaskRegistry, **config: Any) -> deferred.Server:
    server = deferred.Server({"db": {"url": f"sqlite+pysqlite:///{tmp_path / 'tasks.db'}"},
                              "http": {"port": 0, "sync_wait_s": 5}, **config},
                             registry=registry)
    server.start()
    return server


@pytest.fixture
def server(tmp_path: Path, registry: TaskRegistry,
           quick_password_hash: Callable[[str], str]) -> Iterator[deferred.Server]:
    server = start_server(tmp_path, registry, auth=auth_config(quick_password_hash))
    try:
        yield server
    finally:
        registry.gate.set()  # type: ignore[attr-defined]
        server.stop()


def request(server: deferred.Server, method: str, path: str, body: bytes | None = None, *,
            headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, \
            response.read()
    finally:
        connection.close()


def api(server: deferred.Server, method: str, path: str, payload: Any = None, *,
        role: str | None = None, headers: dict[str, str] | None = None
        ) -> tuple[int, dict[str, Any]]:
    sent = dict(headers or {})
    if role is not None:
        sent["Authorization"] = f"Bearer {TOKENS[role]}"
    body = None
    if payload is not None:
        body = json.dumps(payload).encode()
        sent["Content-Type"] = "application/json"
    status, _, data = request(server, method, path, body, headers=sent)
    return status, json.loads(data)


def route_paths(server: deferred.Server) -> list[tuple[str, str, str]]:
    """Every route of the app as (method, rule, a concrete path for it)."""
    fillers = {"task_id": "1", "token": "x" * 43, "name": "app.css", "path": "no/such/page"}
    walked = []
    for route in server.wsgi_app.routes:
        names = re.findall(r"<(\w+)[^>]*>", route.rule)
        assert all(name in fillers for name in names), \
            f"no filler for {route.rule}: add one to this test"
        path = re.sub(r"<(\w+)[^>]*>", lambda match: fillers[match.group(1)], route.rule)
        walked.append((route.method, route.rule, path))
    return walked


def test_every_route_refuses_a_stranger_but_static_files_and_health(server):
    stored = server.submit("echo", {})  # so that /tasks/1 and its result exist
    stored.wait(10)
    walked = route_paths(server)
    assert len(walked) >= 25
    for method, rule, path in walked:
        body = b"{}" if method == "POST" else None
        for accept in ("application/json", "text/html"):
            status, headers, data = request(server, method, path, body, headers={
                "Accept": accept, "Content-Type": "application/json"})
            if (method, rule) in PUBLIC_ROUTES:
                assert status == 200, (method, rule)
                continue
            assert status in (401, 403), (method, rule, accept, status)
            assert b"Traceback" not in data
            if "json" in headers["content-type"]:
                assert json.loads(data)["error_code"] in (110, 111, 109), (method, rule)
            else:
                assert b"Log in" in data or b"error 10" in data, (method, rule)


def test_an_unknown_token_or_a_malformed_header_is_refused_with_how_to_authenticate(server):
    for header in (f"Bearer {new_token()}", "Basic YWxpY2U6c2VjcmV0", "Bearer ",
                   "Bearer " + "x" * 10_000):
        status, _, data = request(server, "GET", "/api/tasks",
                                  headers={"Authorization": header})
        answer = json.loads(data)
        assert status == 401 and answer["error_code"] == 110, header
        assert answer["error_where"] == "Authorization"
    status, headers, _ = request(server, "GET", "/api/tasks")
    assert status == 401 and headers["www-authenticate"] == 'Bearer realm="deferred"'


@pytest.mark.parametrize("role, allowed", [
    ("read", {"list", "get", "types", "servers", "metrics", "result"}),
    ("submit", {"list", "get", "types", "servers", "metrics", "result", "submit", "cancel",
                "retry", "chain"}),
    ("admin", {"list", "get", "types", "servers", "metrics", "result", "submit", "cancel",
               "retry", "chain", "audit"}),
])
def test_each_role_may_do_what_it_should_and_no_more(server, role, allowed):
    failed = server.submit("boom", {})
    finish(failed)
    done = server.submit("echo", {"text": "x"})
    done.wait(10)
    _, record = api(server, "GET", f"/api/tasks/{done.id}", role="admin")
    file_path = urllib.parse.urlsplit(record["files"][0]["url"]).path
    calls = {
        "list": ("GET", "/api/tasks", None),
        "get": ("GET", f"/api/tasks/{done.id}", None),
        "types": ("GET", "/api/task-types", None),
        "servers": ("GET", "/api/servers", None),
        "metrics": ("GET", "/metrics", None),
        "result": ("GET", file_path, None),
        "submit": ("POST", "/api/tasks", {"task_name": "echo", "params": {}, "wait": 0}),
        "chain": ("POST", "/api/chains", {"steps": [{"task_name": "echo", "params": {}}]}),
        "cancel": ("POST", f"/api/tasks/{done.id}/cancel", None),
        "retry": ("POST", f"/api/tasks/{failed.id}/retry", None),
        "audit": ("GET", "/api/audit", None),
    }
    for name, (method, path, payload) in calls.items():
        sent = {"Authorization": f"Bearer {TOKENS[role]}"}
        body = None if payload is None else json.dumps(payload).encode()
        if body is not None:
            sent["Content-Type"] = "application/json"
        status, _, data = request(server, method, path, body, headers=sent)
        if name in allowed:
            assert status in (200, 202), (role, name, status, data[:300])
        else:
            assert status == 403, (role, name, status)
            answer = json.loads(data)
            assert answer["error_code"] == 111
            assert f"role '{role}'" in answer["error_msg"]


def test_a_result_link_is_a_capability_that_works_without_a_login(server):
    done = server.submit("echo", {"text": "secret words"})
    done.wait(10)
    _, record = api(server, "GET", f"/api/tasks/{done.id}", role="read")
    path = urllib.parse.urlsplit(record["files"][0]["url"]).path
    status, _, data = request(server, "GET", path)
    assert status == 200 and data == b"secret words"
    status, _, data = request(server, "GET", path[:-4] + "AAAA")  # a wrong link
    assert status == 401 and json.loads(data)["error_code"] == 110
    status, _, data = request(server, "GET", path[:-4] + "AAAA",
                              headers={"Authorization": f"Bearer {TOKENS['read']}"})
    assert status == 404  # someone logged in learns it does not exist


def test_the_audit_log_records_who_did_what_from_where(server):
    gate = server.registry.gate  # type: ignore[attr-defined]
    status, answer = api(server, "POST", "/api/tasks",
                         {"task_name": "gated", "params": {}, "wait": 0}, role="submit")
    assert status == 202
    gated_id = answer["task_id"]
    wait_until(lambda: api(server, "GET", f"/api/tasks/{gated_id}", role="read")[1]["status"]
               == "RUNNING", timeout_s=10)
    api(server, "POST", f"/api/tasks/{gated_id}/cancel", role="admin")
    gate.set()
    status, answer = api(server, "POST", "/api/tasks", {"task_name": "boom", "params": {}},
                         role="submit")
    boom_id = answer["task_id"]
    assert status == 500
    api(server, "POST", f"/api/tasks/{boom_id}/retry", role="submit")
    api(server, "POST", "/api/chains", {"steps": [{"task_name": "echo", "params": {}},
                                                  {"task_name": "echo", "params": {}}]},
        role="submit")
    server.submit("echo", {})  # from Python in the server's process: not an HTTP action
    status, log = api(server, "GET", "/api/audit", role="admin")
    assert status == 200
    seen = [(entry["action"], entry["actor"], entry["role"], entry["task_id"])
            for entry in reversed(log["entries"])]
    assert seen[:4] == [("launch", "submit-bot", "submit", gated_id),
                        ("cancel", "admin-bot", "admin", gated_id),
                        ("launch", "submit-bot", "submit", boom_id),
                        ("retry", "submit-bot", "submit", boom_id)]
    assert seen[4][:3] == ("chain", "submit-bot", "submit") and len(seen) == 5
    first = log["entries"][-1]
    assert first["address"] == "127.0.0.1" and first["task_name"] == "gated"
    assert first["at"].endswith("Z") or first["at"].endswith("+00:00")
    assert log["entries"][-2]["detail"] == "asked to stop while running"
    status, page = api(server, "GET", f"/api/audit?task_id={boom_id}&limit=1", role="admin")
    assert [entry["action"] for entry in page["entries"]] == ["retry"]
    assert page["next_cursor"] is not None
    status, answer = api(server, "GET", "/api/audit?limit=0", role="admin")
    assert status == 400 and answer["error_where"] == "query.limit"


def test_an_action_that_changes_nothing_writes_no_audit_entry(server):
    done = server.submit("echo", {})
    done.wait(10)
    api(server, "POST", f"/api/tasks/{done.id}/cancel", role="submit")  # already finished
    status, answer = api(server, "POST", f"/api/tasks/{done.id}/retry", role="submit")
    assert status == 409  # a task that succeeded is not run again
    _, log = api(server, "GET", "/api/audit", role="admin")
    assert log["entries"] == []


def login(server: deferred.Server, user: str, password: str, *, next_path: str = "/",
          token: str = "") -> tuple[int, dict[str, str], str, str]:
    """Log in as a browser does: the login page for its CSRF cookie, then the form.
    Returns (status, headers, body, the cookies to send next)."""
    status, headers, _ = request(server, "GET", next_path, headers={"Accept": "text/html"})
    assert status == 401
    csrf = re.search(r"deferred_csrf=([0-9a-f]+)", headers["set-cookie"]).group(1)
    form = urllib.parse.urlencode({"csrf_token": csrf, "user": user, "password": password,
                                   "token": token, "next": next_path}).encode()
    status, headers, data = request(server, "POST", "/login", form, headers={
        "Content-Type": "application/x-www-form-urlencoded", "Accept": "text/html",
        "Cookie": f"deferred_csrf={csrf}"})
    cookies = f"deferred_csrf={csrf}"
    match = re.search(r"deferred_session=([^;]+)", headers.get("set-cookie", ""))
    if match:
        cookies += f"; deferred_session={match.group(1)}"
    return status, headers, data.decode(), cookies


def test_the_ui_logs_in_with_a_password_keeps_a_session_and_logs_out(server):
    status, headers, _, cookies = login(server, "alice", PASSWORD, next_path="/tasks?status=all")
    assert status == 303 and headers["location"].endswith("/tasks?status=all")
    session_cookie = headers["set-cookie"]
    assert "HttpOnly" in session_cookie and "samesite=strict" in session_cookie.lower()
    assert "Secure" not in session_cookie  # plain HTTP here; see the TLS test below
    status, _, page = request(server, "GET", "/tasks", headers={"Cookie": cookies,
                                                                "Accept": "text/html"})
    assert status == 200
    assert b"alice" in page and b">Launch<" in page and b">Audit<" in page
    status, _, data = request(server, "GET", "/api/audit", headers={"Cookie": cookies})
    actions = [entry["action"] for entry in json.loads(data)["entries"]]
    assert status == 200 and actions == ["login"]
    csrf = re.search(r"deferred_csrf=([0-9a-f]+)", cookies).group(1)
    status, headers, _ = request(server, "POST", "/logout", f"csrf_token={csrf}".encode(),
                                 headers={"Cookie": cookies, "Accept": "text/html",
                                          "Content-Type": "application/x-www-form-urlencoded"})
    assert status == 303 and "deferred_session=;" in headers["set-cookie"].replace('""', "")
    status, _, _ = request(server, "GET", "/tasks", headers={"Cookie": cookies,
                                                             "Accept": "text/html"})
    assert status == 401  # the old cookie no longer works: the session is gone


def test_a_read_user_sees_no_action_it_may_not_take(server):
    failed = server.submit("boom", {})
    finish(failed)
    _, _, _, cookies = login(server, "rita", PASSWORD)
    for path in ("/", f"/tasks/{failed.id}", "/tasks"):
        status, _, page = request(server, "GET", path, headers={"Cookie": cookies,
                                                                "Accept": "text/html"})
        assert status == 200 and b"rita" in page
        assert b"/launch" not in page and b"/retry" not in page and b"/audit" not in page
    status, _, page = request(server, "GET", "/launch", headers={"Cookie": cookies,
                                                                 "Accept": "text/html"})
    assert status == 403 and b"error 111" in page


def test_a_wrong_password_says_so_without_naming_the_part_and_is_logged(server):
    for user in ("alice", "nobody"):
        status, headers, page, _ = login(server, user, "wrong password")
        assert status == 401 and "set-cookie" not in headers or \
            "deferred_session" not in headers.get("set-cookie", "")
        assert "wrong user name or password" in page
    status, headers, _, cookies = login(server, "", "", token=TOKENS["read"])
    assert status == 303  # an API token logs in too
    _, log = api(server, "GET", "/api/audit", role="admin")
    assert [(entry["action"], entry["actor"]) for entry in reversed(log["entries"])] == [
        ("login_failed", "alice"), ("login_failed", "nobody"), ("login", "read-bot")]


def test_failed_logins_from_one_address_are_throttled(server):
    for _ in range(10):
        status, _, _, _ = login(server, "alice", "wrong password")
        assert status == 401
    status, _, page, _ = login(server, "alice", PASSWORD)  # even the right one, for a while
    assert status == 429 and "too many failed logins" in page


def test_login_goes_back_only_to_a_page_of_this_server(server):
    for next_path in ("https://evil.example/", "//evil.example/x", "/\\evil.example"):
        _, _, _, cookies = login(server, "alice", PASSWORD)
        csrf = re.search(r"deferred_csrf=([0-9a-f]+)", cookies).group(1)
        form = urllib.parse.urlencode({"csrf_token": csrf, "user": "alice",
                                       "password": PASSWORD, "next": next_path}).encode()
        status, headers, _ = request(server, "POST", "/login", form, headers={
            "Content-Type": "application/x-www-form-urlencoded", "Cookie": cookies})
        assert status == 303 and headers["location"].endswith("/") and \
            "evil" not in headers["location"]


def test_behind_tls_the_session_cookie_is_secure(tmp_path, registry, quick_password_hash):
    server = start_server(tmp_path, registry, auth=auth_config(quick_password_hash),
                          http={"port": 0, "public_url": "https://tasks.example.com"})
    try:
        status, headers, _, _ = login(server, "alice", PASSWORD)
        assert status == 303 and "Secure" in headers["set-cookie"]
    finally:
        server.stop()


def test_without_auth_on_loopback_everyone_acts_as_local_and_is_audited(tmp_path, registry):
    server = start_server(tmp_path, registry)
    try:
        status, answer = api(server, "POST", "/api/tasks", {"task_name": "echo", "params": {}})
        assert status == 200
        status, log = api(server, "GET", "/api/audit")
        assert status == 200
        assert [(entry["action"], entry["actor"], entry["address"])
                for entry in log["entries"]] == [("launch", "local", "127.0.0.1")]
        status, _, page = request(server, "GET", "/", headers={"Accept": "text/html"})
        assert status == 200 and b"Log out" not in page and b">Launch<" in page
    finally:
        server.stop()


@pytest.mark.parametrize("host", ["0.0.0.0", "::"])
def test_listening_beyond_loopback_without_auth_is_refused(tmp_path, registry, host):
    server = deferred.Server({"db": {"url": f"sqlite+pysqlite:///{tmp_path / 'tasks.db'}"},
                              "http": {"host": host, "port": 0}}, registry=registry)
    with pytest.raises(deferred.DeferredError) as info:
        server.start()
    assert info.value.code == 302 and "not a loopback address" in str(info.value)
    assert "--insecure" in str(info.value)


def test_an_admin_makes_and_revokes_tokens_that_work_at_once(server):
    status, made = api(server, "POST", "/api/tokens", {"name": "grafana", "role": "read"},
                       role="admin")
    assert status == 201 and made["token"].startswith("dfr_") and made["role"] == "read"
    new = made["token"]
    status, _, data = request(server, "GET", "/api/tasks",
                              headers={"Authorization": f"Bearer {new}"})
    assert status == 200
    status, _, data = request(server, "POST", "/api/tasks", b'{"task_name": "echo"}',
                              headers={"Authorization": f"Bearer {new}",
                                       "Content-Type": "application/json"})
    assert status == 403 and "'grafana' has the role 'read'" in json.loads(data)["error_msg"]
    status, listed = api(server, "GET", "/api/tokens", role="admin")
    names = {item["name"]: item for item in listed["tokens"]}
    assert names["grafana"]["source"] == "database" and names["grafana"]["role"] == "read"
    assert names["grafana"]["created_by"] == "admin-bot"
    assert names["read-bot"]["source"] == "config"
    assert "sha256" not in json.dumps(listed) and new not in json.dumps(listed)
    status, answer = api(server, "DELETE", "/api/tokens/grafana", role="admin")
    assert status == 200 and answer == {"status": "OK", "name": "grafana"}
    status, _, data = request(server, "GET", "/api/tasks",
                              headers={"Authorization": f"Bearer {new}"})
    assert status == 401  # revoked: refused from the next request on
    _, log = api(server, "GET", "/api/audit", role="admin")
    assert [(entry["action"], entry["actor"], entry["detail"]) for entry in log["entries"]] == [
        ("token_revoked", "admin-bot", "token 'grafana'"),
        ("token_created", "admin-bot", "token 'grafana' with the role 'read'")]


@pytest.mark.parametrize("method, path, payload, status, code, where", [
    ("POST", "/api/tokens", {"name": "read-bot"}, 409, 100, "name"),  # a config token's name
    ("POST", "/api/tokens", {"name": "a b"}, 400, 100, "name"),
    ("POST", "/api/tokens", {"name": "x" * 101}, 400, 100, "name"),
    ("POST", "/api/tokens", {"name": "ok", "role": "root"}, 400, 100, "role"),
    ("POST", "/api/tokens", {"name": "ok", "hash": "sha256:00"}, 400, 100, "body"),
    ("POST", "/api/tokens", {"role": "read"}, 400, 100, "body.name"),
    ("DELETE", "/api/tokens/read-bot", None, 409, 100, "name"),
    ("DELETE", "/api/tokens/nobody", None, 404, 104, "name"),
])
def test_a_bad_token_request_says_what_is_wrong(server, method, path, payload, status, code,
                                                where):
    got, answer = api(server, method, path, payload, role="admin")
    assert (got, answer["error_code"], answer["error_where"]) == (status, code, where)


def test_a_token_name_in_use_is_refused_and_only_admins_manage_tokens(server):
    assert api(server, "POST", "/api/tokens", {"name": "ci"}, role="admin")[0] == 201
    status, answer = api(server, "POST", "/api/tokens", {"name": "ci"}, role="admin")
    assert status == 409 and "exists" in answer["error_msg"]
    for role in ("read", "submit"):
        assert api(server, "GET", "/api/tokens", role=role)[0] == 403
        assert api(server, "POST", "/api/tokens", {"name": "x"}, role=role)[0] == 403
        assert api(server, "DELETE", "/api/tokens/ci", role=role)[0] == 403


# What each route needs; a route missing here fails the walk below, so a new route gets a
# deliberate entry. "public" routes answer anyone, "capability" ones whoever has the link.
ROUTE_ROLES = {
    ("POST", "/api/tasks"): "submit", ("POST", "/"): "submit",
    ("GET", "/api/tasks/<task_id:int>"): "read",
    ("POST", "/api/tasks/<task_id:int>/cancel"): "submit",
    ("POST", "/api/tasks/<task_id:int>/retry"): "submit", ("POST", "/api/chains"): "submit",
    ("POST", "/api/tasks/bulk"): "submit",  # a bulk delete needs admin: its body says so
    ("GET", "/api/tasks"): "read", ("GET", "/api/task-types"): "read",
    ("GET", "/api/audit"): "admin", ("GET", "/api/tokens"): "admin",
    ("POST", "/api/tokens"): "admin", ("DELETE", "/api/tokens/<name>"): "admin",
    ("GET", "/results/<token>"): "capability", ("GET", "/healthz"): "public",
    ("GET", "/metrics"): "read", ("GET", "/api/openapi.json"): "read",
    ("GET", "/"): "read", ("GET", "/ui/parts/overview"): "read", ("GET", "/tasks"): "read",
    ("GET", "/ui/parts/tasks"): "read", ("GET", "/tasks/<task_id:int>"): "read",
    ("GET", "/ui/parts/task/<task_id:int>"): "read",
    ("GET", "/api/servers"): "read", ("GET", "/servers"): "read",
    ("GET", "/ui/parts/servers"): "read",
    ("GET", "/tasks/<task_id:int>/result"): "read",
    ("POST", "/tasks/<task_id:int>/cancel"): "submit",
    ("POST", "/tasks/<task_id:int>/retry"): "submit", ("GET", "/launch"): "submit",
    ("POST", "/tasks/bulk"): "submit", ("POST", "/tasks/bulk/apply"): "submit",
    ("POST", "/launch"): "submit", ("GET", "/audit"): "admin", ("GET", "/tokens"): "admin",
    ("POST", "/tokens"): "admin", ("POST", "/tokens/<name>/revoke"): "admin",
    ("POST", "/login"): "public", ("POST", "/logout"): "read",
    ("GET", "/static/<name>"): "public", ("GET", "/<path:re:(?!api/|results/).+>"): "read",
    ("GET", "/ui/parts/stats"): "read", ("GET", "/task-types/<name>"): "read",
    ("GET", "/api/stats"): "read",
    ("GET", "/ui/parts/task-type/<name>"): "read",
    ("GET", "/ui/parts/task-type/<name>/recent"): "read",
    ("POST", "/api/task-types/<name>/pause"): "admin",
    ("POST", "/api/task-types/<name>/resume"): "admin",
    ("POST", "/task-types/<name>/pause"): "admin", ("POST", "/task-types/<name>/resume"): "admin",
}
RANK = {"read": 1, "submit": 2, "admin": 3}


@pytest.mark.parametrize("role", ["read", "submit"])
def test_every_route_refuses_a_role_below_the_one_it_needs(server, role):
    done = server.submit("echo", {})
    done.wait(10)
    walked = route_paths(server)
    assert {(method, rule) for method, rule, _ in walked} == set(ROUTE_ROLES)
    for method, rule, path in walked:
        needed = ROUTE_ROLES[(method, rule)]
        status, _, data = request(server, method, path, b"{}" if method != "GET" else None,
                                  headers={"Authorization": f"Bearer {TOKENS[role]}",
                                           "Content-Type": "application/json",
                                           "Accept": "application/json"})
        refused_for_role = status == 403 and (b'"error_code":111' in data
                                              or b"error 111" in data)
        if needed in RANK and RANK[role] < RANK[needed]:
            assert refused_for_role, (role, method, rule, status, data[:200])
        else:
            assert status != 401 and not refused_for_role, (role, method, rule, status)


def test_a_login_needs_its_csrf_token_and_this_site_as_origin(server):
    form = urllib.parse.urlencode({"user": "alice", "password": PASSWORD}).encode()
    status, _, page = request(server, "POST", "/login", form, headers={
        "Content-Type": "application/x-www-form-urlencoded", "Accept": "text/html"})
    assert status == 403 and b"error 109" in page
    _, _, _, cookies = login(server, "alice", "wrong password")
    csrf = re.search(r"deferred_csrf=([0-9a-f]+)", cookies).group(1)
    form = urllib.parse.urlencode({"csrf_token": csrf, "user": "alice",
                                   "password": PASSWORD}).encode()
    status, headers, page = request(server, "POST", "/login", form, headers={
        "Content-Type": "application/x-www-form-urlencoded", "Accept": "text/html",
        "Cookie": cookies, "Origin": "https://evil.example"})
    assert status == 403 and b"error 109" in page and "set-cookie" not in headers


def test_a_session_ends_when_its_token_is_revoked(server):
    _, made = api(server, "POST", "/api/tokens", {"name": "temp", "role": "admin"},
                  role="admin")
    status, _, _, cookies = login(server, "", "", token=made["token"])
    assert status == 303
    status, _, _ = request(server, "GET", "/api/audit", headers={"Cookie": cookies})
    assert status == 200
    api(server, "DELETE", "/api/tokens/temp", role="admin")
    status, _, _ = request(server, "GET", "/api/audit", headers={"Cookie": cookies})
    assert status == 401


def test_a_session_follows_the_config_its_user_has_now(tmp_path, registry, password_hash):
    # Logins against hashes at the product's own scrypt parameters (the other tests use the
    # earlier, cheaper ones, which still verify).
    first = start_server(tmp_path, registry, auth=auth_config(password_hash))
    try:
        _, _, _, alice = login(first, "alice", PASSWORD)
        _, _, _, rita = login(first, "rita", PASSWORD)
    finally:
        first.stop()
    changed = auth_config(password_hash)
    changed["users"] = [{"name": "alice", "role": "read", "password": password_hash("x" * 8)}]
    second = start_server(tmp_path, registry, auth=changed)  # the same database
    try:
        status, _, _ = request(second, "GET", "/api/audit", headers={"Cookie": alice})
        assert status == 403  # demoted to read: the session has the role she has now
        status, _, _ = request(second, "GET", "/api/tasks", headers={"Cookie": alice})
        assert status == 200
        status, _, _ = request(second, "GET", "/api/tasks", headers={"Cookie": rita})
        assert status == 401  # removed from the config: her session is over
    finally:
        second.stop()


def test_logging_out_without_a_session_writes_no_audit_entry(server):
    status, _, _, cookies = login(server, "alice", PASSWORD)
    csrf = re.search(r"deferred_csrf=([0-9a-f]+)", cookies).group(1)
    status, _, _ = request(server, "POST", "/logout", f"csrf_token={csrf}".encode(), headers={
        "Content-Type": "application/x-www-form-urlencoded",
        "Cookie": f"deferred_csrf={csrf}", "Authorization": f"Bearer {TOKENS['read']}"})
    assert status == 303
    _, log = api(server, "GET", "/api/audit", role="admin")
    assert [entry["action"] for entry in log["entries"]] == ["login"]


def test_behind_a_trusted_proxy_the_audit_log_has_the_client_and_cookies_are_secure(
        tmp_path, registry, quick_password_hash):
    server = start_server(tmp_path, registry, auth=auth_config(quick_password_hash),
                          http={"port": 0, "trusted_proxy": "127.0.0.1"})
    try:
        status, _, _ = request(server, "POST", "/api/tasks", b'{"task_name": "echo"}',
                               headers={"Authorization": f"Bearer {TOKENS['submit']}",
                                        "Content-Type": "application/json",
                                        "X-Forwarded-For": "203.0.113.9",
                                        "X-Forwarded-Proto": "https"})
        assert status == 200
        _, log = api(server, "GET", "/api/audit", role="admin")
        assert log["entries"][0]["address"] == "203.0.113.9"
        status, headers, _ = request(server, "GET", "/", headers={
            "Accept": "text/html", "X-Forwarded-For": "203.0.113.9",
            "X-Forwarded-Proto": "https"})
        assert status == 401 and "Secure" in headers["set-cookie"]  # the login form's cookie
    finally:
        server.stop()


def test_without_a_trusted_proxy_forwarded_headers_are_ignored(server):
    status, _, _ = request(server, "POST", "/api/tasks", b'{"task_name": "echo"}',
                           headers={"Authorization": f"Bearer {TOKENS['submit']}",
                                    "Content-Type": "application/json",
                                    "X-Forwarded-For": "203.0.113.9"})
    assert status == 200
    _, log = api(server, "GET", "/api/audit", role="admin")
    assert log["entries"][0]["address"] == "127.0.0.1"


def test_a_request_cannot_forge_a_log_line(server, caplog):
    with caplog.at_level("INFO"):
        request(server, "GET", "/static/x%0a2026-01-01%20WARNING%20admin%20logged%20in",
                headers={"Accept": "text/html"})
    lines = [record.getMessage() for record in caplog.records]
    assert any("admin logged in" in line for line in lines)
    assert not any("\n" in line for line in lines)


def test_a_login_page_of_an_app_mounted_under_a_prefix_goes_back_there(server):
    environ = {"REQUEST_METHOD": "GET", "SCRIPT_NAME": "/jobs", "PATH_INFO": "/tasks",
               "QUERY_STRING": "status=all", "HTTP_ACCEPT": "text/html",
               "REMOTE_ADDR": "127.0.0.1", "wsgi.input": io.BytesIO(),
               "wsgi.errors": io.StringIO()}
    wsgiref.util.setup_testing_defaults(environ)
    answer = {}
    page = b"".join(server.wsgi_app(environ, lambda status, headers, exc_info=None:
                                    answer.update(status=status)))
    assert answer["status"].startswith("401")
    assert b'name="next" value="/tasks?status=all"' in page
    assert b'action="/jobs/login"' in page
