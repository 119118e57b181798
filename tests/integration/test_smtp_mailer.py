"""`SmtpMailer` against a real SMTP server (aiosmtpd on 127.0.0.1): what arrives, and how each
kind of refusal comes back as a `MailDeliveryError`."""

from __future__ import annotations

import dataclasses
import logging
import random
import socket
from collections.abc import Callable, Iterator

import pytest
from smtp_server import (HOST, Certificate, PasswordAuthenticator, SmtpTestServer,
                         free_port)

from deferred.config import SmtpConfig
from deferred.errors import MailDeliveryError
from deferred.interfaces import MailFile, OutgoingMail
from deferred.mail import SmtpMailer
from deferred.records import TaskError, TaskStatus

SENDER = "deferred@example.com"
RECIPIENT = "someone@example.org"
MIB = 1024 * 1024
StartSmtp = Callable[..., SmtpTestServer]

pytestmark = [
    # aiosmtpd 1.4 sets its own deprecated `Session.login_data` after every successful AUTH,
    pytest.mark.filterwarnings("ignore:Session.login_data is deprecated:DeprecationWarning"),
    # and warns for each connection to a server that requires AUTH without TLS, as ours do
    # where aiosmtpd cannot count implicit TLS as TLS, or to test a login by itself.
    pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning"),
]


def make_config(port: int, **overrides: object) -> SmtpConfig:
    return dataclasses.replace(SmtpConfig(host=HOST, port=port, sender=SENDER, timeout_s=5.0),
                               **overrides)


def make_mail(**overrides: object) -> OutgoingMail:
    values: dict[str, object] = dict(task_id=7, task_name="multiprint",
                                     status=TaskStatus.SUCCEEDED, recipient=RECIPIENT,
                                     result="hello\nhello\nhello")
    values.update(overrides)
    return OutgoingMail(**values)  # type: ignore[arg-type]


def make_file(name: str, data: bytes, content_type: str) -> MailFile:
    return MailFile(name=name, content_type=content_type, data=data,
                    url=f"http://127.0.0.1:5000/results/token-{len(data)}")


def send_refused(mailer: SmtpMailer) -> MailDeliveryError:
    with pytest.raises(MailDeliveryError) as caught:
        mailer.send(make_mail())
    return caught.value


def test_an_email_arrives_with_the_exact_body_and_identical_attachments(smtp_server):
    files = (make_file("random.bin", random.Random(7).randbytes(MIB),
                       "application/octet-stream"),
             make_file("résumé 📊.tsv", "naïve\t☃\r\n1\t2\n".encode(),
                       "text/tab-separated-values"))
    SmtpMailer(make_config(smtp_server.port)).send(make_mail(files=files))

    (envelope,) = smtp_server.envelopes
    assert envelope.mail_from == SENDER
    assert envelope.rcpt_tos == [RECIPIENT]
    (message,) = smtp_server.messages()
    assert message["Subject"] == "deferred: multiprint (task 7) succeeded"
    assert message["From"] == SENDER and message["To"] == RECIPIENT
    assert message["Message-ID"] == "<deferred-task-7@example.com>"
    assert message.get_body(preferencelist=("plain",)).get_content() == "hello\nhello\nhello"
    assert [(part.get_filename(), part.get_content_type(), part.get_payload(decode=True))
            for part in message.iter_attachments()] == [
        (file.name, file.content_type, file.data) for file in files]


def test_a_failed_task_arrives_saying_why(smtp_server):
    error = TaskError("RuntimeError", "boom", traceback="Traceback (most recent call last):")
    SmtpMailer(make_config(smtp_server.port)).send(
        make_mail(status=TaskStatus.FAILED, result=None, error=error))
    (message,) = smtp_server.messages()
    assert message["Subject"] == "deferred: multiprint (task 7) failed"
    body = message.get_body(preferencelist=("plain",)).get_content()
    assert body.endswith("RuntimeError: boom") and "Traceback" not in body


def test_files_over_the_configured_limit_arrive_as_links(smtp_server):
    files = (make_file("big.bin", b"\x00" * 5000, "application/octet-stream"),)
    SmtpMailer(make_config(smtp_server.port, max_attachment_bytes=4096)).send(
        make_mail(files=files))
    (message,) = smtp_server.messages()
    assert list(message.iter_attachments()) == []
    body = message.get_body(preferencelist=("plain",)).get_content()
    assert "- big.bin (4.9 KiB): http://127.0.0.1:5000/results/token-5000" in body


def test_the_envelope_sender_is_the_address_of_a_sender_with_a_display_name(smtp_server):
    config = make_config(smtp_server.port, sender="Deferred Bot <bot@example.com>")
    SmtpMailer(config).send(make_mail())
    assert smtp_server.envelopes[0].mail_from == "bot@example.com"
    assert smtp_server.messages()[0]["From"] == "Deferred Bot <bot@example.com>"


def test_an_international_domain_goes_to_its_idna_2008_form(smtp_server):
    # IDNA 2003 (Python's own codec) would send this to fass.de, another domain.
    config = make_config(smtp_server.port, sender="Jobs <jobs@fa\u00df.de>")
    SmtpMailer(config).send(make_mail(recipient="user@fa\u00df.de"))
    (envelope,) = smtp_server.envelopes
    assert envelope.rcpt_tos == ["user@xn--fa-hia.de"]
    assert envelope.mail_from == "jobs@xn--fa-hia.de"
    (message,) = smtp_server.messages()
    assert message["To"] == "user@xn--fa-hia.de"
    assert message["From"] == "Jobs <jobs@xn--fa-hia.de>"


def test_a_recipient_idna_2008_refuses_is_permanent_and_nothing_is_sent(smtp_server):
    # Stored before the submit checked by IDNA 2008 (IDNA 2003 took the snowman).
    with pytest.raises(MailDeliveryError) as caught:
        SmtpMailer(make_config(smtp_server.port)).send(make_mail(recipient="a@\u2603.net"))
    assert caught.value.permanent and caught.value.smtp_code is None
    assert str(caught.value).startswith(
        f"SMTP server {HOST}:{smtp_server.port}: the recipient's domain cannot be sent to: "
        "'\u2603.net' is not a domain name IDNA 2008 allows (Codepoint U+2603")
    assert smtp_server.envelopes == []


def test_a_451_reply_to_the_data_is_temporary(smtp_server):
    smtp_server.handler.data_reply = "451 try later"
    error = send_refused(SmtpMailer(make_config(smtp_server.port)))
    assert (error.permanent, error.smtp_code) == (False, 451)
    assert str(error) == (f"SMTP server {HOST}:{smtp_server.port}: sending the message failed: "
                          "the server answered 451 try later")


def test_a_550_reply_to_the_data_is_permanent_and_quotes_the_server(smtp_server):
    smtp_server.handler.data_reply = "550 no such user"
    error = send_refused(SmtpMailer(make_config(smtp_server.port)))
    assert (error.permanent, error.smtp_code) == (True, 550)
    assert "550 no such user" in str(error)
    assert smtp_server.envelopes == []


@pytest.mark.parametrize("reply, permanent", [("550 5.1.1 no such user", True),
                                              ("450 4.2.1 mailbox busy", False)])
def test_a_refused_recipient_is_permanent_for_5xx_and_temporary_for_4xx(smtp_server, reply,
                                                                         permanent):
    smtp_server.handler.rcpt_reply = reply
    error = send_refused(SmtpMailer(make_config(smtp_server.port)))
    assert (error.permanent, error.smtp_code) == (permanent, int(reply[:3]))
    assert f"the recipient was refused: {reply}" in str(error)


def test_a_server_not_listening_is_temporary():
    port = free_port()
    error = send_refused(SmtpMailer(make_config(port)))
    assert (error.permanent, error.smtp_code) == (False, None)
    assert str(error) == f"SMTP server {HOST}:{port}: connecting failed: connection refused"


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A port where connections are taken (by the kernel) but nothing is ever said."""
    with socket.create_server((HOST, 0)) as listener:
        yield int(listener.getsockname()[1])


def test_a_server_that_never_answers_times_out_as_temporary(silent_server):
    error = send_refused(SmtpMailer(make_config(silent_server, timeout_s=0.2)))
    assert (error.permanent, error.smtp_code) == (False, None)
    assert str(error).endswith("connecting failed: timed out")


def test_starttls_and_login_deliver(start_smtp: StartSmtp, certificate: Certificate):
    # The server refuses mail before STARTTLS and before AUTH: arriving proves both happened.
    server = start_smtp(tls_context=certificate.server_context(), require_starttls=True,
                        authenticator=PasswordAuthenticator("bob", "s3cret"),
                        auth_required=True)
    config = make_config(server.port, security="starttls", username="bob", password="s3cret")
    SmtpMailer(config, ssl_context=certificate.client_context()).send(make_mail())
    assert server.messages()[0].get_body().get_content() == "hello\nhello\nhello"


def test_starttls_checks_the_certificate_by_default(start_smtp: StartSmtp,
                                                   certificate: Certificate):
    server = start_smtp(tls_context=certificate.server_context(), require_starttls=True)
    error = send_refused(SmtpMailer(make_config(server.port, security="starttls")))
    assert not error.permanent
    assert "starting TLS failed: the server's certificate is not trusted" in str(error)
    assert server.envelopes == []


def test_starttls_against_a_server_without_it_is_permanent(smtp_server):
    error = send_refused(SmtpMailer(make_config(smtp_server.port, security="starttls")))
    assert error.permanent
    assert "starting TLS failed: STARTTLS extension not supported by server" in str(error)


def test_implicit_tls_and_login_deliver(start_smtp: StartSmtp, certificate: Certificate):
    # aiosmtpd only counts STARTTLS as TLS for AUTH, hence auth_require_tls=False here.
    server = start_smtp(ssl_context=certificate.server_context(),
                        authenticator=PasswordAuthenticator("bob", "s3cret"),
                        auth_require_tls=False, auth_required=True)
    config = make_config(server.port, security="ssl", username="bob", password="s3cret")
    SmtpMailer(config, ssl_context=certificate.client_context()).send(make_mail())
    assert len(server.envelopes) == 1


def test_implicit_tls_checks_the_certificate_by_default(start_smtp: StartSmtp,
                                                       certificate: Certificate):
    server = start_smtp(ssl_context=certificate.server_context())
    error = send_refused(SmtpMailer(make_config(server.port, security="ssl")))
    assert not error.permanent
    assert "connecting failed: the server's certificate is not trusted" in str(error)


def test_login_over_a_plain_connection_delivers(start_smtp: StartSmtp):
    server = start_smtp(authenticator=PasswordAuthenticator("bob", "s3cret"),
                        auth_require_tls=False, auth_required=True)
    config = make_config(server.port, username="bob", password="s3cret")
    SmtpMailer(config).send(make_mail())
    assert len(server.envelopes) == 1


def test_a_wrong_password_is_permanent(start_smtp: StartSmtp):
    server = start_smtp(authenticator=PasswordAuthenticator("bob", "s3cret"),
                        auth_require_tls=False, auth_required=True)
    error = send_refused(SmtpMailer(make_config(server.port, username="bob", password="no")))
    assert (error.permanent, error.smtp_code) == (True, 535)
    assert "logging in as 'bob' failed: the server answered 535" in str(error)
    assert server.envelopes == []


def test_a_login_the_server_does_not_offer_is_permanent(smtp_server):
    error = send_refused(SmtpMailer(make_config(smtp_server.port, username="bob",
                                                password="s3cret")))
    assert error.permanent
    assert "SMTP AUTH extension not supported by server" in str(error)


def test_without_a_user_name_there_is_no_login(start_smtp: StartSmtp):
    server = start_smtp(authenticator=PasswordAuthenticator("bob", "s3cret"),
                        auth_require_tls=False, auth_required=True)
    error = send_refused(SmtpMailer(make_config(server.port)))
    assert (error.permanent, error.smtp_code) == (True, 530)


def test_each_send_logs_one_line_without_the_recipients_name(smtp_server, caplog):
    caplog.set_level(logging.DEBUG, logger="deferred.mail")
    mailer = SmtpMailer(make_config(smtp_server.port))
    mailer.send(make_mail())
    smtp_server.handler.data_reply = "451 try later"
    with pytest.raises(MailDeliveryError):
        mailer.send(make_mail(task_id=8))
    records = [record for record in caplog.records if record.name.startswith("deferred.mail")]
    # A failure is logged at WARNING by the mailer thread, which knows what happens next.
    assert [record.levelno for record in records] == [logging.INFO, logging.DEBUG]
    assert "task 7" in records[0].getMessage() and "example.org" in records[0].getMessage()
    assert "task 8" in records[1].getMessage() and "451 try later" in records[1].getMessage()
    assert all("someone" not in record.getMessage() for record in records)
