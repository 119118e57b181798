"""Tasks files with mistakes in their definitions, run as scripts: one line, no traceback."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from cli_output import user_error_message

RunCli = Callable[..., subprocess.CompletedProcess[str]]
WriteTasksFile = Callable[[str, str], Path]


def test_invalid_json_schema_stops_the_tasks_file_with_code_301_naming_task_and_keyword(
        run_cli: RunCli, write_tasks_file: WriteTasksFile) -> None:
    script = write_tasks_file("bad_schema_tasks.py", """
        import functools, operator
        import deferred

        class Multiply(deferred.BaseTask):
            name = 'mult'
            json_schema = {'type': 'object',
                           'properties': {'operands': {'type': 'array', 'minItems': '1',
                                                       'items': {'type': 'number'}}},
                           'required': ['operands']}

            def run(operands):
                return functools.reduce(operator.mul, operands)

        if __name__ == '__main__':
            deferred.run_cli()
        """)

    proc = run_cli("mult", "--params", '{"operands": [3, 2, 8]}', script=script)

    message = user_error_message(proc, 301)
    assert message.startswith("task 'mult': ")
    assert "$.properties.operands.minItems" in message


def test_duplicate_task_name_stops_the_tasks_file_with_code_300_naming_both(
        run_cli: RunCli, write_tasks_file: WriteTasksFile) -> None:
    script = write_tasks_file("duplicate_tasks.py", """
        import deferred

        @deferred.task(name='twice')
        def first():
            return 1

        @deferred.task(name='twice')
        def second():
            return 2

        if __name__ == '__main__':
            deferred.run_cli()
        """)

    proc = run_cli("twice", script=script)

    message = user_error_message(proc, 300)
    assert "'twice' is already taken" in message
    assert "first (" in message and "second (" in message


@pytest.mark.parametrize("command", ["runserver", "help", "submit", "status", "cancel"])
def test_task_named_like_a_command_stops_the_tasks_file_with_code_300(
        run_cli: RunCli, write_tasks_file: WriteTasksFile, command: str) -> None:
    script = write_tasks_file("reserved_tasks.py", f"""
        import deferred

        @deferred.task(name={command!r})
        def clash():
            return 1

        if __name__ == '__main__':
            deferred.run_cli()
        """)

    proc = run_cli("--help", script=script)

    message = user_error_message(proc, 300)
    assert f"task name {command!r} is a command of the command line" in message


def test_tasks_file_importing_itself_by_name_runs_its_tasks(
        run_cli: RunCli, write_tasks_file: WriteTasksFile, tmp_path: Path) -> None:
    script = write_tasks_file("mytasks.py", """
        import deferred

        @deferred.task(name='hello')
        def hello(who='world'):
            \"\"\"Greet someone.\"\"\"
            return 'hello ' + who

        class Double(deferred.BaseTask):
            \"\"\"Double a number.\"\"\"
            name = 'double'

            def run(self, x):
                return 2 * x

        if __name__ == '__main__':
            import mytasks  # defines both tasks again, from the same place
            deferred.run_cli()
        """)

    hello = run_cli("hello", "--params", '{"who": "you"}', script=script, cwd=tmp_path)
    double = run_cli("double", "--params", '{"x": 21}', script=script, cwd=tmp_path)
    listing = run_cli("--help", script=script, cwd=tmp_path)

    assert (hello.returncode, hello.stdout, hello.stderr) == (0, "hello you\n", "")
    assert (double.returncode, double.stdout, double.stderr) == (0, "42\n", "")
    assert listing.returncode == 0
    task_lines = [line.split() for line in listing.stdout.splitlines()
                  if line.strip().startswith(("hello ", "double "))]
    assert task_lines == [["double", "Double", "a", "number."], ["hello", "Greet", "someone."]]
