"""Hostile input thrown at a real `runserver` process over real sockets: huge and deeply nested
bodies, numbers JSON cannot carry, duplicate keys, wrong content types and encodings, chunked
and lying bodies, e-mail fields that try to add a recipient or a header, file names that try
to leave their directory, bad query strings and ids, params that break the schema in every
way. Every answer: no 5xx, no traceback, errors in the JSON shape with a code the table of
docs/errors.md lists, and the server's memory stays bounded."""

from __future__ import annotations

import dataclasses
import email
import email.policy
import http.client
import io
import json
import re
import socket
import textwrap
import unicodedata
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from deferred.errors import ErrorCode
from serverproc import ServerProcess, wait_until
from smtp_server import SmtpTestServer, start_smtp_server

PROJECT_ROOT = Path(__file__).resolve().parents[2]
MAX_BODY_BYTES = 1024 * 1024
TIMEOUT_S = 30
MEMORY_BOUND_BYTES = 200 * 1024 * 1024
JSON = {"Content-Type": "application/json"}

TASKS = '''
import deferred

EVIL_NAMES = ['../../etc/x', '/etc/passwd', '..', '.', '', 'a\\r\\nContent-Type: text/html',
              '"q"; filename=evil.sh', '..\\\\..\\\\win.ini', 'CON', 'x\\x00y', '\\u202etxt.exe',
              '\\u00e9' * 300 + '.txt', '%2e%2e%2fx', '.htaccess', 'a/../b', 'same.tsv',
              'SAME.tsv', '\\u2028line', '\\udc00lone']

@deferred.task(name='evil_files')
def evil_files():
    """Result files whose names try to leave the result directory."""
    return deferred.Result(msg='files', files=[
        {'name': name, 'data': name.encode('utf-8', 'replace')} for name in EVIL_NAMES])

@deferred.task(name='typed', json_schema={
    'type': 'object', 'additionalProperties': False, 'required': ['text', 'count'],
    'properties': {
        'text': {'type': 'string', 'minLength': 1, 'maxLength': 10, 'pattern': '^[a-z]+$'},
        'count': {'type': 'integer', 'minimum': 1, 'maximum': 100},
        'ratio': {'type': 'number', 'exclusiveMinimum': 0, 'exclusiveMaximum': 1},
        'flag': {'type': 'boolean'},
        'color': {'enum': ['red', 'green']},
        'mail': {'type': 'string', 'format': 'email'},
        'when': {'type': 'string', 'format': 'date-time'},
        'site': {'type': 'string', 'format': 'uri'},
        'uid': {'type': 'string', 'format': 'uuid'},
        'ip': {'type': 'string', 'format': 'ipv4'},
        'tags': {'type': 'array', 'items': {'type': 'string'}, 'minItems': 1, 'maxItems': 3,
                 'uniqueItems': True},
        'point': {'type': 'object', 'required': ['x'], 'additionalProperties': False,
                  'properties': {'x': {'type': 'number'}}}}})
def typed(**params):
    """Every kind of schema constraint."""
    return sorted(params)

@deferred.task(name='plain')
def plain(a, b=1):
    """No schema: only run()'s signature."""
    return [a, b]

if __name__ == '__main__':
    deferred.run_cli()
'''


def documented_error_codes() -> dict[int, str]:
    """The error table of docs/errors.md: code -> name."""
    table = (PROJECT_ROOT / "docs" / "errors.md").read_text(encoding="utf-8")
    return {int(code): name
            for code, name in re.findall(r"^\|\s*(\d+)\s*\|\s*([A-Z_]+)\s*\|", table, re.M)}


DOCUMENTED_CODES = documented_error_codes()


@dataclasses.dataclass
class Answer:
    """What the server answered: status, headers and the raw body."""

    status: int
    headers: http.client.HTTPMessage
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class _Recorded:
    """Bytes read from a socket, for `http.client.HTTPResponse` to parse."""

    def __init__(self, data: bytes) -> None:
        self._data = data

    def makefile(self, mode: str) -> io.BytesIO:
        return io.BytesIO(self._data)


def check(answer: Answer) -> Answer:
    """What must hold for every answer: no 5xx, no traceback, errors in the JSON shape with a
    code of the table in docs/errors.md."""
    assert answer.status < 500, (answer.status, answer.body[:500])
    assert b"Traceback" not in answer.body and b'File "' not in answer.body, answer.body[:500]
    if answer.status >= 400:
        assert answer.headers.get_content_type() == "application/json", answer.headers
        body = answer.json()
        assert body["status"] == "ERROR" and isinstance(body["error_msg"], str), body
        assert not re.search(r"[\x00-\x1f\x7f\u2028\u2029]", body["error_msg"]
                             + body.get("error_where", "")), body  # one line, in logs too
        code = body["error_code"]
        assert code in set(ErrorCode) and code in DOCUMENTED_CODES, body
        assert DOCUMENTED_CODES[code] == ErrorCode(code).name
    return answer


def call(server: ServerProcess, method: str, path: str, body: bytes | None = None,
         headers: dict[str, str] | None = None) -> Answer:
    """One request over http.client."""
    parts = urllib.parse.urlsplit(server.url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=TIMEOUT_S)
    try:
        try:
            connection.request(method, path, body=body, headers=headers or {})
        except (BrokenPipeError, ConnectionResetError):
            pass  # refused from its headers before the body was sent: the answer is there
        response = connection.getresponse()
        return check(Answer(response.status, response.headers, response.read()))
    finally:
        connection.close()


def raw(server: ServerProcess, request: bytes, *, half_close: bool = False) -> Answer | None:
    """Raw bytes over a socket (the request should say `Connection: close`); the answer, or
    None when the server closed the connection without one. `half_close` shuts our side
    after sending, as a client whose body ended early does."""
    parts = urllib.parse.urlsplit(server.url)
    chunks = []
    with socket.create_connection((parts.hostname, parts.port), timeout=TIMEOUT_S) as sock:
        try:
            sock.sendall(request)
            if half_close:
                sock.shutdown(socket.SHUT_WR)
        except (BrokenPipeError, ConnectionResetError):
            pass  # refused before we finished sending: its answer may still be there
        try:
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        except ConnectionResetError:
            pass
    data = b"".join(chunks)
    if not data:
        return None
    response = http.client.HTTPResponse(_Recorded(data))  # type: ignore[arg-type]
    response.begin()
    return check(Answer(response.status, response.headers, response.read()))


def post_head(length: bytes | None = None, content_type: bytes = b"application/json",
              extra: bytes = b"") -> bytes:
    head = b"POST /api/tasks HTTP/1.1\r\nHost: test\r\nConnection: close\r\n"
    head += b"Content-Type: " + content_type + b"\r\n"
    if length is not None:
        head += b"Content-Length: " + length + b"\r\n"
    return head + extra + b"\r\n"


def chunked(body: bytes, size: int = 64 * 1024) -> bytes:
    parts = [b"%x\r\n%s\r\n" % (len(body[i:i + size]), body[i:i + size])
             for i in range(0, len(body), size)]
    return b"".join(parts) + b"0\r\n\r\n"


def submit_bytes(**fields: Any) -> bytes:
    return json.dumps(fields).encode()


GOOD = {"text": "abc", "count": 2}
ONE_SUBMIT = submit_bytes(task_name="typed", params=GOOD, wait=0)
BIG = b"9" * 5000
BIGISH = b"9" * 4000  # under Python's 4300-digit limit: parses, then is out of range
NESTED_ARRAYS = b"[" * 100_000 + b"]" * 100_000
NESTED_OBJECTS = b'{"a":' * 100_000 + b"1" + b"}" * 100_000
MULTIPART = (("Content-Type", "multipart/form-data; boundary=x"),)


def with_params(params: bytes, **fields: Any) -> bytes:
    """A submit of `typed` whose params are the raw JSON `params`."""
    rest = "".join(f", {json.dumps(key)}: {json.dumps(value)}" for key, value in fields.items())
    return b'{"task_name": "typed", "params": ' + params + rest.encode() + b"}"


def with_field(name: str, value: bytes) -> bytes:
    """A valid submit of `typed` with the raw JSON `value` as the field `name`."""
    return (b'{"task_name": "typed", "params": {"text": "abc", "count": 2}, "'
            + name.encode() + b'": ' + value + b"}")


@dataclasses.dataclass(frozen=True)
class Case:
    """One hostile request and the answer it must get (status, and error code if an error)."""

    body: bytes | None
    status: int
    code: int | None = None
    headers: tuple[tuple[str, str], ...] = (("Content-Type", "application/json"),)
    method: str = "POST"
    path: str = "/api/tasks"


def body_case(body: bytes, status: int, code: int | None = None, **kwargs: Any) -> Case:
    return Case(body, status, code, **kwargs)


BODIES = {
    # size
    "10MB-json": body_case(b'{"task_name": "typed", "params": {"text": "' + b"a" * 10_000_000
                           + b'"}}', 413, 105),
    "just-under-the-limit-garbage": body_case(b"x" * (MAX_BODY_BYTES - 1), 400, 103),
    # nesting
    "100k-nested-arrays-in-params": body_case(with_params(b'{"tags": ' + NESTED_ARRAYS + b"}"),
                                              400, 103),
    "100k-nested-objects-in-params": body_case(with_params(NESTED_OBJECTS), 400, 103),
    "100k-nested-arrays-as-body": body_case(NESTED_ARRAYS, 400, 103),
    "100k-nested-objects-as-body": body_case(NESTED_OBJECTS, 400, 103),
    # numbers JSON cannot carry
    "NaN-in-params": body_case(with_params(b'{"text": "a", "count": 2, "ratio": NaN}'), 400, 103),
    "Infinity-in-params": body_case(with_params(b'{"text": "a", "count": Infinity}'), 400, 103),
    "-Infinity-in-params": body_case(with_params(b'{"text": "a", "count": -Infinity}'), 400,
                                     103),
    "1e999-in-params": body_case(with_params(b'{"text": "a", "count": 2, "ratio": 1e999}'), 400,
                                 103),
    "NaN-as-priority": body_case(with_field("priority", b"NaN"), 400, 103),
    "Infinity-as-wait": body_case(with_field("wait", b"Infinity"), 400, 103),
    "-Infinity-as-delay_s": body_case(with_field("delay_s", b"-Infinity"), 400, 103),
    "5000-digits-in-params": body_case(with_params(b'{"text": "a", "count": ' + BIG + b"}"), 400,
                                       103),
    "5000-digits-as-priority": body_case(with_field("priority", BIG), 400, 103),
    "5000-digits-as-delay_s": body_case(with_field("delay_s", BIG), 400, 103),
    "5000-digits-as-wait": body_case(with_field("wait", BIG), 400, 103),
    "5000-digits-as-timeout_s": body_case(with_field("timeout_s", BIG), 400, 103),
    "4000-digits-in-params": body_case(with_params(b'{"text": "a", "count": ' + BIGISH + b"}"),
                                       422, 102),
    "4000-digits-as-priority": body_case(with_field("priority", BIGISH), 400, 100),
    "-4000-digits-as-priority": body_case(with_field("priority", b"-" + BIGISH), 400, 100),
    "4000-digits-as-delay_s": body_case(with_field("delay_s", BIGISH), 400, 100),
    "4000-digits-as-timeout_s": body_case(with_field("timeout_s", BIGISH), 400, 100),
    "4000-digits-as-wait": body_case(with_field("wait", BIGISH), 200),  # cut to sync_wait_s
    "1e308-as-delay_s": body_case(with_field("delay_s", b"1e308"), 400, 100),
    "negative-wait": body_case(with_field("wait", b"-1"), 400, 100),
    "run_at-before-year-1-in-UTC": body_case(with_field("run_at", b'"0001-01-01T00:00:00+14:00"'),
                                             400, 100),
    "run_at-year-9999": body_case(with_field("run_at", b'"9999-12-31T23:59:59-14:00"'), 400, 100),
    "run_at-without-zone": body_case(with_field("run_at", b'"2030-01-01T00:00:00"'), 400, 100),
    "idempotency-key-lone-surrogate": body_case(with_field("idempotency_key", b'"\\udc00"'), 400,
                                                100),
    "idempotency-key-NUL": body_case(with_field("idempotency_key", b'"a\\u0000b"'), 400, 100),
    "idempotency-key-header-300-chars": body_case(
        ONE_SUBMIT, 400, 100, headers=(("Content-Type", "application/json"),
                                       ("Idempotency-Key", "k" * 300))),
    # duplicate keys
    "duplicate-top-level-key": body_case(b'{"task_name": "typed", "task_name": "plain"}', 400,
                                         103),
    "duplicate-param-key": body_case(with_params(b'{"text": "a", "count": 2, "count": 3}'), 400,
                                     103),
    # not a submit
    "empty-body": body_case(b"", 400, 103),
    "whitespace-body": body_case(b" \r\n\t ", 400, 103),
    "array-body": body_case(b"[]", 400, 103),
    "null-body": body_case(b"null", 400, 103),
    "unknown-key": body_case(submit_bytes(task_name="typed", params=GOOD, extra=1), 400, 100),
    "task_name-not-a-string": body_case(submit_bytes(task_name=["typed"]), 400, 100),
    "task_name-missing": body_case(submit_bytes(params=GOOD), 400, 100),
    "unknown-task": body_case(submit_bytes(task_name="../../etc/passwd"), 404, 101),
    "task_name-100k-chars": body_case(submit_bytes(task_name="x" * 100_000), 404, 101),
    "task_name-lone-surrogate": body_case(b'{"task_name": "\\udc00"}', 404, 101),
    "params-lone-surrogate": body_case(with_params(b'{"text": "\\ud800", "count": 2}'), 422, 102),
    # content types and encodings
    "text/plain-json": body_case(ONE_SUBMIT, 202, headers=(("Content-Type", "text/plain"),)),
    "form-type-json": body_case(ONE_SUBMIT, 202, headers=(
        ("Content-Type", "application/x-www-form-urlencoded"),)),
    "no-type-json": body_case(ONE_SUBMIT, 202, headers=()),
    "form-data": body_case(b"task_name=typed&params=1", 415, 106, headers=(
        ("Content-Type", "application/x-www-form-urlencoded"),)),
    "text/plain-not-json": body_case(b"run typed please", 415, 106, headers=(
        ("Content-Type", "text/plain"),)),
    "no-type-not-json": body_case(b"task_name=typed", 415, 106, headers=()),
    "multipart": body_case(b'--x\r\nContent-Disposition: form-data; name="task_name"\r\n\r\n'
                           b"typed\r\n--x--\r\n", 415, 106, headers=MULTIPART),
    "multipart-json-part": body_case(b"--x\r\nContent-Type: application/json\r\n\r\n"
                                     + ONE_SUBMIT + b"\r\n--x--\r\n", 415, 106,
                                     headers=MULTIPART),
    "xml": body_case(b"<task/>", 415, 106, headers=(("Content-Type", "application/xml"),)),
    "latin-1-declared": body_case('{"task_name": "typed", "params": {"text": "é", "count": 1}}'
                                  .encode("latin-1"), 400, 103,
                                  headers=(("Content-Type", "application/json; charset=latin-1"),)),
    "invalid-utf8": body_case(with_params(b'{"text": "\xff\xfe\xc3\x28", "count": 1}'), 400, 103),
    "overlong-utf8": body_case(with_params(b'{"text": "\xc0\xaf", "count": 1}'), 400, 103),
    "utf8-encoded-surrogate": body_case(with_params(b'{"text": "\xed\xa0\x80", "count": 1}'), 400,
                                        103),
    "utf16-with-BOM": body_case(ONE_SUBMIT.decode().encode("utf-16"), 202),
    "utf8-with-BOM": body_case(b"\xef\xbb\xbf" + ONE_SUBMIT, 202),
    "broken-utf16": body_case(b"\xff\xfe{\x00\x00\xd8", 400, 103),
    # e-mail fields
    **{f"email-{name}": body_case(submit_bytes(task_name="typed", params=GOOD, email=address),
                                  422, 108)
       for name, address in {
           "CRLF-Bcc": "a@example.com\r\nBcc: victim@example.com",
           "LF-Bcc": "a@example.com\nBcc:victim@example.com",
           "CR": "a@example.com\rBcc: victim@example.com",
           "NUL": "a@example.com\x00b@example.com",
           "line-separator": "a@example.com\u2028Bcc: victim@example.com",
           "comma-list": "a@example.com, b@example.com",
           "comma-no-space": "a@example.com,b@example.com",
           "semicolon-list": "a@example.com;b@example.com",
           "display-name": "Boss <boss@example.com>",
           "quoted-display-name": '"Boss, Big" <boss@example.com>',
           "group": "undisclosed-recipients:;",
           "comment": "boss@example.com (Boss)",
           "encoded-word": "=?utf-8?q?a=0D=0ABcc:_v@x.y?=@example.com",
           "percent-CRLF": "a@example.com%0d%0aBcc:victim@example.com",
           "300-chars": "a" * 300 + "@example.com",
           "300-char-domain": "a@" + "b" * 300 + ".com",
           "empty": "",
           "no-at": "example.com",
           "two-ats": "a@b@example.com",
           "domain-literal": "a@[127.0.0.1]",
           "space": "a b@example.com",
       }.items()},
    "email-not-a-string": body_case(submit_bytes(task_name="typed", params=GOOD,
                                                 email=["a@example.com", "b@example.com"]),
                                    400, 100),
    "email-number": body_case(submit_bytes(task_name="typed", params=GOOD, email=5), 400, 100),
    "chain-email-CRLF-Bcc": body_case(
        json.dumps({"steps": [{"task_name": "typed", "params": GOOD}],
                    "email": "a@example.com\r\nBcc: victim@example.com"}).encode(),
        422, 108, path="/api/chains"),
    "chain-100k-nested": body_case(b'{"steps": ' + NESTED_ARRAYS + b"}", 400, 103,
                                   path="/api/chains"),
    "chain-NaN": body_case(b'{"steps": [{"task_name": "typed", "params": {"count": NaN}}]}',
                           400, 103, path="/api/chains"),
    "chain-bad-step": body_case(b'{"steps": [{"task_name": "typed", "params": {}, "x": 1}]}',
                                400, 100, path="/api/chains"),
    "chain-bad-params": body_case(json.dumps({"steps": [
        {"task_name": "typed", "params": GOOD}, {"task_name": "typed", "params": {"count": 0}}
    ]}).encode(), 422, 102, path="/api/chains"),
}

# Params that break `typed`'s schema (or `plain`'s signature) in every way: 102 each.
BAD_PARAMS = {
    "text-number": {"text": 1}, "text-null": {"text": None}, "text-array": {"text": ["abc"]},
    "text-object": {"text": {"abc": 1}}, "count-string": {"count": "2"},
    "count-float": {"count": 1.5}, "count-bool": {"count": True}, "ratio-string": {"ratio": "x"},
    "flag-string": {"flag": "true"}, "flag-number": {"flag": 1}, "tags-string": {"tags": "a"},
    "tags-numbers": {"tags": [1, 2]}, "point-array": {"point": [1]},
    "point-x-string": {"point": {"x": "1"}},
    "count-zero": {"count": 0}, "count-101": {"count": 101}, "count-negative": {"count": -1},
    "count-2**64": {"count": 2**64}, "ratio-0": {"ratio": 0}, "ratio-1": {"ratio": 1},
    "text-empty": {"text": ""}, "text-too-long": {"text": "a" * 11},
    "text-1MB": {"text": "a" * 500_000}, "text-pattern": {"text": "ABC"},
    "text-newline-pattern": {"text": "abc\n"}, "tags-empty": {"tags": []},
    "tags-duplicates": {"tags": ["a", "a"]}, "tags-four": {"tags": ["a", "b", "c", "d"]},
    "color-not-in-enum": {"color": "blue"}, "color-case": {"color": "RED"},
    "mail-format": {"mail": "not an address"}, "when-month-13": {"when": "2024-13-01T00:00:00Z"},
    "when-words": {"when": "yesterday"}, "site-format": {"site": "not a uri"},
    "uid-format": {"uid": "not-a-uuid"}, "ip-out-of-range": {"ip": "999.1.1.1"},
    "extra-key": {"extra": 1}, "extra-nested-key": {"point": {"x": 1, "y": 2}},
    "nested-missing": {"point": {}},
}
MISSING = {"missing-text": {"count": 2}, "missing-count": {"text": "abc"},
           "missing-both": {}}
NOT_OBJECTS = {"params-array": [1, 2], "params-string": "abc", "params-number": 5,
               "params-true": True}
for name, change in BAD_PARAMS.items():
    BODIES[f"params-{name}"] = body_case(
        submit_bytes(task_name="typed", params={**GOOD, **change}, wait=0), 422, 102)
for name, params in {**MISSING, **NOT_OBJECTS}.items():
    BODIES[f"params-{name}"] = body_case(submit_bytes(task_name="typed", params=params), 422,
                                         102)
BODIES["plain-missing-argument"] = body_case(submit_bytes(task_name="plain", params={"b": 2}),
                                             422, 102)
BODIES["plain-unknown-argument"] = body_case(
    submit_bytes(task_name="plain", params={"a": 1, "c": 3}), 422, 102)
BODIES["plain-params-array"] = body_case(submit_bytes(task_name="plain", params=[1]), 422, 102)

# Query strings of the list and ids in paths
GETS = {
    **{f"query-{name}": Case(None, 400, 100, (), "GET", f"/api/tasks?{query}") for name, query in {
        "limit-0": "limit=0", "limit-501": "limit=501", "limit-negative": "limit=-1",
        "limit-word": "limit=abc", "limit-exponent": "limit=1e3",
        "limit-20-digits": "limit=99999999999999999999", "limit-5000-digits": "limit=" + "9" * 5000,
        "limit-unicode-digit": "limit=%D9%A3", "cursor-negative": "cursor=-1",
        "cursor-zero": "cursor=0", "cursor-20-digits": "cursor=99999999999999999999",
        "cursor-5000-digits": "cursor=" + "9" * 5000, "cursor-word": "cursor=abc",
        "cursor-NUL": "cursor=1%00", "status-unknown": "status=nope",
        "status-bad-utf8": "status=%ed%b0%80", "unknown-parameter": "foo=bar",
        "twice": "limit=1&limit=2", "bad-utf8-name": "%ff=1",
        "CRLF-name": "x%0D%0AInjected:%201=1", "NUL-name": "%00=1",
        "CRLF-value": "status=x%0D%0Ay", "line-separator-name": "%E2%80%A8=1",
        "20000-parameters": "&".join(f"p{i}=1" for i in range(20_000)),
    }.items()},
    "query-task_name-NUL": Case(None, 200, None, (), "GET", "/api/tasks?task_name=%00"),
    "query-task_name-bad-utf8": Case(None, 200, None, (), "GET", "/api/tasks?task_name=%ff%fe"),
    "query-task_name-200k": Case(None, 200, None, (), "GET",
                                 "/api/tasks?task_name=" + "x" * 200_000),
    "query-status-any-case": Case(None, 200, None, (), "GET", "/api/tasks?status=fAiLeD"),
    **{f"id-{name}": Case(None, 404, 104, (), method, path) for name, (method, path) in {
        "20-digits": ("GET", "/api/tasks/99999999999999999999"),
        "minus-one": ("GET", "/api/tasks/-1"), "zero": ("GET", "/api/tasks/0"),
        "2**63": ("GET", f"/api/tasks/{2**63}"),
        "fraction": ("GET", "/api/tasks/1.5"), "NUL": ("GET", "/api/tasks/%00"),
        "cancel-20-digits": ("POST", "/api/tasks/99999999999999999999/cancel"),
        "cancel-minus-one": ("POST", "/api/tasks/-1/cancel"),
        "retry-minus-one": ("POST", "/api/tasks/-1/retry"),
        "retry-2**63": ("POST", f"/api/tasks/{2**63}/retry"),
        "result-token-5000": ("GET", "/results/" + "a" * 5000),
        "result-token-traversal": ("GET", "/results/..%2F..%2Fetc%2Fpasswd"),
        "result-token-NUL": ("GET", "/results/%00"),
        "path-traversal": ("GET", "/api/tasks/1/../../../etc/passwd"),
        "path-CRLF": ("GET", "/api/x%0D%0AX-Injected:%201"),
        "path-NUL-and-separator": ("GET", "/api/x%00%E2%80%A8y"),
        "method-on-CRLF-path": ("DELETE", "/x%0A%0Dy"),
    }.items()},
    "id-5000-digits": Case(None, 400, 100, (), "GET", "/api/tasks/" + "9" * 5000),
    "id-5000-digits-cancel": Case(None, 400, 100, (), "POST", "/api/tasks/" + "9" * 5000
                                  + "/cancel"),
}
CASES = {**BODIES, **GETS}

# What http.client cannot send: chunked bodies, lying or broken framing, huge headers.
RAW = {
    "chunked-json": (post_head(extra=b"Transfer-Encoding: chunked\r\n") + chunked(ONE_SUBMIT),
                     202, None),
    "chunked-10MB": (post_head(extra=b"Transfer-Encoding: chunked\r\n")
                     + chunked(b"[" + b"1," * 5_000_000 + b"1]"), 413, 105),
    "chunked-100k-nested": (post_head(extra=b"Transfer-Encoding: chunked\r\n")
                            + chunked(with_params(NESTED_OBJECTS)), 400, 103),
    "chunked-bad-size": (post_head(extra=b"Transfer-Encoding: chunked\r\n") + b"zz\r\n"
                         + ONE_SUBMIT + b"\r\n0\r\n\r\n", 400, 100),
    "chunked-and-length": (post_head(b"5", extra=b"Transfer-Encoding: chunked\r\n")
                           + chunked(ONE_SUBMIT), 202, None),
    "length-shorter-than-body": (post_head(b"10") + ONE_SUBMIT, 400, 103),
    "length-10MB-declared": (post_head(str(10 * 1024 * 1024).encode()) + ONE_SUBMIT, 413, 105),
    "length-10MB-sent": (post_head(str(10 * 1024 * 1024).encode()) + b"x" * 10 * 1024 * 1024,
                         413, 105),
    "length-negative": (post_head(b"-1") + ONE_SUBMIT, 400, 100),
    "length-5000-digits": (post_head(BIG) + ONE_SUBMIT, 400, 100),
    "length-hex": (post_head(b"0x10") + ONE_SUBMIT, 400, 100),
    "length-unicode-digit": (post_head(b"\xb2") + ONE_SUBMIT, 400, 100),
    "length-twice": (post_head(b"5", extra=b"Content-Length: 60\r\n") + ONE_SUBMIT, 400, 100),
    "header-300KB": (post_head(b"2", extra=b"X-Big: " + b"a" * 300_000 + b"\r\n") + b"{}",
                     431, 100),
    "query-300KB": (b"GET /api/tasks?task_name=" + b"a" * 300_000
                    + b" HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n", 431, 100),
    "not-http": (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 64 + b"\r\n\r\n",
                 400, 100),
}


@pytest.fixture(scope="module")
def smtp() -> Iterator[SmtpTestServer]:
    server = start_smtp_server()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, smtp: SmtpTestServer
           ) -> Iterator[ServerProcess]:
    """One server with the hostile tasks, sending email to a real SMTP server."""
    directory = tmp_path_factory.mktemp("hostile")
    tasks_file = directory / "hostile_tasks.py"
    tasks_file.write_text(textwrap.dedent(TASKS), encoding="utf-8")
    config = {"http": {"sync_wait_s": 10, "max_body_bytes": MAX_BODY_BYTES},
              "smtp": {"host": "127.0.0.1", "port": smtp.port, "sender": "jobs@example.com",
                       "retry_backoff_s": 0.1}}
    process = ServerProcess(tasks_file, directory, config)
    try:
        yield process.start()
    finally:
        process.stop()


def memory_bytes(server: ServerProcess) -> dict[str, int]:
    """VmRSS and VmHWM (the peak) of the server process, in bytes."""
    assert server.process is not None
    status = Path(f"/proc/{server.process.pid}/status").read_text()
    return {name: int(kilobytes) * 1024
            for name, kilobytes in re.findall(r"^(VmRSS|VmHWM):\s+(\d+) kB", status, re.M)}


def send(server: ServerProcess, case: Case) -> Answer:
    return call(server, case.method, case.path, case.body, dict(case.headers))


def assert_expected(answer: Answer | None, status: int, code: int | None) -> None:
    assert answer is not None, "the server closed the connection without an answer"
    assert answer.status == status, (answer.status, answer.body[:300])
    if code is not None:
        assert answer.json()["error_code"] == code, answer.body[:300]


@pytest.mark.parametrize("name", list(CASES))
def test_each_hostile_request_gets_its_error_code_and_no_server_error(server, name):
    case = CASES[name]
    assert_expected(send(server, case), case.status, case.code)


@pytest.mark.parametrize("name", list(RAW))
def test_each_hostile_framing_gets_its_error_code_and_no_server_error(server, name):
    request, status, code = RAW[name]
    assert_expected(raw(server, request), status, code)


def test_a_body_shorter_than_its_length_is_dropped_and_the_server_carries_on(server):
    answer = raw(server, post_head(b"1000") + ONE_SUBMIT, half_close=True)
    assert answer is None or answer.status == 400  # nothing to answer: the request never ended
    assert call(server, "GET", "/healthz").status == 200


def test_an_accepted_address_gets_one_email_with_one_recipient_and_no_added_header(server,
                                                                                    smtp):
    addresses = ["user@b\u00fccher.de", "first.last+tag@xn--bcher-kva.de",
                 "o'brien@" + "a" * 63 + ".example.com", "x" * 64 + "@example.com"]
    for address in addresses:
        answer = call(server, "POST", "/api/tasks", submit_bytes(
            task_name="typed", params=GOOD, email=address), JSON)
        assert answer.status == 200 and answer.json()["status"] == "OK", answer.body
    wait_until(lambda: len(smtp.envelopes) >= len(addresses), timeout_s=TIMEOUT_S)
    assert len(smtp.envelopes) == len(addresses)
    for envelope in smtp.envelopes:
        assert len(envelope.rcpt_tos) == 1
        message = email.message_from_bytes(envelope.original_content,
                                           policy=email.policy.default)  # unfolds long lines
        [to] = message.get_all("To")
        assert [item.addr_spec for item in to.addresses] == envelope.rcpt_tos
        assert message.get_all("Bcc") is None and message.get_all("Cc") is None
    assert sorted(envelope.rcpt_tos[0] for envelope in smtp.envelopes) == sorted(
        address.replace("b\u00fccher", "xn--bcher-kva") for address in addresses)


DISPOSITION = re.compile(r"attachment; filename=\"([ !#-\[\]-~]*)\"; "
                         r"filename\*=UTF-8''([A-Za-z0-9%!#$&+^`|~._-]*)")


def is_safe_name(name: str) -> bool:
    return (bool(name) and "/" not in name and "\\" not in name and ".." not in name
            and not name.startswith(".") and len(name.encode("utf-8")) <= 255
            and not any(unicodedata.category(char) in ("Cc", "Cf", "Cs", "Zl", "Zp")
                        for char in name))


def test_result_file_names_are_stored_and_served_sanitised(server):
    answer = call(server, "POST", "/api/tasks", submit_bytes(task_name="evil_files"), JSON)
    assert answer.status == 200, answer.body
    files = answer.json()["files"]
    names = [item["name"] for item in files]
    assert len(names) == 19 and all(is_safe_name(name) for name in names), names
    assert len({name.casefold() for name in names}) == len(names)
    assert {"_._etc_x", "_etc_passwd", "file", "_CON", "htaccess"} <= set(names)
    task_id = answer.json()["task_id"]
    record = call(server, "GET", f"/api/tasks/{task_id}").json()
    assert [item["name"] for item in record["files"]] == names
    for item in files:
        download = call(server, "GET", urllib.parse.urlsplit(item["url"]).path)
        assert download.status == 200
        disposition = download.headers["Content-Disposition"]
        assert len(download.headers.get_all("Content-Disposition")) == 1
        assert download.headers.get_all("Content-Type") == [item["content_type"]]
        match = DISPOSITION.fullmatch(disposition)
        assert match, disposition
        fallback, encoded = match.groups()
        assert urllib.parse.unquote(encoded, errors="strict") == item["name"]
        assert ".." not in fallback and "/" not in fallback and not fallback.startswith(".")
        assert download.headers["X-Content-Type-Options"] == "nosniff"
        assert "sandbox" in download.headers["Content-Security-Policy"]


def test_memory_stays_bounded_under_the_whole_barrage_three_times(server):
    before = memory_bytes(server)
    for _ in range(3):
        for case in CASES.values():
            send(server, case)
        for request, _status, _code in RAW.values():
            raw(server, request)
    after = memory_bytes(server)
    assert after["VmHWM"] - before["VmRSS"] < MEMORY_BOUND_BYTES, (before, after)
    assert call(server, "GET", "/healthz").status == 200


def test_no_bug_was_logged_while_answering(server):
    assert call(server, "GET", "/healthz").status == 200
    assert "bug while answering" not in server.log
    assert "Traceback" not in server.log, server.log[-3000:]
