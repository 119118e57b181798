"""A finished task's result email, built as a `MIMEMultipart`: pure, no I/O.

The text part is the result (a string as is, anything else as indented JSON) or, for a task
that did not succeed, one line saying why. Each result file is attached with its MIME type and
its name (RFC 2231 for a non-ASCII name); files too big to attach become download links.
Nothing a task chose (its name, its file names) can add a header: control characters and
line breaks are replaced before any header is written.
"""

from __future__ import annotations

import datetime
import email.utils
import json
import re
import types
import unicodedata
from collections.abc import Mapping, Sequence
from email import encoders
from email.mime.base import MIMEBase
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.policy import compat32

from .. import addresses
from ..interfaces import MailFile, OutgoingMail
from ..mediatypes import split_media_type
from ..patterns import is_host_name
from ..records import TaskError, TaskStatus

SMTP_POLICY = compat32.clone(linesep="\r\n")
"""How a built message is turned into bytes for SMTP (the policy email.mime builds with)."""

MAX_ERROR_CHARS = 2000
_OCTET_STREAM = ("application", "octet-stream")
# multipart/* and message/* may not be base64-encoded (RFC 2045 6.4): sent as plain bytes.
_NOT_ATTACHABLE = frozenset({"multipart", "message"})
_OUTCOMES: Mapping[TaskStatus, str] = types.MappingProxyType(
    {TaskStatus.SUCCEEDED: "succeeded", TaskStatus.FAILED: "failed",
     TaskStatus.CANCELLED: "was cancelled", TaskStatus.TIMED_OUT: "timed out"})


def build_message(mail: OutgoingMail, *, sender: str, max_attachment_bytes: int,
                  date: datetime.datetime | None = None) -> MIMEMultipart:
    """The email for `mail`: headers, the text part, then one attachment per file.

    `sender` is the `From` (an address, or `Name <address>`); `date` (aware; default now)
    the `Date`. If the files' data add up to more than `max_attachment_bytes`, none is
    attached and the text ends with a paragraph giving their sizes and download links.
    """
    attach = attachment_bytes(mail.files) <= max_attachment_bytes
    text = body_text(mail)
    if mail.files and not attach:
        paragraph = links_paragraph(mail.files, max_attachment_bytes)
        text = f"{text}\n\n{paragraph}" if text else paragraph
    message = MIMEMultipart("mixed")
    _set_headers(message, mail, sender, date)
    message.attach(_text_part(text))
    if attach:
        for file in mail.files:
            message.attach(_attachment(file))
    return message


def subject(mail: OutgoingMail) -> str:
    """`deferred: multiprint (task 12) succeeded` (or `failed`), on one line."""
    outcome = _OUTCOMES.get(mail.status, str(mail.status).lower().replace("_", " "))
    return header_text(f"deferred: {mail.task_name} (task {mail.task_id}) {outcome}")


def body_text(mail: OutgoingMail) -> str:
    """The text of the email: the result of a task that succeeded, exactly (a string as is,
    anything else as indented JSON); for any other outcome, what happened and the error's
    one-line `type: message`, never its traceback."""
    if mail.status is TaskStatus.SUCCEEDED:
        if isinstance(mail.result, str):
            return mail.result
        return json.dumps(mail.result, ensure_ascii=False, indent=2)
    outcome = _OUTCOMES.get(mail.status, f"ended as {mail.status}")
    return (f"The task {mail.task_name} (task {mail.task_id}) {outcome}.\n\n"
            f"{error_line(mail.error)}")


def error_line(error: TaskError | None) -> str:
    """`RuntimeError: boom`: the error's type and message on one line, shortened."""
    if error is None:
        return "No error was recorded."
    message = " | ".join(line.strip() for line in error.message.splitlines() if line.strip())
    line = f"{error.type}: {message}" if message else error.type
    return line if len(line) <= MAX_ERROR_CHARS else line[:MAX_ERROR_CHARS - 3] + "..."


def attachment_bytes(files: Sequence[MailFile]) -> int:
    """The total size of the files' data."""
    return sum(len(file.data) for file in files)


def links_paragraph(files: Sequence[MailFile], limit_bytes: int) -> str:
    """The paragraph that replaces attachments too big to send: sizes, the limit, links."""
    lines = [f"The files were too large to attach ({format_size(attachment_bytes(files))} in "
             f"total, the limit is {format_size(limit_bytes)}). Download them here:", ""]
    lines.extend(f"- {header_text(file.name)} ({format_size(len(file.data))}): {file.url}"
                 for file in files)
    return "\n".join(lines)


def format_size(size_bytes: int) -> str:
    """`512 bytes`, `1.5 KiB`, `10.0 MiB`: a size for people to read."""
    if size_bytes < 1024:
        return f"{size_bytes} bytes"
    size = float(size_bytes)
    for unit in ("KiB", "MiB", "GiB"):
        size /= 1024
        if size < 1024 or unit == "GiB":
            break
    return f"{size:.1f} {unit}"


def message_id(task_id: int, sender: str, created_at: datetime.datetime | None = None) -> str:
    """`<deferred-task-12.1714564800120000@example.com>`: the same for every send of one task's
    email, so a resend is recognisable; the task's creation time keeps it unique when a new
    database counts ids from 1 again (the domain is the sender's, `localhost` if it has
    none)."""
    domain = ascii_address(email.utils.parseaddr(sender)[1]).rpartition("@")[2]
    if not is_host_name(domain):
        domain = "localhost"
    stamp = "" if created_at is None else f".{round(created_at.timestamp() * 1_000_000)}"
    return f"<deferred-task-{task_id}{stamp}@{domain}>"


def ascii_address(address: str) -> str:
    """The address with its domain in IDNA 2008 form (`a@faß.de` -> `a@xn--fa-hia.de`), so
    it can be sent without SMTPUTF8; unchanged if IDNA 2008 refuses the domain (the submit
    and the config refuse such addresses, and `SmtpMailer` does not send them)."""
    try:
        return addresses.ascii_address(address)
    except ValueError:
        return address


def header_text(value: str) -> str:
    """`value` with every control character and line break replaced by a space, so it can
    only ever be one header's text."""
    return "".join(" " if _is_line_unsafe(char) else char for char in value)


def _is_line_unsafe(char: str) -> bool:
    # Cc covers CR, LF, NEL and the rest; Zl/Zp are the Unicode line and paragraph separators
    # that str.splitlines() (and so parts of the email package) treats as line ends.
    return unicodedata.category(char) in ("Cc", "Zl", "Zp")


def _set_headers(message: MIMEMultipart, mail: OutgoingMail, sender: str,
                 date: datetime.datetime | None) -> None:
    name, address = email.utils.parseaddr(header_text(sender))
    when = (date or datetime.datetime.now(datetime.timezone.utc)).astimezone(
        datetime.timezone.utc)
    message["Subject"] = subject(mail)
    message["From"] = email.utils.formataddr((name, ascii_address(address or sender)))
    message["To"] = ascii_address(header_text(mail.recipient))
    message["Date"] = email.utils.format_datetime(when)
    message["Message-ID"] = message_id(mail.task_id, sender, mail.created_at)
    # RFC 3834: vacation responders and the like must not answer a machine's email.
    message["Auto-Submitted"] = "auto-generated"


def _text_part(text: str) -> MIMEText:
    # base64 keeps the text exact: quoted-printable would turn a lone CR into a line break.
    part = MIMEText(text, "plain", "utf-8")
    del part["MIME-Version"]
    return part


def _attachment(file: MailFile) -> MIMEBase:
    maintype, subtype, params = _mime_type(file.content_type)
    part = MIMEBase(maintype, subtype)
    del part["MIME-Version"]
    for key, value in params:
        part.set_param(key, value)
    name = safe_header_file_name(file.name)
    # Clients that do not read RFC 2231 (below) fall back to the type's `name`.
    part.set_param("name", ascii_file_name(name))
    part.set_payload(file.data)
    encoders.encode_base64(part)
    # A non-ASCII name becomes filename*=utf-8''... (RFC 2231); an ASCII one is quoted.
    part.add_header("Content-Disposition", "attachment", filename=name)
    return part


def _mime_type(content_type: str | None) -> tuple[str, str, list[tuple[str, str]]]:
    parts = split_media_type(content_type)
    if parts is None:
        return (*_OCTET_STREAM, [])
    maintype, subtype, _ = parts
    if maintype in _NOT_ATTACHABLE:
        return (*_OCTET_STREAM, [])
    probe = MIMEBase(maintype, subtype)
    probe.replace_header("Content-Type", header_text(content_type or ""))
    params = [(key, value) for key, value in probe.get_params(unquote=True)[1:]
              if isinstance(value, str) and key.lower() not in ("name", "boundary")]
    return maintype, subtype, [(key, header_text(value)) for key, value in params]


def safe_header_file_name(name: str) -> str:
    """A file name fit for a header: control characters and line breaks become `_`."""
    cleaned = "".join("_" if _is_line_unsafe(char) else char for char in name).strip()
    return cleaned or "file"


def ascii_file_name(name: str) -> str:
    """`résumé 📊.tsv` -> `resume _.tsv`: the name for clients that only read ASCII names."""
    decomposed = unicodedata.normalize("NFKD", name)
    letters = "".join(char for char in decomposed if not unicodedata.combining(char))
    ascii_name = "".join(char if " " <= char <= "~" else "_" for char in letters)
    return re.sub(r"_{2,}", "_", ascii_name).strip() or "file"
