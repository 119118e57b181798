"""What a MIME type is (`text/csv; charset=utf-8`): the check of one given with a result,
its parts for an email attachment, and the guess from a file name when none was given."""

from __future__ import annotations

import mimetypes
import re

MAX_MEDIA_TYPE_CHARS = 255  # the store's column
_TOKEN = r"[!#$%&'*+.^_`|~0-9A-Za-z-]+"  # RFC 2045's token
_MEDIA_TYPE = re.compile(rf"({_TOKEN})/({_TOKEN})(;[\x20-\x7e]*)?", re.ASCII)
OCTET_STREAM = "application/octet-stream"


def split_media_type(text: str | None) -> tuple[str, str, str] | None:
    """`(type, subtype, parameters)` of `text`, type and subtype in lower case, the
    parameters as written (from their `;`, or ""); None if `text` is not a MIME type of at
    most 255 printable ASCII characters."""
    if not text or len(text) > MAX_MEDIA_TYPE_CHARS:
        return None
    match = _MEDIA_TYPE.fullmatch(text)
    if match is None:
        return None
    return match.group(1).lower(), match.group(2).lower(), match.group(3) or ""


def is_media_type(text: object) -> bool:
    """True if `text` is a string `split_media_type` takes."""
    return isinstance(text, str) and split_media_type(text) is not None


def guess_media_type(name: str) -> str:
    """The MIME type a file named `name` most likely has; application/octet-stream when the
    name says nothing, or names a compressed file (`.tar.gz`)."""
    guessed, encoding = mimetypes.guess_type(name, strict=False)
    if guessed is None or encoding is not None:
        return OCTET_STREAM
    return guessed
