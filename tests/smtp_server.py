"""A real SMTP server for tests: aiosmtpd's `Controller` on 127.0.0.1, keeping what it
receives, with replies a test can change and TLS from a self-signed certificate."""

from __future__ import annotations

import dataclasses
import email
import email.policy
import shutil
import ssl
import subprocess
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from ports import free_port  # noqa: F401 (the SMTP tests import it from here)

HOST = "127.0.0.1"


class RecordingHandler:
    """Accepts every message and keeps its envelope, unless a test sets a refusal:
    `rcpt_reply` answers RCPT TO, `data_reply` answers the message data."""

    def __init__(self) -> None:
        self.envelopes: list[Envelope] = []
        self.rcpt_reply: str | None = None
        self.data_reply: str | None = None

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope,
                          address: str, rcpt_options: list[str]) -> str:
        if self.rcpt_reply is not None:
            return self.rcpt_reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.data_reply is not None:
            return self.data_reply
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"


class PasswordAuthenticator:
    """Lets in one user name with one password."""

    def __init__(self, username: str, password: str) -> None:
        self.login = LoginPassword(username.encode(), password.encode())

    def __call__(self, server: SMTP, session: Session, envelope: Envelope, mechanism: str,
                 auth_data: Any) -> AuthResult:
        if auth_data == self.login:
            return AuthResult(success=True, auth_data=auth_data)
        return AuthResult(success=False, handled=False)  # unhandled: aiosmtpd answers 535


@dataclasses.dataclass
class SmtpTestServer:
    """A running aiosmtpd server and what it has received."""

    host: str
    port: int
    handler: RecordingHandler
    controller: Controller

    @property
    def envelopes(self) -> list[Envelope]:
        """The envelopes of the messages accepted, oldest first."""
        return self.handler.envelopes

    def messages(self) -> list[EmailMessage]:
        """The messages accepted, parsed as a mail program would."""
        parsed = [email.message_from_bytes(envelope.original_content,
                                           policy=email.policy.default)
                  for envelope in self.envelopes]
        return [message for message in parsed if isinstance(message, EmailMessage)]

    def stop(self) -> None:
        """Stop the server and its thread."""
        self.controller.stop()


def start_smtp_server(port: int | None = None, **smtp_options: Any) -> SmtpTestServer:
    """Start aiosmtpd on `port` (default: a free loopback port); `smtp_options` go to its
    `SMTP` (TLS, auth).

    Raises `RuntimeError` saying what failed if it does not start: a test needing it must
    fail, not skip.
    """
    handler, port = RecordingHandler(), free_port() if port is None else port
    controller = Controller(handler, hostname=HOST, port=port, **smtp_options)
    try:
        controller.start()
    except Exception as exc:
        controller.stop(no_assert=True)
        raise RuntimeError(f"aiosmtpd could not start on {HOST}:{port}: {exc!r}") from exc
    return SmtpTestServer(HOST, port, handler, controller)


@dataclasses.dataclass(frozen=True)
class Certificate:
    """A self-signed certificate for 127.0.0.1 and its key, as PEM files."""

    cert_path: Path
    key_path: Path

    def server_context(self) -> ssl.SSLContext:
        """The context a TLS server presents this certificate with."""
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert_path, self.key_path)
        return context

    def client_context(self) -> ssl.SSLContext:
        """A client context that trusts only this certificate (and checks the host name)."""
        return ssl.create_default_context(cafile=str(self.cert_path))


def make_certificate(directory: Path) -> Certificate:
    """Make a self-signed certificate for 127.0.0.1 with the `openssl` command.

    Raises `RuntimeError` if `openssl` is missing or fails.
    """
    openssl = shutil.which("openssl")
    if openssl is None:
        raise RuntimeError("the TLS tests need the `openssl` command (apt-get install openssl)")
    cert, key = directory / "cert.pem", directory / "key.pem"
    command = [openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt",
               "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", str(key), "-out",
               str(cert), "-days", "2", "-subj", f"/CN={HOST}",
               "-addext", f"subjectAltName=IP:{HOST}"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"openssl could not make a certificate: {done.stderr.strip()}")
    return Certificate(cert, key)
