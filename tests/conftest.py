"""Fixtures shared by every test folder: a real SMTP server (aiosmtpd on 127.0.0.1) and a
real PostgreSQL 15 (started only when a test asks for it)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from pg_server import PostgresServer
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


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """A PostgreSQL 15 server for the whole session, on a free loopback port, stopped and
    deleted at the end. Fails, never skips, if it cannot start (the message says why)."""
    server = PostgresServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def postgres_url(postgres: PostgresServer) -> str:
    """The SQLAlchemy URL (`postgresql+psycopg://`) of a new empty database for this test."""
    if not postgres.is_running:  # an earlier test halted it and failed before starting it
        postgres.start_again()
    return postgres.create_database()
