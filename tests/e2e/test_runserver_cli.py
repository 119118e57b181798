"""`runserver` and the `deferred` command as users type them: options, overrides, errors."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from serverproc import PROJECT_ROOT, ServerProcess

SAMPLE_TASKS = PROJECT_ROOT / "sample_tasks.py"
DEFERRED = Path(sys.executable).with_name("deferred")


def run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=60,
                          check=False)


def test_limits_from_the_command_line_override_the_config(servers, tmp_path):
    server = ServerProcess(SAMPLE_TASKS, tmp_path,
                           {"limits": {"global": 15, "names": {"slow": 4, "mult": 2}}},
                           extra_args=("--limit-global", "3", "--limit", "slow=1")).start()
    servers.append(server)
    status, body = server.request("GET", "/api/task-types")
    assert status == 200
    assert body["limits"] == {"global": 3}
    limits = {item["name"]: item["limit"] for item in body["task_types"]}
    assert (limits["slow"], limits["mult"], limits["multiprint"]) == (1, 2, None)


def test_runserver_uses_config_json_of_the_current_directory(servers, tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"limits": {"global": 5}}))
    server = ServerProcess(SAMPLE_TASKS, tmp_path, config=None)
    servers.append(server.start())
    assert server.request("GET", "/api/task-types")[1]["limits"] == {"global": 5}
    assert (tmp_path / "deferred.db").exists()  # the SQLite default, in the cwd


def test_runserver_help_lists_its_options(tmp_path):
    done = run([sys.executable, str(SAMPLE_TASKS), "runserver", "--help"], tmp_path)
    assert done.returncode == 0
    for option in ("--config", "--host", "--port", "--limit-global", "--limit TASK=N"):
        assert option in done.stdout


@pytest.mark.parametrize("args, message", [
    (["--limit", "slow"], "deferred: error 100: argument --limit: expected TASK=N, got 'slow'"),
    (["--limit-global", "0"], "deferred: error 100: argument --limit-global: a limit must be "
                              "at least 1, got 0"),
    (["--port", "70000"], "deferred: error 100: argument --port: port must be 0-65535"),
    (["--config", "missing.json"], "deferred: error 302: missing.json: cannot read the "
                                   "configuration: No such file or directory"),
])
def test_bad_runserver_options_are_one_line_errors(tmp_path, args, message):
    done = run([sys.executable, str(SAMPLE_TASKS), "runserver", *args], tmp_path)
    assert done.returncode == 2
    assert done.stderr.startswith(message)
    assert len(done.stderr.splitlines()) == 1 and "Traceback" not in done.stderr


def test_a_bad_config_file_names_file_and_key(tmp_path):
    (tmp_path / "config.json").write_text('{"limits": {"global": -1}}')
    done = run([sys.executable, str(SAMPLE_TASKS), "runserver"], tmp_path)
    assert (done.returncode, done.stderr) == (
        2, "deferred: error 302: config.json: $.limits.global: -1 is less than the minimum "
           "of 1\n")


def test_a_port_in_use_is_a_one_line_error(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = run([sys.executable, str(SAMPLE_TASKS), "runserver", "--port", str(port)],
                   tmp_path)
    assert done.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}" in done.stderr
    assert "Traceback" not in done.stderr


def test_the_deferred_command_takes_the_tasks_file_first(tmp_path):
    done = run([str(DEFERRED), str(SAMPLE_TASKS), "mult", "--params",
                '{"operands": [3, 2, 8]}'], tmp_path)
    assert (done.returncode, done.stdout, done.stderr) == (0, "48\n", "")
    listed = run([str(DEFERRED), str(SAMPLE_TASKS), "--help"], tmp_path)
    assert listed.returncode == 0 and "multiprint" in listed.stdout
    assert "usage: deferred " in listed.stdout


def test_the_deferred_command_runs_the_server(servers, tmp_path):
    server = ServerProcess(SAMPLE_TASKS, tmp_path, {})
    server.command = [str(DEFERRED), str(SAMPLE_TASKS)]
    servers.append(server.start())
    status, body = server.request("POST", "/", {"task_name": "multiprint",
                                                "params": {"msg": "hello", "count": 2}})
    assert (status, body["status"], body["result"]) == (200, "OK", "hello\nhello")


def test_the_deferred_command_reports_a_missing_tasks_file(tmp_path):
    done = run([str(DEFERRED), "nope.py", "runserver"], tmp_path)
    assert done.returncode == 2
    assert done.stderr.startswith("deferred: error 100: nope.py: no such tasks file")
