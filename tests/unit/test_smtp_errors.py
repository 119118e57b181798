"""How each smtplib, socket and TLS failure becomes a `MailDeliveryError`: whether a retry can
help, the reply code, and a message that quotes the server. (The common cases also run
against a real server in tests/integration/test_smtp_mailer.py.)"""

from __future__ import annotations

import smtplib
import ssl

import pytest

from deferred.mail.smtp import delivery_error, reply_text

WHERE = "SMTP server mail.example.com:587"


def raised(exc: Exception) -> Exception:
    """`exc` as it is when smtplib raises it from inside an `except` block."""
    try:
        raise exc
    except Exception as caught:
        return caught


@pytest.mark.parametrize("exc, permanent, code", [
    (smtplib.SMTPDataError(451, b"4.3.0 try later"), False, 451),
    (smtplib.SMTPDataError(421, b"4.4.2 closing"), False, 421),
    (smtplib.SMTPDataError(550, b"5.7.1 rejected"), True, 550),
    (smtplib.SMTPDataError(552, b"5.3.4 message too big"), True, 552),
    (smtplib.SMTPSenderRefused(553, b"bad sender", "d@example.com"), True, 553),
    (smtplib.SMTPHeloError(501, b"bad helo"), True, 501),
    (smtplib.SMTPAuthenticationError(535, b"5.7.8 bad credentials"), True, 535),
    (smtplib.SMTPAuthenticationError(454, b"4.7.0 temporary auth failure"), False, 454),
    # A greeting other than 220 says how the server is now, not what it thinks of our email.
    (smtplib.SMTPConnectError(554, b"no service"), False, 554),
    (smtplib.SMTPConnectError(421, b"too busy"), False, 421),
])
def test_a_reply_is_permanent_only_for_5xx_after_the_greeting(exc, permanent, code):
    error = delivery_error(exc, "sending the message", WHERE)
    assert (error.permanent, error.smtp_code) == (permanent, code)
    assert f"the server answered {code} {exc.smtp_error.decode()}" in str(error)


@pytest.mark.parametrize("recipients, permanent, code", [
    ({"a@example.org": (450, b"mailbox busy")}, False, 450),
    ({"a@example.org": (550, b"no such user")}, True, 550),
    ({"a@example.org": (450, b"busy"), "b@example.org": (550, b"no")}, True, 450),
])
def test_refused_recipients_are_temporary_only_when_every_reply_is_4xx(recipients, permanent,
                                                                      code):
    error = delivery_error(smtplib.SMTPRecipientsRefused(recipients), "sending", WHERE)
    assert (error.permanent, error.smtp_code) == (permanent, code)


@pytest.mark.parametrize("exc, text", [
    (ConnectionRefusedError(111, "Connection refused"), "connection refused"),
    (ConnectionResetError(104, "Connection reset by peer"), "connection reset by peer"),
    (TimeoutError("timed out"), "timed out"),
    (smtplib.SMTPServerDisconnected("Connection unexpectedly closed"),
     "the connection was closed (Connection unexpectedly closed)"),
    (ssl.SSLError(1, "[SSL] wrong version number"), "[SSL] wrong version number"),
])
def test_a_network_failure_is_temporary_and_has_no_code(exc, text):
    error = delivery_error(exc, "connecting", WHERE)
    assert (error.permanent, error.smtp_code) == (False, None)
    assert str(error) == f"{WHERE}: connecting failed: {text}"


def test_a_read_that_timed_out_says_so():
    try:
        try:
            raise TimeoutError("timed out")
        except OSError as exc:
            raise smtplib.SMTPServerDisconnected(f"Connection unexpectedly closed: {exc}")
    except smtplib.SMTPServerDisconnected as caught:
        error = delivery_error(caught, "sending the message", WHERE)
    assert not error.permanent
    assert str(error) == f"{WHERE}: sending the message failed: timed out"


def test_what_the_server_does_not_offer_is_permanent():
    error = delivery_error(
        smtplib.SMTPNotSupportedError("STARTTLS extension not supported by server."),
        "starting TLS", WHERE)
    assert error.permanent
    assert str(error) == (f"{WHERE}: starting TLS failed: STARTTLS extension not supported by "
                          "server.")


def test_a_login_smtplib_cannot_do_is_permanent():
    error = delivery_error(smtplib.SMTPException("No suitable authentication method found."),
                           "logging in as 'bob'", WHERE)
    assert error.permanent
    assert "No suitable authentication method found." in str(error)


def test_a_password_smtplib_cannot_encode_is_permanent():
    error = delivery_error(raised(UnicodeEncodeError("ascii", "pässword", 1, 2, "no")),
                           "logging in as 'bob'", WHERE)
    assert error.permanent
    assert str(error).startswith(f"{WHERE}: logging in as 'bob' failed: smtplib can only "
                                 "send ASCII here")


def test_a_reply_is_decoded_put_on_one_line_and_shortened():
    assert reply_text(b"5.1.1 <a@example.org>:\r\n  no such\tuser \xff") == (
        "5.1.1 <a@example.org>: no such user \ufffd")
    assert reply_text("x" * 500) == "x" * 197 + "..."
