"""The HTTP side of the server: `make_app()` builds the WSGI app, `HttpServer` serves it.

The app is a `bottle.Bottle` (never bottle's default app) whose handlers close over a
`TaskService` (what changes tasks), a `RecordReader` (what reads the store) and an
`AccessStore` (audit log, sessions, tokens); `HttpServer` runs it on waitress in a thread named
`deferred-http` and stops it cleanly.
"""

from __future__ import annotations

import bottle

from ..config import AuthConfig, HttpConfig
from ..interfaces import AccessStore, RecordReader, TaskService
from .api import make_api_app
from .auth import Authenticator
from .security import add_security_headers
from .serving import HttpServer
from .ui import make_ui_app

__all__ = ("HttpServer", "make_app")


def make_app(service: TaskService, records: RecordReader, access: AccessStore,
             config: HttpConfig, auth: AuthConfig | None = None, *,
             max_waiting: int = 24) -> bottle.Bottle:
    """The WSGI app of the server: the JSON API (`/api/...`, `POST /`, `/results/...`,
    `/healthz`) and the web UI (`GET /`, `/tasks`, `/launch`, `/static/...`), every answer
    with the security headers, every route behind the access check of `auth` (no auth: open
    to all, which the server allows on a loopback address only). At most `max_waiting`
    submits wait for their results at once."""
    authenticator = Authenticator(auth or AuthConfig(), access)
    app = make_api_app(service, records, access, config, authenticator, max_waiting=max_waiting)
    # The UI's routes keep the UI app's plugins.
    app.merge(make_ui_app(service, records, access, config, authenticator))
    app.add_hook("after_request", add_security_headers)
    return app
