"""The command line's client of a running server: `submit`, `status`, `cancel`, `pause` and
`resume` over the HTTP API, so that scripts and cron jobs need no HTTP code of their own.

The server checks task names and params (it may run a newer tasks file than this one), and
its refusals are reported with its own code and message. `urllib.request` is imported only
when a request is sent, so `python my_tasks.py TASK` starts as quickly as before.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
import types
import urllib.parse
from collections.abc import Mapping
from typing import Any, TextIO

from ..errors import (BadRequestError, DeferredError, ErrorCode, InternalError, NoServerError,
                      UnknownTaskError)
from ..result import result_text

logger = logging.getLogger(__name__)

CLIENT_COMMANDS = frozenset({"submit", "status", "cancel", "pause", "resume"})
DEFAULT_SERVER = "http://127.0.0.1:5000"
SERVER_VARIABLE = "DEFERRED_SERVER"
TOKEN_VARIABLE = "DEFERRED_TOKEN"  # an environment variable: a token on the command line
# would show in `ps` and in shell history
REQUEST_TIMEOUT_S = 30.0  # beyond the wait a submit asks for
FIRST_POLL_S, LONGEST_POLL_S = 0.1, 1.0
_UNFINISHED = ("QUEUED", "RUNNING")

# The server names the body's keys; the user typed options.
_OPTION_OF_FIELD = types.MappingProxyType({
    "body.delay_s": "--delay-s", "body.run_at": "--run-at", "body.priority": "--priority",
    "body.idempotency_key": "--idempotency-key", "body.email": "--email", "email": "--email",
    "body.timeout_s": "--timeout-s", "Authorization": TOKEN_VARIABLE})
_FAILED = ("FAILED", "TIMED_OUT")  # statuses that exit 1: the task did not succeed


def _error_classes(base: type[DeferredError]) -> dict[int, type[DeferredError]]:
    """The classes of `deferred.errors` by code, those made from a message and a place."""
    found: dict[int, type[DeferredError]] = {}
    for cls in base.__subclasses__():
        if cls.__module__ == base.__module__ and cls.__init__ is base.__init__:
            found[int(cls.code)] = cls
        found.update(_error_classes(cls))
    return found


_ERROR_CLASSES = _error_classes(DeferredError)


def add_client_parsers(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add `submit`, `status`, `cancel`, `pause` and `resume`: commands for a server that is
    already running."""
    _add_submit_parser(commands)
    status = commands.add_parser(
        "status", help="show a task record of a running server",
        description="Print a task record of a running server as JSON; exit 1 if the task "
                    "failed.")
    status.add_argument("task_id", type=int, metavar="ID", help="the task's id")
    status.add_argument("--json", action="store_true",
                        help="print the record as compact JSON on one line")
    _add_server_option(status)
    cancel = commands.add_parser(
        "cancel", help="cancel a task of a running server",
        description="Cancel a queued or delayed task, or ask a running one to stop.")
    cancel.add_argument("task_id", type=int, metavar="ID", help="the task's id")
    _add_server_option(cancel)
    for command, summary, description in (
            ("pause", "pause a task type on a running server (an admin's token)",
             ("Pause a task type on every server of the database, kept across restarts: its "
              "queued tasks wait (submits are still stored), its running ones finish, and "
              "none starts until it is resumed.")),
            ("resume", "resume a paused task type (an admin's token)",
             "Resume a paused task type: its queued tasks start.")):
        parser = commands.add_parser(command, help=summary, description=description)
        parser.add_argument("task_type", metavar="NAME", help="the task type's name")
        _add_server_option(parser)


def _add_submit_parser(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    submit = commands.add_parser(
        "submit", help="submit a task to a running server; print its id and status",
        description="Submit a task to a running server (see 'runserver'): print 'task ID "
                    "QUEUED', or its result when it finishes within --wait. The server checks "
                    "the task's name and params.")
    submit.add_argument("task_name", metavar="TASK", help="the task to run")
    submit.add_argument("--params", metavar="JSON",
                        help="the params as a JSON object, or @FILE to read them from a file "
                             "('@-' reads standard input); may be left out when the task "
                             "needs none")
    when = submit.add_mutually_exclusive_group()
    when.add_argument("--delay-s", type=_seconds, metavar="N",
                      help="start no sooner than N seconds from now")
    when.add_argument("--run-at", metavar="ISO",
                      help="start no sooner than this time, with its zone "
                           "(2024-05-01T12:00:00Z)")
    submit.add_argument("--priority", type=int, metavar="N",
                        help="-1000 to 1000; higher goes first (default: 0)")
    submit.add_argument("--email", metavar="ADDR", help="send the result to this address")
    submit.add_argument("--idempotency-key", metavar="K",
                        help="submitting again with the same key stores nothing new")
    submit.add_argument("--timeout-s", type=float, metavar="S",
                        help="this run's time limit, in place of the task's own")
    submit.add_argument("--wait", type=_seconds, metavar="S", default=0.0,
                        help="wait up to S seconds for the result (default: 0)")
    _add_server_option(submit)


def _add_server_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--server", metavar="URL",
                        help=f"the server's address (default: ${SERVER_VARIABLE} if set, "
                             f"else {DEFAULT_SERVER})")


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds, got {text!r}") from None
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"expected seconds >= 0, got {text!r}")
    return value


def server_url(option: str | None, environ: Mapping[str, str]) -> str:
    """The server's base URL: `--server`, else `$DEFERRED_SERVER`, else the default.
    Raises `BadRequestError` for something that is not an http(s) URL."""
    if option:
        url, where = option, "--server"
    else:
        url, where = environ.get(SERVER_VARIABLE) or DEFAULT_SERVER, SERVER_VARIABLE
    url = url.strip()
    if not _is_server_url(url):
        raise BadRequestError(f"{url!r} is not a server address such as {DEFAULT_SERVER}",
                              where=where)
    return url.rstrip("/")


def _is_server_url(url: str) -> bool:
    try:
        parts = urllib.parse.urlsplit(url)
        parts.port  # noqa: B018 (raises ValueError unless a number from 0 to 65535)
    except ValueError:
        return False
    return (parts.scheme in ("http", "https") and bool(parts.hostname)
            and not parts.query and not parts.fragment)


def run_client_command(args: argparse.Namespace, params: Any, *, runserver_hint: str,
                       environ: Mapping[str, str], stdout: TextIO, stderr: TextIO) -> bool:
    """Do what `args.command` (one of `CLIENT_COMMANDS`) says, with `params` for `submit`.
    False when the task failed. Raises `DeferredError`: the server's own refusal, or
    `NoServerError` when no deferred server answers at the URL."""
    client = ApiClient(server_url(args.server, environ), runserver_hint,
                       token=environ.get(TOKEN_VARIABLE) or None)
    if args.command == "submit":
        return _submit(client, args, params, stdout, stderr)
    if args.command in ("pause", "resume"):
        item = client.pause(args.task_type, resume=args.command == "resume")
        if item.get("paused"):
            by = f" by {item['paused_by']}" if item.get("paused_by") else ""
            stdout.write(f"task type {item.get('name')} paused since {item.get('paused_at')}"
                         f"{by}: none of its tasks starts until it is resumed\n")
        else:
            stdout.write(f"task type {item.get('name')} is not paused: its tasks start\n")
        return True
    if args.command == "status":
        record = client.task(args.task_id)
        options: dict[str, Any] = ({"separators": (",", ":")} if args.json else {"indent": 2})
        stdout.write(json.dumps(record, ensure_ascii=False, **options) + "\n")
        if record.get("status") in _FAILED:
            stderr.write(f"deferred: {failure_message(record)}\n")
            return False
        return True
    record = client.cancel(args.task_id)
    task_id, status = record.get("task_id"), record.get("status")
    if status == "RUNNING":
        stdout.write(f"task {task_id} RUNNING, asked to stop\n")
    elif status in ("SUCCEEDED", *_FAILED):
        stdout.write(f"task {task_id} {status}, already finished: nothing to cancel\n")
    else:
        stdout.write(f"task {task_id} {status}\n")
    return True


def _submit(client: ApiClient, args: argparse.Namespace, params: Any, stdout: TextIO,
            stderr: TextIO) -> bool:
    if args.email is not None and args.wait:
        raise BadRequestError("there is no result to wait for: it goes by email",
                              where="--wait")
    deadline = time.monotonic() + args.wait
    body = {"task_name": args.task_name, "params": params, "wait": args.wait}
    options = {"email": args.email, "delay_s": args.delay_s, "run_at": args.run_at,
               "priority": args.priority, "idempotency_key": args.idempotency_key,
               "timeout_s": args.timeout_s}
    body.update((key, value) for key, value in options.items() if value is not None)
    outcome = _outcome_of_answer(client.submit(body, args.wait))
    if outcome.get("status") in _UNFINISHED and deadline > time.monotonic():
        # The server waits at most http.sync_wait_s, less when many submits already wait.
        outcome = client.wait(outcome["task_id"], deadline)
    return _report(outcome, stdout, stderr)


def _outcome_of_answer(answer: dict[str, Any]) -> dict[str, Any]:
    """A submit's answer in the shape of a record: task_id, status, result, files, error."""
    if answer.get("status") == "ERROR":  # the task failed: the only error answer kept
        return {"task_id": answer.get("task_id"), "status": "FAILED",
                "failure": answer.get("error_msg")}
    if answer.get("status") != "OK":
        return answer  # QUEUED, RUNNING or CANCELLED
    if "result" not in answer:  # an email submit: stored, the result will be mailed
        return {"task_id": answer.get("task_id"), "status": "QUEUED"}
    return {**answer, "status": "SUCCEEDED"}


def _report(outcome: dict[str, Any], stdout: TextIO, stderr: TextIO) -> bool:
    status = outcome.get("status")
    if status in _FAILED:
        stderr.write(f"deferred: {outcome.get('failure') or failure_message(outcome)}\n")
        return False
    if status != "SUCCEEDED":
        stdout.write(f"task {outcome.get('task_id')} {status}\n")
        return True
    text = result_text(outcome.get("result"))
    if text is not None:
        stdout.write(text if text.endswith("\n") else text + "\n")
    for file in outcome.get("files") or ():
        stderr.write(f"deferred: result file {file.get('name')}: {file.get('url')}\n")
    return True


def failure_message(record: Mapping[str, Any]) -> str:
    """`task 'fail' failed: RuntimeError: boom`, as the server and the local run say it."""
    error = record.get("error") or {}
    message = " ".join(str(error.get("message") or "").split())
    reason = f"{error.get('type')}: {message}" if message else str(error.get("type") or "")
    name = record.get("task_name")
    return f"task {name!r} failed: {reason}" if reason else f"task {name!r} failed"


def server_error(answer: Mapping[str, Any]) -> DeferredError:
    """The server's error answer as the `DeferredError` it came from: its code, its
    message, the place it names (an option of this command where there is one)."""
    code, message = answer.get("error_code"), str(answer.get("error_msg") or "")
    where = answer.get("error_where")
    if isinstance(where, str) and message.startswith(f"{where}: "):
        message = message[len(where) + 2:]
        where = _OPTION_OF_FIELD.get(where, where)
    else:
        where = ""
    cls = _ERROR_CLASSES.get(code) if isinstance(code, int) else None
    if cls is None:
        return InternalError(f"the server answered error {code!r}, which this version of "
                             f"deferred does not know: {message}")
    return cls(message, where=where)


def _checked_token(token: str) -> str:
    """The token as sent, without surrounding blanks. Raises `BadRequestError`."""
    token = token.strip()
    if not token or not all(33 <= ord(char) < 127 for char in token):
        raise BadRequestError("an API token is printable ASCII without spaces; check the "
                              "variable's value", where=TOKEN_VARIABLE)
    return token


def _opener_without_redirects() -> Any:
    """A urllib opener that follows no redirect (urllib raises the 3xx as an HTTPError)."""
    import urllib.request  # here, not at the top: running a task locally never needs it

    class NoRedirects(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: Any, **kwargs: Any) -> None:
            return None

    return urllib.request.build_opener(NoRedirects)


class ApiClient:
    """Requests to the JSON API of the server at `base_url`.

    Every method raises the server's refusal as its `DeferredError` (see `server_error`), and
    `NoServerError` when nothing answers there or what answers is not a deferred server.
    """

    def __init__(self, base_url: str, runserver_hint: str, *, token: str | None = None
                 ) -> None:
        self.base_url = base_url
        self._runserver_hint = runserver_hint
        self._token = None if token is None else _checked_token(token)

    def submit(self, body: Mapping[str, Any], wait_s: float) -> dict[str, Any]:
        """`POST /api/tasks`. A failed task is an answer (error code 200 with its task_id),
        not an exception."""
        answer = self._call("POST", "/api/tasks", body, REQUEST_TIMEOUT_S + wait_s)
        if not isinstance(answer.get("task_id"), int):
            raise self._not_deferred(f"a submit answer without a task_id: {answer!r}")
        return answer

    def task(self, task_id: int) -> dict[str, Any]:
        """`GET /api/tasks/{id}`: the task record."""
        return self._call("GET", f"/api/tasks/{task_id}")

    def cancel(self, task_id: int) -> dict[str, Any]:
        """`POST /api/tasks/{id}/cancel`: the record once cancelled (or asked to stop)."""
        return self._call("POST", f"/api/tasks/{task_id}/cancel", {})

    def pause(self, name: str, *, resume: bool = False) -> dict[str, Any]:
        """`POST /api/task-types/{name}/pause` (or `/resume`): the task type afterwards."""
        action = "resume" if resume else "pause"
        try:
            return self._call("POST", f"/api/task-types/{urllib.parse.quote(name, safe='')}/"
                                      f"{action}", {})
        except UnknownTaskError as exc:  # it names the argument the user just typed
            raise UnknownTaskError(exc.message) from None

    def wait(self, task_id: int, deadline: float) -> dict[str, Any]:
        """The record once it is finished, or as it is at `deadline` (`time.monotonic()`)."""
        pause_s, record = FIRST_POLL_S, {"task_id": task_id, "status": "QUEUED"}
        while record.get("status") in _UNFINISHED and deadline > time.monotonic():
            time.sleep(min(pause_s, max(deadline - time.monotonic(), 0)))
            pause_s = min(pause_s * 2, LONGEST_POLL_S)
            record = self.task(task_id)
        return record

    def _call(self, method: str, path: str, body: Mapping[str, Any] | None = None,
              timeout_s: float = REQUEST_TIMEOUT_S) -> dict[str, Any]:
        status, raw = self._send(method, path, body, timeout_s)
        try:
            answer = json.loads(raw)
        except ValueError:
            answer = None
        if not isinstance(answer, dict):
            raise self._not_deferred(f"HTTP {status} without a JSON object")
        if answer.get("status") == "ERROR" and not (
                answer.get("error_code") == int(ErrorCode.TASK_FAILED)
                and "task_id" in answer):
            raise server_error(answer)
        return answer

    def _send(self, method: str, path: str, body: Mapping[str, Any] | None,
              timeout_s: float) -> tuple[int, bytes]:
        import http.client  # here, not at the top: running a task locally never needs them
        import urllib.error
        import urllib.request

        headers = {"Accept": "application/json"}
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        data = None
        if body is not None:
            data = json.dumps(body, ensure_ascii=False).encode("utf-8")
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(self.base_url + path, data=data, method=method,
                                         headers=headers)
        logger.debug("%s %s", method, request.full_url)
        # No redirects: the API never sends one, and urllib would carry the token along to
        # wherever it pointed.
        opener = _opener_without_redirects()
        try:
            try:
                with opener.open(request, timeout=timeout_s) as response:
                    return response.status, response.read()
            except urllib.error.HTTPError as exc:  # 4xx and 5xx carry our error body
                if exc.fp is None:
                    return exc.code, b""
                with exc:
                    return exc.code, exc.read()
        except (OSError, http.client.HTTPException) as exc:  # URLError is an OSError
            is_submit = method == "POST" and path == "/api/tasks"
            raise self._unreachable(exc, timeout_s, may_be_stored=is_submit) from None

    def _unreachable(self, exc: BaseException, timeout_s: float, *,
                     may_be_stored: bool) -> NoServerError:
        reason = getattr(exc, "reason", exc)  # a URLError wraps the socket's error
        if isinstance(reason, ConnectionRefusedError):
            return NoServerError(f"cannot reach the server at {self.base_url}: connection "
                                 f"refused; start it with '{self._runserver_hint}'")
        if isinstance(reason, TimeoutError):
            why = f"no answer within {timeout_s:g} s"
        else:
            why = (reason.strerror if isinstance(reason, OSError) and reason.strerror
                   else str(reason) or type(reason).__name__)
            why = why[:1].lower() + why[1:]
        # A name that does not resolve or a refused connection sent nothing; after a timeout
        # or a dropped connection the server may have stored the task all the same.
        if may_be_stored and (isinstance(reason, (TimeoutError, ConnectionError))
                              or not isinstance(reason, OSError)):
            why += ("; the task may have been stored (with --idempotency-key, submitting "
                    "again is safe)")
        return NoServerError(f"cannot reach the server at {self.base_url}: {why}")

    def _not_deferred(self, what: str) -> NoServerError:
        return NoServerError(f"the server at {self.base_url} answered {what[:200]}: is it a "
                             "deferred server? (see --server)")
