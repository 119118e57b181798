"""One request straight into a WSGI app, without a socket: for unit tests of the apps'
routing and answers (the HTTP tests use real sockets)."""

from __future__ import annotations

import io
import wsgiref.util
from typing import Any


def call_wsgi(app: Any, method: str, path: str) -> tuple[str, dict[str, str], bytes]:
    """(status line, headers, body) of `method path` (path as text; sent as WSGI's latin-1)."""
    environ: dict[str, Any] = {"REQUEST_METHOD": method,
                               "PATH_INFO": path.encode("utf-8").decode("latin-1"),
                               "wsgi.input": io.BytesIO(), "wsgi.errors": io.StringIO(),
                               "REMOTE_ADDR": "127.0.0.1"}  # a client on this machine
    wsgiref.util.setup_testing_defaults(environ)
    answer: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None
                       ) -> None:
        answer.update(status=status, headers=dict(headers))

    body = b"".join(app(environ, start_response))
    return answer["status"], answer["headers"], body
