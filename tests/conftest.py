"""Fixtures shared by every test folder: a real SMTP server (aiosmtpd on 127.0.0.1)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from smtp_server import Certificate, SmtpTestServer, make_certificate, start_smtp_server


@pytest.fixture
def start_smtp() -> Iterator[Callable[..., SmtpTestServer]]:
    """Starts aiosmtpd servers (keyword arguments go to its `SMTP`: TLS, authenticator) and
    stops them after the test. Fails, never skips, if one cannot start."""
    started: list[SmtpTestServer] = []

    def start(**smtp_options: object) -> SmtpTestServer:
        server = start_smtp_server(**smtp_options)
        started.append(server)
        return server

    yield start
    for server in reversed(started):
        server.stop()


@pytest.fixture
def smtp_server(start_smtp: Callable[..., SmtpTestServer]) -> SmtpTestServer:
    """A plain aiosmtpd server on 127.0.0.1 keeping the messages it accepts."""
    return start_smtp()


@pytest.fixture(scope="session")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Certificate:
    """A self-signed certificate for 127.0.0.1, made with `openssl`."""
    return make_certificate(tmp_path_factory.mktemp("tls"))
