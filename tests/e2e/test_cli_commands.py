"""`python sample_tasks.py ...` as users type it: results, user mistakes, failures, help."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from cli_output import user_error_message

RunCli = Callable[..., subprocess.CompletedProcess[str]]

SAMPLE_TASK_SUMMARIES = {
    "fail": "Raise an error, to show how failures are reported.",
    "get_statistics": "Collect statistics and return them as a TSV file.",
    "mult": "Multiply numbers together.",
    "multiprint": "Repeat a message, one line per repetition.",
    "slow": "Sleep for `seconds`, then say how long it slept.",
}

FORBIDDEN_TOP_LEVEL = ("sqlalchemy", "bottle", "waitress")
FORBIDDEN_DEFERRED = ("deferred.server", "deferred.http", "deferred.store", "deferred.mail")


# --- results -------------------------------------------------------------------------------

@pytest.mark.parametrize(("args", "stdout"), [
    pytest.param(["multiprint", "--params", '{"msg": "hello", "count": 2}'], "hello\nhello\n",
                 id="string-result-printed-as-is"),
    pytest.param(["mult", "--params", '{"operands": [3, 2, 8]}'], "48\n",
                 id="run-without-self-and-number-result-printed-as-json"),
    pytest.param(["multiprint", "--params", '{"msg": "once"}'], "once\n",
                 id="schema-default-param-left-out"),
])
def test_task_result_goes_to_stdout_with_exit_0(run_cli: RunCli, args: list[str],
                                                 stdout: str) -> None:
    proc = run_cli(*args)

    assert (proc.returncode, proc.stdout, proc.stderr) == (0, stdout, "")


def test_task_returning_a_dict_prints_it_as_a_json_object(run_cli: RunCli) -> None:
    proc = run_cli("slow", "--params", '{"seconds": 0}')

    assert (proc.returncode, proc.stderr) == (0, "")
    assert proc.stdout.endswith("\n") and len(proc.stdout.splitlines()) == 1
    result = json.loads(proc.stdout)
    assert list(result) == ["slept_s"]
    assert isinstance(result["slept_s"], (int, float))


def test_params_can_be_read_from_a_file(run_cli: RunCli, tmp_path: Path) -> None:
    (tmp_path / "params.json").write_text('{"msg": "from a file", "count": 2}\n')

    proc = run_cli("multiprint", "--params", "@params.json")

    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "from a file\nfrom a file\n", "")


def test_params_can_be_read_from_stdin(run_cli: RunCli) -> None:
    proc = run_cli("multiprint", "--params", "@-", stdin='{"msg": "from stdin", "count": 2}')

    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "from stdin\nfrom stdin\n", "")


def test_log_level_info_logs_the_run_on_stderr_and_keeps_stdout_clean(run_cli: RunCli) -> None:
    proc = run_cli("--log-level", "info", "mult", "--params", '{"operands": [3, 2, 8]}')

    assert (proc.returncode, proc.stdout) == (0, "48\n")
    assert re.search(r"INFO \[MainThread\] deferred\.cli: running task mult$", proc.stderr,
                     re.MULTILINE), proc.stderr


# --- user mistakes -------------------------------------------------------------------------

def test_unknown_task_gets_its_error_code_and_lists_known_tasks(run_cli: RunCli) -> None:
    proc = run_cli("nosuchtask", "--params", "{}")

    message = user_error_message(proc, 101)
    assert "'nosuchtask'" in message
    assert message.endswith("known tasks: " + ", ".join(sorted(SAMPLE_TASK_SUMMARIES)))


@pytest.mark.parametrize(("args", "code", "fragment"), [
    pytest.param(["multiprint", "--params", '{"msg": "hello",'], 103, "line 1 column 17",
                 id="bad-json-103-with-line-and-column"),
    pytest.param(["multiprint", "--params", '{"msg": "hi", "count": -1}'], 102,
                 "$.count: -1 is less than the minimum of 1",
                 id="schema-violation-102-names-path"),
    pytest.param(["multiprint", "--params", "{}"], 102, "'msg' is a required property",
                 id="missing-required-param-102"),
    pytest.param(["multiprint"], 102, "'msg' is a required property",
                 id="params-left-out-when-required-102"),
    pytest.param(["multiprint", "--params", '["hello", 2]'], 102,
                 "params must be a JSON object, got array", id="params-array-102"),
    pytest.param(["mult", "--params", '{"operands": ["a"]}'], 102, "$.operands[0]:",
                 id="nested-schema-violation-102-names-path"),
    pytest.param(["get_statistics", "--params", '{"x": 1}'], 102, "unknown parameter 'x'",
                 id="param-run-does-not-take-102"),
    pytest.param(["multiprint", "--bogus"], 100, "unrecognized arguments: --bogus",
                 id="unknown-option-after-task-100"),
    pytest.param(["--bogus", "multiprint"], 100, "unrecognized arguments: --bogus",
                 id="unknown-option-before-task-100"),
    pytest.param(["multiprint", "--params"], 100, "--params: expected one argument",
                 id="option-without-its-value-100"),
    pytest.param(["multiprint", "--params", "@missing.json"], 100,
                 "cannot read 'missing.json': No such file or directory",
                 id="missing-params-file-100"),
])
def test_user_mistake_exits_2_with_one_error_line_and_no_traceback(
        run_cli: RunCli, args: list[str], code: int, fragment: str) -> None:
    proc = run_cli(*args)

    assert fragment in user_error_message(proc, code)


def test_bad_json_in_a_params_file_points_at_its_line_and_column(run_cli: RunCli,
                                                                 tmp_path: Path) -> None:
    (tmp_path / "params.json").write_text('{\n  "msg": "hi",\n}\n')

    proc = run_cli("multiprint", "--params", "@params.json")

    message = user_error_message(proc, 103)
    assert "@params.json" in message and "line 3 column 1" in message


def test_no_task_exits_2_with_code_100_in_one_line(run_cli: RunCli) -> None:
    proc = run_cli()

    assert (proc.returncode, proc.stdout) == (2, "")
    assert proc.stderr == ("deferred: error 100: name a task to run "
                           "(see 'sample_tasks.py --help')\n")


def test_help_command_shows_the_help_of_the_file_or_of_a_task(run_cli: RunCli) -> None:
    whole, one, unknown = run_cli("help"), run_cli("help", "mult"), run_cli("help", "nope")

    assert (whole.returncode, whole.stderr) == (0, "")
    assert "multiprint" in whole.stdout and "get_statistics" in whole.stdout
    assert (one.returncode, one.stderr) == (0, "")
    assert one.stdout.startswith("usage: sample_tasks.py mult ") and "minItems" in one.stdout
    assert unknown.returncode == 2
    assert unknown.stderr.startswith("deferred: error 101: unknown task 'nope'; known tasks: ")


# --- the task itself fails -----------------------------------------------------------------

def test_failing_task_exits_1_with_its_error_in_one_line_without_traceback(
        run_cli: RunCli) -> None:
    proc = run_cli("fail")

    assert (proc.returncode, proc.stdout) == (1, "")
    assert proc.stderr == "deferred: task 'fail' failed: RuntimeError: this task always fails\n"


def test_failing_task_with_traceback_option_shows_the_traceback_then_the_error(
        run_cli: RunCli) -> None:
    proc = run_cli("fail", "--params", '{"message": "boom"}', "--traceback")

    assert (proc.returncode, proc.stdout) == (1, "")
    assert proc.stderr.startswith("Traceback (most recent call last):\n")
    assert "raise RuntimeError(message)" in proc.stderr
    assert proc.stderr.endswith(
        "RuntimeError: boom\ndeferred: task 'fail' failed: RuntimeError: boom\n")


def test_failing_task_with_a_multiline_message_still_reports_one_line(
        run_cli: RunCli, write_tasks_file: Callable[[str, str], Path]) -> None:
    script = write_tasks_file("multiline_tasks.py", """
        import deferred

        @deferred.task(name='multiline')
        def multiline():
            raise ValueError('line one\\nline two')

        if __name__ == '__main__':
            deferred.run_cli()
        """)

    proc = run_cli("multiline", script=script)

    assert (proc.returncode, proc.stdout) == (1, "")
    assert proc.stderr.startswith("deferred: task 'multiline' failed: ValueError: line one")
    assert proc.stderr == "deferred: task 'multiline' failed: ValueError: line one | line two\n"


# --- help ----------------------------------------------------------------------------------

def test_help_lists_every_task_with_the_first_line_of_its_docstring(run_cli: RunCli) -> None:
    proc = run_cli("--help")

    assert (proc.returncode, proc.stderr) == (0, "")
    for name, summary in SAMPLE_TASK_SUMMARIES.items():
        pattern = rf"^\s+{re.escape(name)}\s+{re.escape(summary)}$"
        assert re.search(pattern, proc.stdout, re.MULTILINE), (name, proc.stdout)


def test_task_help_shows_its_description_and_json_schema(run_cli: RunCli) -> None:
    proc = run_cli("mult", "--help")

    assert (proc.returncode, proc.stderr) == (0, "")
    assert proc.stdout.startswith("usage: sample_tasks.py mult ")
    assert "Multiply numbers together." in proc.stdout
    assert '"minItems": 1' in proc.stdout
    assert '"required": [\n    "operands"\n  ]' in proc.stdout


# --- layering ------------------------------------------------------------------------------

def _imported_modules(importtime_stderr: str) -> set[str]:
    # Lines read "import time: <self us> | <cumulative us> | <indented module name>".
    modules = set()
    for line in importtime_stderr.splitlines():
        if line.startswith("import time:") and line.count("|") == 2:
            modules.add(line.rsplit("|", 1)[1].strip())
    modules.discard("imported package")  # the header line
    return modules


def _is_forbidden(module: str) -> bool:
    return (module.split(".")[0].startswith(FORBIDDEN_TOP_LEVEL)
            or module.startswith(FORBIDDEN_DEFERRED))


def test_running_a_task_loads_neither_the_server_nor_its_libraries(run_cli: RunCli) -> None:
    proc = run_cli("mult", "--params", '{"operands": [3, 2, 8]}',
                   python_flags=("-X", "importtime"))

    assert (proc.returncode, proc.stdout) == (0, "48\n")
    modules = _imported_modules(proc.stderr)
    assert {"deferred", "deferred.cli", "jsonschema"} <= modules, "importtime output not parsed"
    assert sorted(filter(_is_forbidden, modules)) == []
