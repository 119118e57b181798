"""The `runserver` command: options, config overrides, the "listening on" line, exit."""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import sys
import types
from pathlib import Path
from typing import TextIO

from ..config import Config, load_config
from ..errors import BadRequestError
from .logformat import LOG_FORMATS, LOG_LEVELS
from ..tasks.registry import TaskRegistry

logger = logging.getLogger(__name__)

DEFAULT_CONFIG = "config.json"


def add_runserver_parser(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add `runserver` and its options to the command line."""
    sub = commands.add_parser(
        "runserver", help="run the server: the HTTP API, tasks kept in the database",
        description="Run the server. Settings come from the config file; the options below "
                    "override it.")
    sub.add_argument("--config", metavar="PATH",
                     help=f"configuration file (default: {DEFAULT_CONFIG} in the current "
                          "directory if it exists, else built-in defaults)")
    sub.add_argument("--host", help="address to listen on (default: http.host, 127.0.0.1)")
    sub.add_argument("--port", type=_port, help="port to listen on; 0 picks a free one "
                                                "(default: http.port, 5000)")
    sub.add_argument("--limit-global", type=_positive, metavar="N",
                     help="how many tasks run at once in total (default: limits.global, 8)")
    sub.add_argument("--limit", action="append", default=[], metavar="TASK=N", type=_name_limit,
                     help="how many tasks of one name run at once; may be repeated")
    sub.add_argument("--insecure", action="store_true",
                     help="listen on an address other than loopback with no authentication "
                          "(anyone who reaches it can run tasks); logged as a warning")
    # Also taken before the command, like every command's; the value is read before argparse
    # runs (see cli.run_cli), so these only make the options known here.
    sub.add_argument("--log-level", choices=LOG_LEVELS, default=argparse.SUPPRESS,
                     help="how much to log on stderr (default: info)")
    sub.add_argument("--log-format", choices=LOG_FORMATS, default=argparse.SUPPRESS,
                     help="text (default) or json: one JSON object per line, a task's start "
                          "and end lines with task_id, task_name, attempt, duration_s and "
                          "status")


def _port(text: str) -> int:
    value = _integer(text, "port")
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"port must be 0-65535, got {value}")
    return value


def _positive(text: str) -> int:
    value = _integer(text, "limit")
    if value < 1:
        raise argparse.ArgumentTypeError(f"a limit must be at least 1, got {value}")
    return value


def _integer(text: str, what: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{what} must be an integer, got {text!r}") from None


def _name_limit(text: str) -> tuple[str, int]:
    name, equals, limit = text.rpartition("=")
    if not equals or not name:
        raise argparse.ArgumentTypeError(f"expected TASK=N, got {text!r}")
    return name, _positive(limit)


def server_config(args: argparse.Namespace) -> Config:
    """The configuration: the file (or defaults), then the command line's overrides."""
    path = args.config
    if path is None and Path(DEFAULT_CONFIG).is_file():
        path = DEFAULT_CONFIG
    config = load_config(path)
    http = config.http
    if args.host is not None:
        http = dataclasses.replace(http, host=args.host)
    if args.port is not None:
        http = dataclasses.replace(http, port=args.port)
    limits = config.limits
    if args.limit_global is not None:
        limits = dataclasses.replace(limits, global_limit=args.limit_global)
    if args.limit:
        names = dict(limits.names)
        names.update(args.limit)
        limits = dataclasses.replace(limits, names=types.MappingProxyType(names))
    auth = config.auth
    if args.insecure:
        auth = dataclasses.replace(auth, insecure=True)
    return dataclasses.replace(config, http=http, limits=limits, auth=auth)


def run_server(args: argparse.Namespace, registry: TaskRegistry, stdout: TextIO) -> int:
    """Serve until a signal. Raises `DeferredError` when the server cannot start."""
    from ..server import Server  # only this command loads SQLAlchemy, bottle and waitress

    config = server_config(args)
    if len(registry) == 0:
        raise BadRequestError("no tasks are registered: nothing to serve")
    server = Server(config, registry)

    def announce(started: Server) -> None:
        stdout.write(f"deferred: listening on {started.url}\n")
        stdout.flush()

    if server.serve_forever(on_started=announce):
        return 0
    # Worker threads still run tasks; the interpreter would wait for them at exit.
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
