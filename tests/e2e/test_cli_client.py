"""`python sample_tasks.py submit|status|cancel ...` against a real `runserver`, as users type
them: what they print, exit codes, the server's refusals, a server that is not there."""

from __future__ import annotations

import datetime
import json
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import ports
from cli_output import user_error_message
from serverproc import PROJECT_ROOT, ServerProcess, wait_until

RunCli = Callable[..., subprocess.CompletedProcess[str]]

SAMPLE_TASKS = PROJECT_ROOT / "sample_tasks.py"
DEFERRED = Path(sys.executable).with_name("deferred")
SUBMITTED = re.compile(r"task (\d+) (QUEUED|RUNNING)\n")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """One `sample_tasks.py runserver` for the tests of this file that can share it."""
    started = ServerProcess(SAMPLE_TASKS, tmp_path_factory.mktemp("server"), {}).start()
    yield started
    started.stop()


@pytest.fixture(autouse=True)
def no_server_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    """A DEFERRED_SERVER of the environment running the tests would change what they see."""
    monkeypatch.delenv("DEFERRED_SERVER", raising=False)


@pytest.fixture
def free_port() -> int:
    """A loopback port nobody listens on (it was free a moment ago)."""
    return ports.free_port()


def submitted_id(proc: subprocess.CompletedProcess[str]) -> int:
    """The id of `task ID QUEUED` (or RUNNING), checking it is all the command said."""
    assert (proc.returncode, proc.stderr) == (0, ""), proc.stderr
    match = SUBMITTED.fullmatch(proc.stdout)
    assert match, proc.stdout
    return int(match.group(1))


def record_of(run_cli: RunCli, server: ServerProcess, task_id: int) -> dict:
    proc = run_cli("status", str(task_id), "--json", "--server", server.url)
    assert proc.returncode in (0, 1), proc.stderr
    assert len(proc.stdout.splitlines()) == 1
    return json.loads(proc.stdout)


# --- submit and status ---------------------------------------------------------------------

def test_submit_prints_the_task_id_at_once_and_status_shows_it_succeeded(
        run_cli: RunCli, server: ServerProcess) -> None:
    task_id = submitted_id(run_cli("submit", "mult", "--params", '{"operands": [3, 2, 8]}',
                                   "--server", server.url))

    record = wait_until(lambda: (lambda r: r if r["status"] == "SUCCEEDED" else None)(
        record_of(run_cli, server, task_id)))
    assert (record["task_id"], record["task_name"], record["result"]) == (task_id, "mult", 48)
    shown = run_cli("status", str(task_id), "--server", server.url)
    assert (shown.returncode, shown.stderr) == (0, "")
    assert shown.stdout.startswith('{\n  "task_id": ') and shown.stdout.endswith("}\n")
    assert json.loads(shown.stdout) == server.task(task_id)


def test_submit_with_wait_prints_the_result_as_a_local_run_does(
        run_cli: RunCli, server: ServerProcess) -> None:
    text = run_cli("submit", "multiprint", "--params", '{"msg": "hello", "count": 2}',
                   "--wait", "30", "--server", server.url)
    number = run_cli("submit", "mult", "--params", "@-", "--wait", "30", "--server", server.url,
                     stdin='{"operands": [3, 2, 8]}')

    assert (text.returncode, text.stdout, text.stderr) == (0, "hello\nhello\n", "")
    assert (number.returncode, number.stdout, number.stderr) == (0, "48\n", "")


def test_submit_waits_longer_than_the_server_waits_for_one_request(
        run_cli: RunCli, tmp_path: Path) -> None:
    server = ServerProcess(SAMPLE_TASKS, tmp_path, {"http": {"sync_wait_s": 0.2}}).start()
    try:
        proc = run_cli("submit", "slow", "--params", '{"seconds": 1}', "--wait", "30",
                       "--server", server.url)
    finally:
        server.stop()

    assert (proc.returncode, proc.stderr) == (0, "")
    assert list(json.loads(proc.stdout)) == ["slept_s"]


def test_a_failed_task_with_wait_exits_1_with_its_error(run_cli: RunCli,
                                                         server: ServerProcess) -> None:
    proc = run_cli("submit", "fail", "--params", '{"message": "boom"}', "--wait", "30",
                   "--server", server.url)

    assert (proc.returncode, proc.stdout) == (1, "")
    assert proc.stderr == "deferred: task 'fail' failed: RuntimeError: boom\n"


def test_status_of_a_failed_task_prints_the_record_and_exits_1(
        run_cli: RunCli, server: ServerProcess) -> None:
    task_id = server.submit("fail", {"message": "boom"})
    wait_until(lambda: server.task(task_id)["status"] == "FAILED")

    proc = run_cli("status", str(task_id), "--server", server.url)

    assert proc.returncode == 1
    assert json.loads(proc.stdout)["error"] == {"type": "RuntimeError", "message": "boom"}
    assert proc.stderr == "deferred: task 'fail' failed: RuntimeError: boom\n"


def test_an_idempotency_key_used_again_answers_for_the_first_task(
        run_cli: RunCli, server: ServerProcess) -> None:
    first = submitted_id(run_cli("submit", "mult", "--params", '{"operands": [1]}',
                                 "--delay-s", "600", "--idempotency-key", "cli-once",
                                 "--server", server.url))
    again = run_cli("submit", "mult", "--params", '{"operands": [2]}', "--idempotency-key",
                    "cli-once", "--server", server.url)

    assert (again.returncode, again.stdout, again.stderr) == (0, f"task {first} QUEUED\n", "")


# --- later, and cancel ---------------------------------------------------------------------

def test_a_delayed_task_is_queued_with_its_start_time(run_cli: RunCli,
                                                      server: ServerProcess) -> None:
    proc = run_cli("submit", "mult", "--params", '{"operands": [2]}', "--delay-s", "600",
                   "--server", server.url)

    assert SUBMITTED.fullmatch(proc.stdout) and proc.stdout.endswith(" QUEUED\n"), proc.stdout
    record = record_of(run_cli, server, submitted_id(proc))
    created, run_at = (datetime.datetime.fromisoformat(record[key].replace("Z", "+00:00"))
                       for key in ("created_at", "run_at"))
    assert record["status"] == "QUEUED"
    assert 599 <= (run_at - created).total_seconds() <= 601


def test_cancel_of_a_delayed_task_cancels_it(run_cli: RunCli, server: ServerProcess) -> None:
    tomorrow = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=1)
    task_id = submitted_id(run_cli("submit", "mult", "--params", '{"operands": [2]}',
                                   "--run-at", tomorrow.isoformat(), "--server", server.url))

    proc = run_cli("cancel", str(task_id), "--server", server.url)

    assert (proc.returncode, proc.stdout, proc.stderr) == (0, f"task {task_id} CANCELLED\n", "")
    assert record_of(run_cli, server, task_id)["status"] == "CANCELLED"


def test_cancel_of_a_running_task_asks_it_to_stop(run_cli: RunCli,
                                                   server: ServerProcess) -> None:
    task_id = server.submit("slow", {"seconds": 3})
    wait_until(lambda: server.task(task_id)["status"] == "RUNNING")

    proc = run_cli("cancel", str(task_id), "--server", server.url)

    assert (proc.returncode, proc.stdout, proc.stderr) == (
        0, f"task {task_id} RUNNING, asked to stop\n", "")
    assert wait_until(lambda: server.task(task_id)["status"] == "CANCELLED")


# --- the server refuses --------------------------------------------------------------------

@pytest.mark.parametrize(("args", "code", "fragment"), [
    pytest.param(["submit", "nosuchtask"], 101,
                 "unknown task 'nosuchtask'; known tasks: fail, get_statistics, mult",
                 id="unknown-task-101"),
    pytest.param(["submit", "multiprint", "--params", '{"msg": "hi", "count": -1}'], 102,
                 "$.count: -1 is less than the minimum of 1", id="bad-params-102-names-path"),
    pytest.param(["submit", "multiprint", "--params", '{"msg": "hi",'], 103,
                 "--params: invalid JSON at line 1 column 14", id="bad-json-103"),
    pytest.param(["status", "999999"], 104, "no task with id 999999", id="unknown-id-104"),
    pytest.param(["cancel", "999999"], 104, "no task with id 999999", id="cancel-unknown-104"),
    pytest.param(["submit", "mult", "--run-at", "2030-01-01T00:00:00"], 100,
                 "--run-at: 2030-01-01T00:00:00 has no zone", id="option-named-100"),
    pytest.param(["submit", "mult", "--params", '{"operands": [2]}', "--email", "nobody"],
                 108, "--email: 'nobody' is not", id="bad-email-108"),
    pytest.param(["submit", "mult", "--email", "a@example.com", "--wait", "5"], 100,
                 "--wait: there is no result to wait for: it goes by email",
                 id="wait-with-email-100"),
    pytest.param(["submit", "mult", "--delay-s", "1", "--run-at", "2030-01-01T00:00:00Z"], 100,
                 "argument --run-at: not allowed with argument --delay-s",
                 id="delay-and-run-at-100"),
    pytest.param(["status", "seven"], 100, "argument ID: invalid int value: 'seven'",
                 id="id-not-a-number-100"),
])
def test_a_refusal_exits_2_with_the_servers_code_and_message(
        run_cli: RunCli, server: ServerProcess, args: list[str], code: int,
        fragment: str) -> None:
    proc = run_cli(*args, "--server", server.url)

    assert fragment in user_error_message(proc, code)


# --- finding the server --------------------------------------------------------------------

@pytest.mark.parametrize("args", [["submit", "mult"], ["status", "1"], ["cancel", "1"]],
                         ids=["submit", "status", "cancel"])
def test_no_server_at_the_url_is_one_error_line_with_code_503(
        run_cli: RunCli, free_port: int, args: list[str]) -> None:
    url = f"http://127.0.0.1:{free_port}"

    proc = run_cli(*args, "--server", url)

    assert user_error_message(proc, 503) == (
        f"cannot reach the server at {url}: connection refused; start it with "
        "'python sample_tasks.py runserver'")


def test_the_server_comes_from_deferred_server_unless_given(
        run_cli: RunCli, server: ServerProcess, free_port: int,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEFERRED_SERVER", server.url)
    from_variable = run_cli("submit", "mult", "--params", '{"operands": [6, 7]}', "--wait", "30")
    elsewhere = run_cli("status", "1", "--server", f"http://127.0.0.1:{free_port}")

    assert (from_variable.returncode, from_variable.stdout) == (0, "42\n")
    assert f"cannot reach the server at http://127.0.0.1:{free_port}:" in user_error_message(
        elsewhere, 503)


def test_the_default_server_is_port_5000_of_this_machine(run_cli: RunCli) -> None:
    proc = run_cli("status", "1", "--help")

    assert proc.returncode == 0
    assert "$DEFERRED_SERVER if set, else http://127.0.0.1:5000" in " ".join(proc.stdout.split())


@pytest.mark.parametrize("url", ["127.0.0.1:5000", "ftp://127.0.0.1", "http://host:port"])
def test_a_server_address_that_is_not_a_url_is_a_user_mistake(run_cli: RunCli,
                                                               url: str) -> None:
    proc = run_cli("status", "1", "--server", url)

    assert user_error_message(proc, 100) == (
        f"--server: {url!r} is not a server address such as http://127.0.0.1:5000")


def test_the_deferred_command_submits_too(server: ServerProcess, tmp_path: Path,
                                          free_port: int) -> None:
    def deferred(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(DEFERRED), str(SAMPLE_TASKS), *args], cwd=tmp_path,
                              capture_output=True, text=True, timeout=60, check=False)

    done = deferred("submit", "mult", "--params", '{"operands": [3, 2, 8]}', "--wait", "30",
                    "--server", server.url)
    missing = deferred("status", "1", "--server", f"http://127.0.0.1:{free_port}")

    assert (done.returncode, done.stdout, done.stderr) == (0, "48\n", "")
    assert user_error_message(missing, 503).endswith(
        f"start it with 'deferred {SAMPLE_TASKS} runserver'")


# --- help and start-up ---------------------------------------------------------------------

def test_help_lists_the_client_commands(run_cli: RunCli) -> None:
    proc = run_cli("--help")

    assert (proc.returncode, proc.stderr) == (0, "")
    for command in ("submit", "status", "cancel"):
        assert re.search(rf"^\s+{command}\s+\w", proc.stdout, re.MULTILINE), proc.stdout


def test_help_of_a_command_works_like_help_of_a_task(run_cli: RunCli) -> None:
    proc = run_cli("help", "submit")

    assert (proc.returncode, proc.stderr) == (0, "")
    assert proc.stdout.startswith("usage: sample_tasks.py submit ")
    assert "--idempotency-key" in proc.stdout and "--wait S" in proc.stdout


def test_running_a_task_locally_loads_no_http_client(run_cli: RunCli) -> None:
    proc = run_cli("mult", "--params", '{"operands": [3, 2, 8]}',
                   python_flags=("-X", "importtime"))

    assert (proc.returncode, proc.stdout) == (0, "48\n")
    modules = {line.rsplit("|", 1)[1].strip() for line in proc.stderr.splitlines()
               if line.startswith("import time:") and line.count("|") == 2}
    assert "deferred.cli.client" in modules, "importtime output not parsed"
    assert not modules & {"urllib.request", "http.client", "ssl"}
