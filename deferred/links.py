"""Absolute links the server hands out (in API answers, pages and emails): where they are
based, and the path of a task and of a result file under that base."""

from __future__ import annotations

import socket
import urllib.parse
from collections.abc import Mapping
from typing import Any

_EVERYWHERE = ("0.0.0.0", "::", "")


def _configured(public_url: str | None) -> str | None:
    return public_url.rstrip("/") if public_url else None


def request_base_url(environ: Mapping[str, Any], public_url: str | None) -> str:
    """The base of links in an answer: `http.public_url` if set, else the scheme, host and
    port the client addressed, and the mount point (SCRIPT_NAME) of the app."""
    configured = _configured(public_url)
    if configured:
        return configured
    scheme = environ.get("wsgi.url_scheme", "http")
    host = environ.get("HTTP_HOST")
    if not host:
        host = environ.get("SERVER_NAME", "127.0.0.1")
        port = environ.get("SERVER_PORT")
        if port and port != ("443" if scheme == "https" else "80"):
            host = f"{host}:{port}"
    script_name = urllib.parse.quote(environ.get("SCRIPT_NAME", "").rstrip("/"))
    return f"{scheme}://{host}{script_name}"


def listener_base_url(public_url: str | None, host: str, port: int) -> str:
    """The base of links sent with no request to answer (emails): `http.public_url` if set,
    else the host and port the server listens on, the machine's name if it listens on
    every address."""
    configured = _configured(public_url)
    if configured:
        return configured
    if host in _EVERYWHERE:
        host = socket.getfqdn()
    return f"http://{host}:{port}"


def task_url(base_url: str, task_id: int) -> str:
    """The API address of task `task_id`."""
    return f"{base_url}/api/tasks/{task_id}"


def file_url(base_url: str, token: str) -> str:
    """The download address of the result file with `token`."""
    return f"{base_url}/results/{urllib.parse.quote(token, safe='')}"
