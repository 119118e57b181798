"""What an operator watches on a real `runserver`: one log line per task start and end, in
text or as JSON objects (`--log-format json`), and `/healthz` saying whether the database
answers, while a real PostgreSQL goes away and comes back."""

from __future__ import annotations

import json
import re
import shlex
import sys
from pathlib import Path
from typing import Any

from serverproc import PROJECT_ROOT, ServerProcess, wait_until

SAMPLE_TASKS = PROJECT_ROOT / "sample_tasks.py"
TASK_FIELDS = ("task_id", "task_name", "attempt")


def start_server(servers: list[ServerProcess], tmp_path: Path, config: dict[str, Any], *,
                 before: tuple[str, ...] = (), after: tuple[str, ...] = ()) -> ServerProcess:
    """`python sample_tasks.py BEFORE... runserver --config ... --port 0 AFTER...`, its stderr
    (the log) alone in tmp_path/stderr.log; stdout carries the "listening on" line."""
    server = ServerProcess(SAMPLE_TASKS, tmp_path, config, extra_args=after)
    log = shlex.quote(str(tmp_path / "stderr.log"))
    server.command = ["/bin/sh", "-c", f'exec "$@" 2>{log}', "sh", sys.executable,
                      str(SAMPLE_TASKS), *before]
    servers.append(server.start())
    return server


def log_lines(tmp_path: Path) -> list[str]:
    """The whole lines written to stderr so far."""
    text = (tmp_path / "stderr.log").read_text(encoding="utf-8")
    return text.splitlines()[:text.count("\n")]


def json_entries(tmp_path: Path) -> list[dict[str, Any]]:
    entries = [json.loads(line) for line in log_lines(tmp_path)]  # every line is JSON
    assert all(isinstance(entry, dict) for entry in entries)
    return entries


def task_entries(tmp_path: Path, task_id: int) -> list[dict[str, Any]]:
    return [entry for entry in json_entries(tmp_path) if entry.get("task_id") == task_id]


def test_json_logs_have_one_object_a_line_and_a_start_and_end_line_per_run(servers, tmp_path):
    server = start_server(servers, tmp_path, {}, before=("--log-format", "json"))
    succeeded = server.submit("mult", {"operands": [3, 2, 8]})
    failed = server.submit("fail", {"message": "boom\non two lines"})
    wait_until(lambda: len(task_entries(tmp_path, succeeded)) == 2
               and len(task_entries(tmp_path, failed)) == 2)
    server.stop()

    entries = json_entries(tmp_path)
    assert entries and all({"ts", "level", "logger", "message"} <= entry.keys()
                           for entry in entries)
    assert any("listening on" in entry["message"] for entry in entries)
    start, end = task_entries(tmp_path, succeeded)
    assert (start["level"], start["message"]) == ("INFO", f"task {succeeded} (mult) attempt 1 "
                                                          "started")
    assert {key: start[key] for key in TASK_FIELDS} == {
        "task_id": succeeded, "task_name": "mult", "attempt": 1}
    assert "status" not in start and "duration_s" not in start
    assert {key: end[key] for key in (*TASK_FIELDS, "status")} == {
        "task_id": succeeded, "task_name": "mult", "attempt": 1, "status": "SUCCEEDED"}
    assert 0 <= end["duration_s"] < 30 and end["level"] == "INFO"
    assert re.fullmatch(rf"task {succeeded} \(mult\) attempt 1 SUCCEEDED in \d+\.\d{{3}}s",
                        end["message"])
    failed_end = task_entries(tmp_path, failed)[1]
    assert (failed_end["status"], failed_end["error"]) == (
        "FAILED", "RuntimeError: boom | on two lines")
    assert re.fullmatch(rf"task {failed} \(fail\) attempt 1 FAILED in \d+\.\d{{3}}s: "
                        r"RuntimeError: boom \| on two lines", failed_end["message"])


def test_runserver_logs_readable_start_and_end_lines_by_default(servers, tmp_path):
    server = start_server(servers, tmp_path, {})
    task_id = server.submit("mult", {"operands": [6, 7]})

    def finished_line() -> str | None:
        return next((line for line in log_lines(tmp_path)
                     if f"task {task_id} (mult) attempt 1 SUCCEEDED in " in line), None)

    line = wait_until(finished_line)
    # Logged by whichever thread committed the outcome: the line follows the commit.
    assert re.search(r" INFO \[deferred-[\w-]+\] deferred\.runtime\.runner: task \d+ \(mult\) "
                     r"attempt 1 SUCCEEDED in \d+\.\d{3}s$", line), line
    started = [line for line in log_lines(tmp_path)
               if line.endswith(f"deferred.runtime.runner: task {task_id} (mult) attempt 1 started")]
    assert len(started) == 1
    assert not any(line.startswith("{") for line in log_lines(tmp_path))


def test_a_one_shot_run_stays_quiet_and_logs_json_when_asked(run_cli):
    quiet = run_cli("--log-format", "json", "mult", "--params", '{"operands": [3, 2, 8]}')
    assert (quiet.returncode, quiet.stdout, quiet.stderr) == (0, "48\n", "")
    told = run_cli("--log-format=json", "--log-level", "info", "mult", "--params",
                   '{"operands": [3, 2, 8]}')
    assert (told.returncode, told.stdout) == (0, "48\n")
    entries = [json.loads(line) for line in told.stderr.splitlines()]
    assert [entry["message"] for entry in entries] == ["running task mult"]


def test_healthz_says_when_the_database_is_unreachable_and_when_it_is_back(
        servers, tmp_path, postgres, postgres_url):
    server = start_server(servers, tmp_path, {"db": {"url": postgres_url}},
                          after=("--log-format", "json"))
    status, body = server.request("GET", "/healthz")
    assert (status, body) == (200, {"status": "OK", "server_id": body["server_id"],
                                    "server": "running", "store": "reachable"})
    postgres.halt()
    try:
        status, body = wait_until(lambda: (answer := server.request("GET", "/healthz"))[0]
                                  == 503 and answer, timeout_s=30)
    finally:
        postgres.start_again()
    assert body == {"status": "ERROR", "error_code": 500,
                    "error_msg": "the database does not answer; see the server log",
                    "server_id": body["server_id"], "server": "running", "store": "unreachable"}
    wait_until(lambda: server.request("GET", "/healthz")[0] == 200, timeout_s=30)
    assert server.request("GET", "/healthz")[1]["store"] == "reachable"
    task_id = server.submit("mult", {"operands": [2, 3]})
    wait_until(lambda: server.task(task_id)["status"] == "SUCCEEDED", timeout_s=30)
    server.stop()
    # The database's errors (multi-line ones included) were logged as one object a line.
    errors = [entry for entry in json_entries(tmp_path) if entry["level"] == "ERROR"]
    assert any("check the database" in entry["message"] for entry in errors)
