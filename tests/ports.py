"""A free loopback port for the real servers the tests start (SMTP, PostgreSQL) and for
addresses where nothing must listen."""

from __future__ import annotations

import socket

HOST = "127.0.0.1"


def free_port() -> int:
    """A loopback port nobody listens on now (it may be taken a moment later: callers that
    start a server on it retry or fail loudly)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])
