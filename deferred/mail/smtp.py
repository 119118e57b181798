"""`SmtpMailer`: hands one result email to the configured SMTP server with smtplib.

Every failure leaves as a `MailDeliveryError` saying whether a retry can help: a refused or
dropped connection, a timeout or a 4xx reply can; a 5xx reply or a refused login cannot.
"""

from __future__ import annotations

import email.utils
import logging
import smtplib
import ssl
import time
import types
from collections.abc import Iterable, Mapping

from .. import addresses
from ..config import SmtpConfig
from ..errors import MailDeliveryError
from ..interfaces import OutgoingMail
from .message import SMTP_POLICY, build_message

logger = logging.getLogger(__name__)

DEFAULT_PORTS: Mapping[str, int] = types.MappingProxyType(
    {"none": 25, "starttls": 587, "ssl": 465})
"""The port for each `smtp.security` when `smtp.port` is not set."""
MAX_REPLY_CHARS = 200


class SmtpMailer:
    """Sends result emails as `config` says: plain, STARTTLS or implicit TLS, with a login
    when a user name is set, one connection per email.

    `ssl_context` checks the server's certificate; the default trusts the system's CAs and
    checks the host name.
    """

    def __init__(self, config: SmtpConfig, *, ssl_context: ssl.SSLContext | None = None
                 ) -> None:
        self._config = config
        self._port = config.port or DEFAULT_PORTS[config.security]
        self._ssl_context = ssl_context
        self._where = f"SMTP server {config.host}:{self._port}"

    def send(self, mail: OutgoingMail) -> None:
        """Build the message for `mail` and hand it to the SMTP server.

        Raises `MailDeliveryError` (with `permanent` and, for a reply, `smtp_code`) when the
        server cannot be reached or does not accept the email.
        """
        domain = mail.recipient.rpartition("@")[2]
        started = time.monotonic()
        try:
            sender = self._envelope_address(
                email.utils.parseaddr(self._config.sender)[1] or self._config.sender, "sender")
            recipient = self._envelope_address(mail.recipient, "recipient")
            message = build_message(mail, sender=self._config.sender,
                                    max_attachment_bytes=self._config.max_attachment_bytes)
            data = message.as_bytes(policy=SMTP_POLICY)
            self._deliver(sender, recipient, data)
        except MailDeliveryError as exc:
            logger.debug("email of task %s to a recipient at %s not sent (%s): %s",
                           mail.task_id, domain, "permanent" if exc.permanent else "temporary",
                           exc)
            raise
        logger.info("email of task %s sent to a recipient at %s: %d bytes in %.3fs",
                    mail.task_id, domain, len(data), time.monotonic() - started)

    def _envelope_address(self, address: str, role: str) -> str:
        # The submit and the config refuse what IDNA 2008 refuses; a record stored before
        # they did (by IDNA 2003 rules) fails here, and no retry can help it.
        try:
            return addresses.ascii_address(address)
        except ValueError as exc:
            raise MailDeliveryError(f"the {role}'s domain cannot be sent to: {exc}",
                                    permanent=True, where=self._where) from None

    def _deliver(self, sender: str, recipient: str, data: bytes) -> None:
        for text in (sender, recipient):
            if not text.isascii():
                raise MailDeliveryError(f"{text!r} has a non-ASCII local part, which needs "
                                        "SMTPUTF8; deferred sends ASCII addresses only",
                                        permanent=True, where=self._where)
        try:
            client = self._connect()
        except (OSError, UnicodeError) as exc:  # smtplib's errors are all OSErrors
            raise delivery_error(exc, "connecting", self._where) from exc
        try:
            self._converse(client, sender, recipient, data)
        finally:
            _quit(client)

    def _connect(self) -> smtplib.SMTP:
        # The constructors connect and read the greeting; on a failure they close the socket.
        host, port, timeout_s = self._config.host, self._port, self._config.timeout_s
        if self._config.security == "ssl":
            return smtplib.SMTP_SSL(host, port, timeout=timeout_s, context=self._tls_context())
        return smtplib.SMTP(host, port, timeout=timeout_s)

    def _converse(self, client: smtplib.SMTP, sender: str, recipient: str,
                  data: bytes) -> None:
        stage = "sending the message"
        try:
            if self._config.security == "starttls":
                stage = "starting TLS"
                client.starttls(context=self._tls_context())
            if self._config.username:
                stage = f"logging in as {self._config.username!r}"
                client.login(self._config.username, self._config.password or "")
            stage = "sending the message"
            client.sendmail(sender, [recipient], data)
        except (OSError, UnicodeError) as exc:
            raise delivery_error(exc, stage, self._where) from exc

    def _tls_context(self) -> ssl.SSLContext:
        return self._ssl_context or ssl.create_default_context()


def _quit(client: smtplib.SMTP) -> None:
    # Once the server said 250 to the data the email is sent: a failed QUIT changes nothing.
    try:
        if client.sock is not None:
            client.quit()
    except OSError:
        pass
    finally:
        client.close()


def delivery_error(exc: BaseException, stage: str, where: str) -> MailDeliveryError:
    """The `MailDeliveryError` for an smtplib, socket or TLS error raised while `stage`."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _reply in exc.recipients.values()]
        replies = " / ".join(f"{code} {reply_text(reply)}"
                             for code, reply in exc.recipients.values())
        return MailDeliveryError(f"the recipient was refused: {replies}",
                                 permanent=not _all_temporary(codes),
                                 smtp_code=codes[0] if codes else None, where=where)
    if isinstance(exc, smtplib.SMTPResponseException):
        return _reply_error(exc, stage, where)
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        # smtplib reports a read that timed out as a closed connection.
        reason = ("timed out" if isinstance(exc.__context__, TimeoutError)
                  else f"the connection was closed ({reply_text(str(exc)) or 'no reason'})")
        return MailDeliveryError(f"{stage} failed: {reason}", permanent=False, where=where)
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return MailDeliveryError(f"{stage} failed: {reply_text(str(exc))}", permanent=True,
                                 where=where)
    if isinstance(exc, smtplib.SMTPException) and stage.startswith("logging in"):
        return MailDeliveryError(f"{stage} failed: {reply_text(str(exc))}", permanent=True,
                                 where=where)
    if isinstance(exc, UnicodeError):
        return MailDeliveryError(f"{stage} failed: smtplib can only send ASCII here ({exc})",
                                 permanent=True, where=where)
    return MailDeliveryError(f"{stage} failed: {_os_error_text(exc)}", permanent=False,
                             where=where)


def _reply_error(exc: smtplib.SMTPResponseException, stage: str,
                 where: str) -> MailDeliveryError:
    code = exc.smtp_code
    if isinstance(exc, smtplib.SMTPConnectError):
        permanent = False  # a greeting other than 220 is the server's state, not our email's
    else:
        permanent = 500 <= code < 600
    if isinstance(exc, smtplib.SMTPSenderRefused):
        stage = f"sending from {exc.sender!r}"
    what = f"{code} {reply_text(exc.smtp_error)}" if code > 0 else reply_text(exc.smtp_error)
    return MailDeliveryError(f"{stage} failed: the server answered {what}",
                             permanent=permanent, smtp_code=code if code > 0 else None,
                             where=where)


def _all_temporary(codes: Iterable[int]) -> bool:
    codes = list(codes)
    return bool(codes) and all(400 <= code < 500 for code in codes)


def _os_error_text(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "timed out"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"the server's certificate is not trusted ({exc.verify_message})"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror[:1].lower() + exc.strerror[1:]
    return reply_text(str(exc)) or type(exc).__name__


def reply_text(reply: bytes | str) -> str:
    """A server's reply (or an error's text) decoded, on one line, at most 200 characters."""
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply
    text = " ".join(text.split())
    if len(text) > MAX_REPLY_CHARS:
        text = text[:MAX_REPLY_CHARS - 3] + "..."
    return text
