"""Checking an email address given at submit: one plain address, nothing that could smuggle
another one or a header in."""

from __future__ import annotations

import re

from .errors import InvalidEmailError
from .patterns import EMAIL_ATOM, is_host_name

MAX_ADDRESS_LENGTH = 254  # RFC 5321's limit on a forward path, less the angle brackets
MAX_LOCAL_LENGTH = 64
_LOCAL_PART = re.compile(rf"{EMAIL_ATOM}(\.{EMAIL_ATOM})*", re.ASCII)


def check_email_address(value: object) -> str:
    """Return `value` if it is exactly one plain address (`name@example.com`).

    Refused: anything but a string, over 254 characters, CR, LF or other control characters,
    spaces, display names (`Name <a@b>`), comments, quoted local parts, several addresses,
    domain literals. Raises `InvalidEmailError` saying why.
    """
    if not isinstance(value, str):
        raise InvalidEmailError(f"must be a string, got {type(value).__name__}", where="email")
    shown = repr(value[:80] + ("..." if len(value) > 80 else ""))
    if len(value) > MAX_ADDRESS_LENGTH:
        raise InvalidEmailError(f"{shown} is longer than {MAX_ADDRESS_LENGTH} characters",
                                where="email")
    if any(ord(char) < 32 or ord(char) == 127 for char in value):
        raise InvalidEmailError(f"{shown} contains a control character (CR, LF, ...)",
                                where="email")
    for char, what in ((",", "several addresses"), (";", "several addresses"),
                       ("<", "a display name"), (">", "a display name"), ("(", "a comment"),
                       (")", "a comment"), ('"', "a quoted part"), (" ", "a space")):
        if char in value:
            raise InvalidEmailError(f"{shown} is not one plain address like name@example.com "
                                    f"({what} is not allowed)", where="email")
    local, at, domain = value.rpartition("@")
    if not at or "@" in local:
        raise InvalidEmailError(f"{shown} is not an address like name@example.com (it needs "
                                "exactly one '@')", where="email")
    if len(local) > MAX_LOCAL_LENGTH or not _LOCAL_PART.fullmatch(local):
        raise InvalidEmailError(f"{shown}: the part before '@' is not a plain ASCII name",
                                where="email")
    if not _is_domain(domain):
        raise InvalidEmailError(f"{shown}: {domain!r} is not a domain name", where="email")
    return value


def _is_domain(domain: str) -> bool:
    try:
        ascii_domain = domain.encode("idna").decode("ascii")
    except UnicodeError:
        return False
    return is_host_name(ascii_domain)
