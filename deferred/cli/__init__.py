"""The command line: `python my_tasks.py TASK --params JSON`, `runserver`, the client
commands of a running server (`submit`, `status`, `cancel`, `pause`, `resume`), exit codes,
logging set-up.

Exit status: 0 success; 1 the task itself raised; 2 a user mistake (`deferred: error CODE:
message` on stderr); 70 a bug in deferred (its traceback goes to the log).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn, TextIO

from .client import CLIENT_COMMANDS, add_client_parsers, run_client_command
from ..tasks.context import TaskContext, running
from ..errors import BadRequestError, DeferredError, ErrorCode, one_line
from ..jsontext import parse_json
from .logformat import LOG_FORMATS, LOG_LEVELS, LogWriter, make_formatter
from ..tasks.registry import RESERVED_NAMES, TaskRegistry, default_registry
from ..result import Result, result_text
from .result_files import prepare_result_dir, save_result_files
from .runserver import add_runserver_parser, run_server
from ..tasks import BaseTask

logger = logging.getLogger(__name__)

EXIT_OK, EXIT_TASK_FAILED, EXIT_USER_ERROR, EXIT_INTERNAL = 0, 1, 2, 70


class _ArgumentParser(argparse.ArgumentParser):
    """argparse that raises our error instead of printing usage and exiting."""

    def error(self, message: str) -> NoReturn:
        raise BadRequestError(f"{message} (see '{self.prog} --help')")


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else ""


def _task_help(task_class: type[BaseTask]) -> str:
    parts = [task_class.description] if task_class.description else []
    if task_class.json_schema is not None:
        schema = json.dumps(task_class.json_schema, indent=2, ensure_ascii=False)
        parts.append(f"params (JSON Schema):\n{schema}")
    else:
        spec = task_class.param_spec
        names = [name if name in spec.required else f"{name} (optional)" for name in spec.names]
        parts.append("params: " + (", ".join(names) or "none")
                     + (", and any others" if spec.takes_any else ""))
    return "\n\n".join(parts)


def _build_parsers(registry: TaskRegistry, prog: str | None
                   ) -> tuple[argparse.ArgumentParser, dict[str, argparse.ArgumentParser]]:
    parser = _ArgumentParser(
        prog=prog, formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Run a task of this file.",
        epilog="Run '%(prog)s TASK --help' to see a task's params.")
    parser.add_argument("--log-level", choices=LOG_LEVELS, default="warning",
                        help="how much to log on stderr (default: warning; info for "
                             "runserver)")
    parser.add_argument("--log-format", choices=LOG_FORMATS, default="text",
                        help="text: one readable line per record (default); json: one JSON "
                             "object per line, with a task's id, name, attempt, duration and "
                             "status as fields")
    commands = parser.add_subparsers(dest="command", metavar="TASK", title="tasks",
                                     parser_class=_ArgumentParser)
    task_parsers = {}
    for task_class in registry:
        sub = commands.add_parser(
            task_class.name, help=_first_line(task_class.description),
            description=_task_help(task_class),
            formatter_class=argparse.RawDescriptionHelpFormatter)
        sub.add_argument("--params", metavar="JSON",
                         help="the params as a JSON object, or @FILE to read them from a file "
                              "('@-' reads standard input); may be left out when the task "
                              "needs none")
        sub.add_argument("--result-dir", metavar="DIR", default=".",
                         help="where to write the result's files (created if missing; "
                              "default: the current directory)")
        sub.add_argument("--traceback", action="store_true",
                         help="print the traceback when the task raises")
        task_parsers[task_class.name] = sub
    add_runserver_parser(commands)
    add_client_parsers(commands)
    helper = commands.add_parser("help", help="show this help, or a task's or command's: "
                                              "help TASK")
    helper.add_argument("topic", nargs="?", metavar="TASK")
    return parser, dict(commands.choices)


def _print_help(parser: argparse.ArgumentParser, sub_parsers: dict[str, argparse.ArgumentParser],
                registry: TaskRegistry, topic: str | None, stdout: TextIO) -> int:
    if topic is None:
        parser.print_help(stdout)
    elif topic not in sub_parsers:
        registry.get(topic)  # raises UnknownTaskError listing the known tasks
    else:
        sub_parsers[topic].print_help(stdout)
    return EXIT_OK


def _command_name(argv: Sequence[str]) -> str | None:
    """The first positional argument: the command, before argparse judges it."""
    tokens = iter(argv)
    for token in tokens:
        if token == "--":
            return next(tokens, None)
        if token in ("--log-level", "--log-format"):
            next(tokens, None)
        elif not token.startswith("-"):
            return token
    return None


def _read_params(spec: str | None, stdin: TextIO) -> Any:
    if spec is None:
        return {}
    if not spec.startswith("@"):
        return parse_json(spec, where="--params")
    source = spec[1:]
    try:
        if source == "-":
            text = stdin.read()
        else:
            text = Path(source).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise BadRequestError(f"cannot read {source!r}: {reason}", where="--params") from None
    return parse_json(text, where=f"--params {spec}")


def _describe_failure(exc: BaseException) -> str:
    if isinstance(exc, DeferredError):
        return f"error {int(exc.code)}: {exc}"
    message = one_line(exc)
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


def _run_task(task_class: type[BaseTask], args: argparse.Namespace,
              stdin: TextIO, stdout: TextIO, stderr: TextIO) -> int:
    params = task_class.check_params(_read_params(args.params, stdin))
    result_dir = prepare_result_dir(args.result_dir)
    logger.info("running task %s", task_class.name)
    try:
        with running(TaskContext(None, task_class.name, 1)):  # deferred.current() works too
            value = task_class().run(**params)
        text = result_text(value)
    except Exception as exc:
        if args.traceback:
            traceback.print_exception(exc, file=stderr)
        stderr.write(f"deferred: task {task_class.name!r} failed: {_describe_failure(exc)}\n")
        return EXIT_TASK_FAILED
    if isinstance(value, Result):
        for path in save_result_files(value.files, result_dir):
            logger.info("wrote %s", path)
    if text is not None:
        stdout.write(text if text.endswith("\n") else text + "\n")
        stdout.flush()
    return EXIT_OK


def _run_client(args: argparse.Namespace, prog: str, stdin: TextIO, stdout: TextIO,
                stderr: TextIO) -> int:
    params = _read_params(args.params, stdin) if args.command == "submit" else None
    runserver = f"{prog} runserver" if prog.startswith("deferred ") else f"python {prog} runserver"
    succeeded = run_client_command(args, params, runserver_hint=runserver, environ=os.environ,
                                   stdout=stdout, stderr=stderr)
    return EXIT_OK if succeeded else EXIT_TASK_FAILED


def main(argv: Sequence[str] | None = None, registry: TaskRegistry | None = None, *,
         prog: str | None = None, stdin: TextIO | None = None, stdout: TextIO | None = None,
         stderr: TextIO | None = None) -> int:
    """Parse `argv`, do what it says and return the exit status. Never raises for a user
    mistake: that is reported on `stderr` as `deferred: error CODE: message`."""
    registry = default_registry if registry is None else registry
    argv = list(sys.argv[1:] if argv is None else argv)
    stdin, stdout, stderr = stdin or sys.stdin, stdout or sys.stdout, stderr or sys.stderr
    try:
        parser, sub_parsers = _build_parsers(registry, prog)
        command = _command_name(argv)
        if command is not None and command not in registry and command not in RESERVED_NAMES:
            registry.get(command)  # raises UnknownTaskError listing the known tasks
        try:
            args = parser.parse_args(argv)
        except SystemExit as exc:  # --help
            return exc.code if isinstance(exc.code, int) else EXIT_OK
        if args.command is None:
            raise BadRequestError(f"name a task to run (see '{parser.prog} --help')")
        if args.command == "help":
            return _print_help(parser, sub_parsers, registry, args.topic, stdout)
        if args.command == "runserver":
            return run_server(args, registry, stdout)
        if args.command in CLIENT_COMMANDS:
            return _run_client(args, parser.prog, stdin, stdout, stderr)
        return _run_task(registry.get(args.command), args, stdin, stdout, stderr)
    except DeferredError as exc:
        stderr.write(f"deferred: error {int(exc.code)}: {exc}\n")
        # 999 comes only from a server's answer: a bug on its side, logged there.
        return EXIT_INTERNAL if exc.code is ErrorCode.INTERNAL else EXIT_USER_ERROR
    except KeyboardInterrupt:
        stderr.write("deferred: interrupted\n")
        return 130
    except Exception:
        logger.exception("internal error")
        stderr.write(f"deferred: error {int(ErrorCode.INTERNAL)}: internal error; see the log "
                     "above\n")
        return EXIT_INTERNAL


def configure_logging(level: str = "warning", log_format: str = "text", *,
                      writer_thread: bool = False) -> LogWriter | None:
    """Log to stderr, as text with thread names or as JSON lines; only the command line
    calls this. With `writer_thread`, the lines are written by a `LogWriter`'s thread
    (started and returned: stop it when done)."""
    handler: logging.Handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(make_formatter(log_format))
    writer = None
    if writer_thread:
        writer = LogWriter(sys.stderr, make_formatter(log_format))
        writer.start()
        handler = writer.handler()
    logging.basicConfig(level=level.upper(), handlers=[handler])
    if log_format == "json":
        logging.captureWarnings(True)  # a warning's lines would break one object per line
    return writer


def run_cli(registry: TaskRegistry | None = None, argv: Sequence[str] | None = None, *,
            prog: str | None = None) -> NoReturn:
    """The entry point of a tasks file: `if __name__ == '__main__': deferred.run_cli()`."""
    argv = list(sys.argv[1:] if argv is None else argv)
    serving = _command_name(argv) == "runserver"
    writer = configure_logging(
        _option_value(argv, "--log-level", LOG_LEVELS, "info" if serving else "warning"),
        _option_value(argv, "--log-format", LOG_FORMATS, "text"), writer_thread=serving)
    try:
        code = main(argv, registry, prog=prog or os.path.basename(sys.argv[0]) or None)
    finally:
        if writer is not None:  # its thread is no daemon: end it, what is queued written
            writer.stop()
    sys.exit(code)


def _option_value(argv: Sequence[str], option: str, choices: Sequence[str], default: str
                  ) -> str:
    """A logging option's value (the last one given, as argparse takes it), read before
    argparse judges it."""
    found = default
    for index, token in enumerate(argv):
        if token == option and index + 1 < len(argv):
            value = argv[index + 1]
        elif token.startswith(option + "="):
            value = token.partition("=")[2]
        else:
            continue
        found = value if value in choices else default
    return found
