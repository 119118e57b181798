"""Closed when exposed, as an operator meets it: `runserver` on a non-loopback address refuses
to start without auth, `--insecure` starts it with a loud warning, and
`python -m deferred.credentials` makes the token and user entries a config needs."""

from __future__ import annotations

import http.server
import json
import os
import subprocess
import sys
import threading
import urllib.error
import urllib.request
import urllib.parse

from conftest import PROJECT_ROOT, SAMPLE_TASKS
from serverproc import ServerProcess


def credentials(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "deferred.credentials", *args], input=stdin,
                          capture_output=True, text=True, timeout=60,
                          env=dict(os.environ, PYTHONPATH=str(PROJECT_ROOT)))


def local_url(server: ServerProcess, path: str) -> str:
    """The server's URL on 127.0.0.1 (it announces the machine's name when on 0.0.0.0)."""
    port = urllib.parse.urlsplit(server.url).port
    return f"http://127.0.0.1:{port}{path}"


def get(url: str, token: str | None = None) -> tuple[int, dict]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers),
                                    timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_runserver_beyond_loopback_without_auth_refuses_to_start(run_cli, tmp_path):
    done = run_cli("runserver", "--host", "0.0.0.0", "--port", "0")
    assert done.returncode == 2
    assert done.stderr.startswith("deferred: error 302: http.host: '0.0.0.0' is not a loopback "
                                  "address")
    assert "--insecure" in done.stderr and "python -m deferred.credentials" in done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""


def test_insecure_starts_open_with_a_loud_warning(tmp_path, servers):
    server = ServerProcess(SAMPLE_TASKS, tmp_path, extra_args=("--host", "0.0.0.0",
                                                               "--insecure"))
    servers.append(server.start())
    assert "INSECURE: listening on 0.0.0.0 with no authentication" in server.log
    status, body = get(local_url(server, "/api/task-types"))
    assert status == 200 and body["task_types"]


def test_credentials_made_by_the_tool_open_an_exposed_server(tmp_path, servers):
    made = credentials("token", "--name", "ci", "--role", "submit")
    assert made.returncode == 0, made.stderr
    token, entry = made.stdout.splitlines()
    assert token.startswith("dfr_") and "shown once" in made.stderr
    assert "Warning" not in made.stderr
    token_entry = json.loads(entry)
    assert token_entry["name"] == "ci" and token_entry["role"] == "submit"
    assert token not in entry  # only the hash goes into the config
    made = credentials("user", "--name", "alice", "--role", "admin",
                       stdin="a long passphrase\n")
    assert made.returncode == 0, made.stderr
    user_entry = json.loads(made.stdout)
    assert user_entry["password"].startswith("scrypt$131072$8$1$")  # OWASP's parameters
    assert "passphrase" not in made.stdout
    server = ServerProcess(SAMPLE_TASKS, tmp_path,
                           config={"auth": {"tokens": [token_entry], "users": [user_entry]}},
                           extra_args=("--host", "0.0.0.0"))
    servers.append(server.start())
    assert "INSECURE" not in server.log
    status, body = get(local_url(server, "/api/tasks"))
    assert status == 401 and body["error_code"] == 110
    status, body = get(local_url(server, "/api/tasks"), token)
    assert status == 200 and body["tasks"] == []
    status, body = get(local_url(server, "/healthz"))
    assert status == 200, (body, server.log)


def test_the_credentials_tool_refuses_a_short_password_and_a_bad_role():
    for password in ("short", "x" * 513):  # a longer one could never log in
        made = credentials("user", "--name", "bob", stdin=password + "\n")
        assert made.returncode == 2
        assert made.stderr == "a password needs 8 to 512 characters\n"
    made = credentials("token", "--name", "x", "--role", "root")
    assert made.returncode == 2 and "invalid choice: 'root'" in made.stderr


def test_a_plain_password_in_the_config_is_refused_without_echoing_it(tmp_path, run_cli):
    (tmp_path / "config.json").write_text(json.dumps(
        {"auth": {"users": [{"name": "alice", "password": "hunter2hunter2"}]}}))
    done = run_cli("runserver", "--port", "0")
    assert done.returncode == 2
    assert "error 302" in done.stderr and "$.auth.users[0].password: not a password hash" \
        in done.stderr
    assert "hunter2" not in done.stderr


def test_a_hash_beyond_the_scrypt_limits_stops_the_server_naming_the_user(tmp_path, run_cli):
    # N=2^20 needs 1 GiB per check: hashlib would refuse it at every login, quietly.
    stored = "scrypt$1048576$8$1$c2l4dGVlbiBieXRlIHNsdA==$" + "A" * 43 + "="
    (tmp_path / "config.json").write_text(json.dumps(
        {"auth": {"users": [{"name": "alice", "password": stored}]}}))
    done = run_cli("runserver", "--port", "0")
    assert done.returncode == 2
    assert ("error 302" in done.stderr and "$.auth.users[0].password: scrypt N=1048576, r=8, "
            "p=1 needs 1025 MiB to check, over the limit of 256 MiB (user 'alice')"
            in done.stderr), done.stderr
    assert "Traceback" not in done.stderr


def test_the_cli_client_sends_the_token_from_its_environment(tmp_path, servers, run_cli,
                                                            monkeypatch):
    made = credentials("token", "--name", "cron", "--role", "submit")
    token, entry = made.stdout.splitlines()
    server = ServerProcess(SAMPLE_TASKS, tmp_path,
                           config={"auth": {"tokens": [json.loads(entry)]}})
    servers.append(server.start())
    monkeypatch.setenv("DEFERRED_SERVER", server.url)
    monkeypatch.delenv("DEFERRED_TOKEN", raising=False)
    refused = run_cli("submit", "multiprint", "--params", '{"msg": "hi"}')
    assert refused.returncode == 2
    assert refused.stderr.startswith("deferred: error 110: ")
    monkeypatch.setenv("DEFERRED_TOKEN", "dfr_wrong")
    refused = run_cli("submit", "multiprint", "--params", '{"msg": "hi"}')
    assert refused.returncode == 2
    assert refused.stderr.startswith("deferred: error 110: DEFERRED_TOKEN: the API token "
                                     "is not valid")
    monkeypatch.setenv("DEFERRED_TOKEN", token)
    done = run_cli("submit", "multiprint", "--params", '{"msg": "hi"}', "--wait", "20")
    assert done.returncode == 0, done.stderr
    assert "hi" in done.stdout


def test_a_token_with_a_line_break_is_refused_without_a_traceback(run_cli, monkeypatch):
    monkeypatch.setenv("DEFERRED_TOKEN", "dfr_abc\nInjected: header")
    done = run_cli("status", "1", "--server", "http://127.0.0.1:9")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.startswith("deferred: error 100: DEFERRED_TOKEN: an API token is "
                                  "printable ASCII")


def test_the_client_follows_no_redirect_so_its_token_stays_home(run_cli, monkeypatch):
    seen: list[str] = []

    class Elsewhere(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (the name http.server calls)
            seen.append(self.headers.get("Authorization", ""))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    elsewhere = http.server.HTTPServer(("127.0.0.2", 0), Elsewhere)

    class Redirecting(Elsewhere):
        def do_GET(self) -> None:  # noqa: N802
            self.send_response(302)
            self.send_header("Location", f"http://127.0.0.2:{elsewhere.server_port}/x")
            self.end_headers()

    home = http.server.HTTPServer(("127.0.0.1", 0), Redirecting)
    threads = [threading.Thread(target=server.serve_forever, name=f"http-{index}")
               for index, server in enumerate((elsewhere, home))]
    for thread in threads:
        thread.start()
    try:
        monkeypatch.setenv("DEFERRED_TOKEN", "dfr_secret")
        done = run_cli("status", "1", "--server", f"http://127.0.0.1:{home.server_port}")
    finally:
        for server in (elsewhere, home):
            server.shutdown()
            server.server_close()
        for thread in threads:
            thread.join(10)
    assert done.returncode == 2 and "error 503" in done.stderr  # not a deferred server
    assert seen == []
