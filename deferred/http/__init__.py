"""The HTTP side of the server: `make_app()` builds the WSGI app, `HttpServer` serves it.

The app is a `bottle.Bottle` (never bottle's default app) whose handlers close over a
`TaskService`; `HttpServer` runs it on waitress in a thread named `deferred-http` and stops
it cleanly.
"""

from __future__ import annotations

import bottle

from ..config import HttpConfig
from ..interfaces import TaskService
from .api import make_api_app
from .serving import HttpServer

__all__ = ["HttpServer", "make_app"]


def make_app(service: TaskService, config: HttpConfig, *, max_waiting: int = 24
             ) -> bottle.Bottle:
    """The WSGI app of the server: the JSON API (`/api/...`, `POST /`, `/results/...`,
    `/healthz`). At most `max_waiting` submits wait for their results at once."""
    return make_api_app(service, config, max_waiting=max_waiting)
