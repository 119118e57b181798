"""Reading a JSON request body within a size limit, and checking a submit's keys."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, BinaryIO

from ..errors import (BadRequestError, InvalidJsonError, RequestTooLargeError,
                      UnsupportedMediaTypeError, shown)
from ..jsontext import json_type_name, parse_json_object
from ..scheduling.options import SubmitOptions, submit_options

SUBMIT_KEYS = ("task_name", "params", "email", "wait", "delay_s", "run_at", "priority",
               "idempotency_key", "timeout_s")
_READ_CHUNK_BYTES = 64 * 1024
_LONGEST_WAIT_S = 1e9  # any wait is cut to http.sync_wait_s anyway


@dataclasses.dataclass(frozen=True)
class SubmitRequest:
    """A checked submit body. `wait_s` is None when the body does not ask for a wait."""

    task_name: str
    params: Any
    email: str | None = None
    wait_s: float | None = None
    options: SubmitOptions = dataclasses.field(default_factory=SubmitOptions)


def is_json_media_type(content_type: str) -> bool:
    """True for `application/json` and any `+json` type, with or without parameters."""
    media_type = content_type.split(";", 1)[0].strip().lower()
    return media_type == "application/json" or (
        media_type.startswith("application/") and media_type.endswith("+json"))


# What `curl -d` sends without -H, or a client that sets no type: taken as JSON when the
# body parses as JSON, as the spec's original examples were sent.
_LENIENT_MEDIA_TYPES = frozenset({"", "application/x-www-form-urlencoded", "text/plain"})


def not_json_error(content_type: str) -> UnsupportedMediaTypeError:
    """The 415 for a body that is not JSON, saying how to fix it."""
    given = repr(content_type) if content_type else "none"
    return UnsupportedMediaTypeError(
        f"the body must be JSON (Content-Type: application/json), got {given}; with curl, "
        "add -H 'Content-Type: application/json'")


def check_json_content_type(content_type: str) -> bool:
    """True if the body is declared as JSON, False if its type may still hold JSON (none,
    form-encoded, plain text). Raises `UnsupportedMediaTypeError` for any other type."""
    if is_json_media_type(content_type):
        return True
    if content_type.split(";", 1)[0].strip().lower() in _LENIENT_MEDIA_TYPES:
        return False
    raise not_json_error(content_type)


def read_body(environ: Mapping[str, Any], max_body_bytes: int) -> bytes:
    """The request body, refused before it is read when its Content-Length is over the limit.

    A body without Content-Length (chunked, where the server marks the input as terminated)
    is read up to one byte past the limit. Raises `RequestTooLargeError` or `BadRequestError`.
    """
    stream: BinaryIO = environ["wsgi.input"]
    declared = str(environ.get("CONTENT_LENGTH") or "").strip()
    if declared:
        # isdigit() alone takes "²", which int() refuses; and a length of thousands of digits
        # is over any limit without being converted (int() refuses over 4300 digits).
        if not (declared.isascii() and declared.isdigit()):
            raise BadRequestError(f"Content-Length {declared[:40]!r} is not a number of bytes")
        digits = declared.lstrip("0") or "0"
        if len(digits) > len(str(max_body_bytes)):
            raise too_large(max_body_bytes, None)
        length = int(digits)
        if length > max_body_bytes:
            raise too_large(max_body_bytes, length)
        return _read_up_to(stream, length)
    if not (environ.get("wsgi.input_terminated")
            or "chunked" in str(environ.get("HTTP_TRANSFER_ENCODING", "")).lower()):
        return b""  # WSGI: no Content-Length, no body
    body = _read_up_to(stream, max_body_bytes + 1)
    if len(body) > max_body_bytes:
        raise too_large(max_body_bytes, None)
    return body


def too_large(max_body_bytes: int, length: int | None) -> RequestTooLargeError:
    """The error for a body over the limit (`length` None when it was not declared)."""
    limit = f"the limit of {max_body_bytes} bytes (http.max_body_bytes)"
    if length is None:
        return RequestTooLargeError(f"the request body is over {limit}")
    return RequestTooLargeError(f"the request body ({length} bytes) is over {limit}; "
                                "it was not read")


def _read_up_to(stream: BinaryIO, limit: int) -> bytes:
    parts, remaining = [], limit
    while remaining > 0:
        part = stream.read(min(remaining, _READ_CHUNK_BYTES))
        if not part:
            break
        parts.append(part)
        remaining -= len(part)
    return b"".join(parts)


def parse_submit(body: bytes) -> SubmitRequest:
    """Parse and check a submit body: `{"task_name", "params"?, "email"?, "wait"?,
    "delay_s"? | "run_at"?, "priority"?, "idempotency_key"?}`.

    A key given as null counts as left out. Raises `InvalidJsonError` (line and column) or
    `BadRequestError` naming the key.
    """
    if not body.strip():
        raise InvalidJsonError('the request body is empty: send a JSON object such as '
                               '{"task_name": "...", "params": {...}}')
    raw = parse_json_object(body, where="body")
    unknown = [key for key in raw if key not in SUBMIT_KEYS]
    if unknown:
        raise BadRequestError(f"unknown key {unknown[0]!r} (allowed: {', '.join(SUBMIT_KEYS)})",
                              where="body")
    task_name = raw.get("task_name")
    if task_name is None:
        raise BadRequestError("'task_name' is missing: the name of the task to run",
                              where="body")
    if not isinstance(task_name, str):
        raise BadRequestError(f"must be a string, got {json_type_name(task_name)}",
                              where="body.task_name")
    email = raw.get("email")
    if email is not None and not isinstance(email, str):
        raise BadRequestError(f"must be a string, got {json_type_name(email)}",
                              where="body.email")
    params = raw.get("params")
    try:
        options = submit_options(delay_s=raw.get("delay_s"), run_at=raw.get("run_at"),
                                 priority=raw.get("priority"),
                                 idempotency_key=raw.get("idempotency_key"),
                                 timeout_s=raw.get("timeout_s"))
    except BadRequestError as exc:
        raise BadRequestError(exc.message, where=f"body.{exc.where}") from None
    return SubmitRequest(task_name=task_name, params={} if params is None else params,
                         email=email, wait_s=_parse_wait(raw.get("wait")), options=options)


def parse_chain(body: bytes) -> tuple[list[tuple[str, Any]], str | None]:
    """Parse `{"steps": [{"task_name", "params"?}, ...], "email"?}`: the steps and the email.
    Raises `InvalidJsonError` or `BadRequestError` naming the key."""
    raw = parse_json_object(body, where="body")
    unknown = [key for key in raw if key not in ("steps", "email")]
    if unknown:
        raise BadRequestError(f"unknown key {unknown[0]!r} (allowed: steps, email)",
                              where="body")
    steps = raw.get("steps")
    if not isinstance(steps, list):
        raise BadRequestError(f"must be a list of {{\"task_name\", \"params\"}}, got "
                              f"{json_type_name(steps)}", where="body.steps")
    parsed = []
    for index, step in enumerate(steps):
        if not isinstance(step, dict) or set(step) - {"task_name", "params"} \
                or "task_name" not in step:
            raise BadRequestError('must be {"task_name", "params"}',
                                  where=f"body.steps[{index}]")
        parsed.append((step["task_name"], step.get("params")))
    email = raw.get("email")
    if email is not None and not isinstance(email, str):
        raise BadRequestError(f"must be a string, got {json_type_name(email)}",
                              where="body.email")
    return parsed, email


def parse_token_request(body: bytes) -> tuple[str, str]:
    """Parse `{"name", "role"?}` of a new API token (role default `read`). Raises
    `InvalidJsonError` or `BadRequestError` naming the key."""
    raw = parse_json_object(body, where="body")
    unknown = [key for key in raw if key not in ("name", "role")]
    if unknown:
        raise BadRequestError(f"unknown key {shown(unknown[0])!r} (allowed: name, role)",
                              where="body")
    name, role = raw.get("name"), raw.get("role", "read")
    for key, value in (("name", name), ("role", role)):
        if not isinstance(value, str):
            raise BadRequestError(f"must be a string, got {json_type_name(value)}",
                                  where=f"body.{key}")
    return name, role


def _parse_wait(wait: Any) -> float | None:
    if wait is None:
        return None
    if isinstance(wait, bool) or not isinstance(wait, (int, float)):
        raise BadRequestError(f"must be a number of seconds >= 0, got {json_type_name(wait)}",
                              where="body.wait")
    if wait < 0:
        raise BadRequestError(f"must be a number of seconds >= 0, got {wait!r}",
                              where="body.wait")
    return float(min(wait, _LONGEST_WAIT_S))  # float(10**400) would overflow


def wait_seconds(requested_s: float | None, sync_wait_s: float) -> float:
    """How long a submit without email waits: what the body asks, at most `sync_wait_s`."""
    return sync_wait_s if requested_s is None else min(requested_s, sync_wait_s)
