"""The result email as its recipient's mail program reads it: body, headers, attachments."""

from __future__ import annotations

import datetime
import email
import email.policy
import email.utils
import json
import random
from email.message import EmailMessage

import pytest

from deferred.interfaces import MailFile, OutgoingMail
from deferred.mail import build_message
from deferred.records import TaskError, TaskStatus

SENDER = "deferred@example.com"
DATE = datetime.datetime(2024, 5, 1, 12, 30, 5, tzinfo=datetime.timezone.utc)
MIB = 1024 * 1024


def make_mail(**overrides: object) -> OutgoingMail:
    values: dict[str, object] = dict(task_id=12, task_name="multiprint",
                                     status=TaskStatus.SUCCEEDED, recipient="user@example.org",
                                     result="hello\nhello\nhello")
    values.update(overrides)
    return OutgoingMail(**values)  # type: ignore[arg-type]


def make_file(name: str, data: bytes, content_type: str = "text/plain") -> MailFile:
    return MailFile(name=name, content_type=content_type, data=data,
                    url=f"https://deferred.example.com/results/token-{len(data)}")


def received(mail: OutgoingMail, *, max_attachment_bytes: int = 10 * MIB,
             sender: str = SENDER) -> EmailMessage:
    """The message as a mail program parses it from the bytes sent."""
    message = build_message(mail, sender=sender, max_attachment_bytes=max_attachment_bytes,
                            date=DATE)
    raw = message.as_bytes()
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    assert not parsed.defects
    return parsed


def body_of(message: EmailMessage) -> str:
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    return body.get_content()


def attachments_of(message: EmailMessage) -> list[tuple[str | None, str, bytes]]:
    return [(part.get_filename(), part.get_content_type(), part.get_payload(decode=True))
            for part in message.iter_attachments()]


def test_the_spec_example_result_is_the_body_exactly():
    assert body_of(received(make_mail())) == "hello\nhello\nhello"


@pytest.mark.parametrize("text", ["", "one line\n", "a\r\nb\rc\n\n", "x" * 5000,
                                  "naïve ☃ — 数据\u2028next", "From the start\n.\n"])
def test_any_string_result_survives_exactly(text):
    assert body_of(received(make_mail(result=text))) == text


@pytest.mark.parametrize("result", [48, 2.5, None, True, [3, 2, 8],
                                    {"name": "Zoë", "counts": [1, 2], "nested": {"a": None}}])
def test_a_result_that_is_not_a_string_is_indented_json(result):
    expected = json.dumps(result, ensure_ascii=False, indent=2)
    assert body_of(received(make_mail(result=result))) == expected


def test_the_text_is_utf8_and_the_raw_message_ascii():
    message = build_message(make_mail(result="Zoë " + "☃" * 200), sender=SENDER,
                            max_attachment_bytes=MIB)
    raw = message.as_bytes()
    assert raw.isascii()
    assert max(len(line) for line in raw.splitlines()) <= 998
    assert received(make_mail()).get_body().get_content_charset() == "utf-8"


def test_a_failed_task_says_why_without_its_traceback():
    error = TaskError(type="RuntimeError", message="boom",
                      traceback='Traceback (most recent call last):\n  File "t.py", line 3\n')
    message = received(make_mail(status=TaskStatus.FAILED, result=None, error=error,
                                 task_name="fail", task_id=3))
    body = body_of(message)
    assert body == "The task fail (task 3) failed.\n\nRuntimeError: boom"
    assert "Traceback" not in message.as_string()
    assert message["Subject"] == "deferred: fail (task 3) failed"


def test_a_failure_with_a_message_of_several_lines_is_told_on_one_line():
    error = TaskError(type="ValueError", message="first\n  second\n\nthird")
    body = body_of(received(make_mail(status=TaskStatus.FAILED, result=None, error=error)))
    assert body.splitlines()[-1] == "ValueError: first | second | third"


def test_headers_name_the_task_its_outcome_and_the_people():
    message = received(make_mail())
    assert message["Subject"] == "deferred: multiprint (task 12) succeeded"
    assert message["From"] == SENDER
    assert message["To"] == "user@example.org"
    assert message["Message-ID"] == "<deferred-task-12@example.com>"
    assert message["Auto-Submitted"] == "auto-generated"
    assert email.utils.parsedate_to_datetime(message["Date"]) == DATE
    assert message["Date"] == "Wed, 01 May 2024 12:30:05 +0000"


def test_the_date_defaults_to_now_in_utc():
    before = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    message = build_message(make_mail(), sender=SENDER, max_attachment_bytes=MIB)
    date = email.utils.parsedate_to_datetime(message["Date"])
    assert date.utcoffset() == datetime.timedelta(0)
    assert before <= date <= datetime.datetime.now(datetime.timezone.utc)


def test_a_resend_of_a_task_carries_the_same_message_id_and_another_task_another():
    first = build_message(make_mail(), sender=SENDER, max_attachment_bytes=MIB)
    again = build_message(make_mail(), sender=SENDER, max_attachment_bytes=MIB)
    other = build_message(make_mail(task_id=13), sender=SENDER, max_attachment_bytes=MIB)
    assert first["Message-ID"] == again["Message-ID"] == "<deferred-task-12@example.com>"
    assert other["Message-ID"] == "<deferred-task-13@example.com>"


def test_a_sender_with_a_display_name_keeps_it_and_gives_its_domain_to_the_message_id():
    message = received(make_mail(), sender="Deferred Bot <bot@jobs.example.net>")
    assert message["From"].addresses[0].display_name == "Deferred Bot"
    assert message["From"].addresses[0].addr_spec == "bot@jobs.example.net"
    assert message["Message-ID"] == "<deferred-task-12@jobs.example.net>"


def test_an_international_domain_is_written_in_its_ascii_form():
    message = received(make_mail(recipient="user@bücher.example"), sender="d@bücher.example")
    assert message["To"] == "user@xn--bcher-kva.example"
    assert message["Message-ID"] == "<deferred-task-12@xn--bcher-kva.example>"


def test_an_international_domain_is_encoded_by_idna_2008_not_2003():
    # IDNA 2003 (Python's codec) maps faß.de to fass.de, another domain.
    message = received(make_mail(recipient="user@fa\u00df.de"), sender="Jobs <d@fa\u00df.de>")
    assert message["To"] == "user@xn--fa-hia.de"
    assert message["From"].addresses[0].addr_spec == "d@xn--fa-hia.de"
    assert message["Message-ID"] == "<deferred-task-12@xn--fa-hia.de>"


def test_attachments_arrive_byte_identical_with_their_names_and_types():
    binary = random.Random(5).randbytes(MIB)
    files = (make_file("statistics.tsv", b"a\tb\r\n1\t2\n", "text/tab-separated-values"),
             make_file("résumé 📊.tsv", "naïve\t☃\n".encode(), "text/tab-separated-values"),
             make_file("random.bin", binary, "application/octet-stream"),
             make_file("empty.txt", b"", "text/plain"))
    message = received(make_mail(files=files))
    assert body_of(message) == "hello\nhello\nhello"
    assert attachments_of(message) == [(file.name, file.content_type, file.data)
                                       for file in files]


def test_a_non_ascii_file_name_is_encoded_per_rfc_2231_with_an_ascii_fallback():
    files = (make_file("résumé 📊.tsv", b"x", "text/tab-separated-values"),)
    raw = build_message(make_mail(files=files), sender=SENDER,
                        max_attachment_bytes=MIB).as_bytes()
    assert b"filename*=utf-8''r%C3%A9sum%C3%A9%20%F0%9F%93%8A.tsv" in raw
    assert b'name="resume _.tsv"' in raw


def test_a_long_file_name_with_spaces_comes_back_unchanged():
    name = "quarterly report for the board " * 6 + "final.csv"
    message = received(make_mail(files=(make_file(name, b"1,2\n", "text/csv"),)))
    assert [part.get_filename() for part in message.iter_attachments()] == [name]


@pytest.mark.parametrize("content_type, expected", [
    ("", "application/octet-stream"),
    ("not a type", "application/octet-stream"),
    ("multipart/mixed", "application/octet-stream"),
    ("message/rfc822", "application/octet-stream"),
    ("Text/CSV", "text/csv"),
    ("image/png", "image/png"),
])
def test_a_file_gets_its_content_type_or_application_octet_stream(content_type, expected):
    message = received(make_mail(files=(make_file("f", b"\x00\x01", content_type),)))
    assert attachments_of(message) == [("f", expected, b"\x00\x01")]


def test_the_content_type_keeps_its_parameters():
    files = (make_file("data.csv", "é,1\n".encode(), "text/csv; charset=utf-8"),)
    part = next(received(make_mail(files=files)).iter_attachments())
    assert part.get_content_type() == "text/csv"
    assert part.get_content_charset() == "utf-8"
    assert part.get_content() == "é,1\n"


def test_files_over_the_limit_become_links_and_the_text_says_so():
    files = (make_file("big.bin", b"\x00" * 3000, "application/octet-stream"),
             make_file("résumé.tsv", b"1\t2\n" * 100, "text/tab-separated-values"))
    message = received(make_mail(files=files), max_attachment_bytes=2048)
    assert list(message.iter_attachments()) == []
    assert body_of(message) == (
        "hello\nhello\nhello\n\n"
        "The files were too large to attach (3.3 KiB in total, the limit is 2.0 KiB). "
        "Download them here:\n\n"
        "- big.bin (2.9 KiB): https://deferred.example.com/results/token-3000\n"
        "- résumé.tsv (400 bytes): https://deferred.example.com/results/token-400")


def test_files_exactly_at_the_limit_are_attached():
    files = (make_file("a.bin", b"\x01" * 100), make_file("b.bin", b"\x02" * 28))
    message = received(make_mail(files=files), max_attachment_bytes=128)
    assert [data for _name, _type, data in attachments_of(message)] == [b"\x01" * 100,
                                                                       b"\x02" * 28]
    assert body_of(message) == "hello\nhello\nhello"


def test_an_empty_result_with_files_too_big_is_only_the_links_paragraph():
    message = received(make_mail(result="", files=(make_file("a.bin", b"xy"),)),
                       max_attachment_bytes=1)
    assert body_of(message).startswith("The files were too large to attach (2 bytes in "
                                       "total, the limit is 1 bytes).")


INJECTION = "\r\nBcc: victim@example.net"


@pytest.mark.parametrize("line_break", ["\r\n", "\n", "\r", "\u2028", "\x85"])
def test_a_task_name_cannot_add_a_header(line_break):
    name = f"evil{line_break}Bcc: victim@example.net"
    message = received(make_mail(task_name=name))
    assert message["Bcc"] is None
    assert "victim" not in "".join(message.keys())
    assert message["Subject"].startswith("deferred: evil")
    assert "Bcc: victim@example.net (task 12)" in message["Subject"]


def test_a_file_name_cannot_add_a_header():
    message = received(make_mail(files=(make_file(f"report{INJECTION}.txt", b"data"),)))
    assert message["Bcc"] is None
    (part,) = message.iter_attachments()
    assert part["Bcc"] is None
    assert sorted(part.keys()) == ["Content-Disposition", "Content-Transfer-Encoding",
                                   "Content-Type"]
    assert part.get_filename() == "report__Bcc: victim@example.net.txt"
    assert part.get_payload(decode=True) == b"data"


def test_a_content_type_cannot_add_a_header():
    message = received(make_mail(files=(make_file("a.txt", b"x", f"text/plain{INJECTION}"),)))
    (part,) = message.iter_attachments()
    assert part["Bcc"] is None
    assert message["Bcc"] is None
