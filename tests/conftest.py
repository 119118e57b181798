"""Fixtures shared by every test folder: a real SMTP server (aiosmtpd on 127.0.0.1), a
real PostgreSQL 15 (started only when a test asks for it), and password hashes made once."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from passwords import earlier_hash
from pg_server import PostgresServer
from smtp_server import Certificate, SmtpTestServer, make_certificate, start_smtp_server

from deferred.access.identity import hash_password


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


@pytest.fixture(scope="session")
def password_hash() -> Callable[[str], str]:
    """`hash_password(password)` at the product's own scrypt parameters, made once per
    password for the whole session: each costs about half a second and 128 MiB here, and
    many tests build configs with the same users."""
    made: dict[str, str] = {}

    def hash_of(password: str) -> str:
        if password not in made:
            made[password] = hash_password(password)
        return made[password]

    return hash_of


@pytest.fixture(scope="session")
def quick_password_hash() -> Callable[[str], str]:
    """A hash at the earlier versions' cost (N=2^14, about 40 ms to check), which deferred
    still verifies: for tests that log in many times to test the login flow, not scrypt's
    cost (one test of each such file logs in with `password_hash` instead)."""
    return earlier_hash
