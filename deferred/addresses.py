"""Checking an email address given at submit (one plain address, nothing that could smuggle
another one or a header in), and its ASCII form for SMTP and mail headers.

An international domain is encoded with IDNA 2008 (the `idna` package, after the UTS #46
mapping browsers use, non-transitional), not Python's built-in `idna` codec, which is IDNA
2003 and sends `user@faß.de` to `fass.de`, another domain. deferred imports `idna` only
when a domain needs it (jsonschema, though, imports it on its own when it is installed).
"""

from __future__ import annotations

import re

from .errors import InvalidEmailError, one_line
from .patterns import EMAIL_ATOM, is_host_name

MAX_ADDRESS_LENGTH = 254  # RFC 5321's limit on a forward path, less the angle brackets
MAX_LOCAL_LENGTH = 64
_LOCAL_PART = re.compile(rf"{EMAIL_ATOM}(\.{EMAIL_ATOM})*", re.ASCII)


def check_email_address(value: object) -> str:
    """Return `value` if it is exactly one plain address (`name@example.com`).

    Refused: anything but a string, over 254 characters (also once its domain is encoded),
    CR, LF or other control characters, spaces, display names (`Name <a@b>`), comments,
    quoted local parts, several addresses, domain literals, a domain IDNA 2008 refuses
    (`☃.net`). Raises `InvalidEmailError` saying why.
    """
    if not isinstance(value, str):
        raise InvalidEmailError(f"must be a string, got {type(value).__name__}", where="email")
    shown = _shortened(value)
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
    try:
        encoded = ascii_domain(domain)
    except ValueError as exc:
        raise InvalidEmailError(f"{shown}: {exc}", where="email") from None
    if not is_host_name(encoded):
        raise InvalidEmailError(f"{shown}: {domain!r} is not a domain name", where="email")
    if len(local) + 1 + len(encoded) > MAX_ADDRESS_LENGTH:
        raise InvalidEmailError(f"{shown} is longer than {MAX_ADDRESS_LENGTH} characters once "
                                f"its domain is encoded ({_shortened(encoded)})", where="email")
    return value


def ascii_domain(domain: str) -> str:
    """`domain` as DNS and SMTP write it: `faß.de` -> `xn--fa-hia.de` (IDNA 2008 after the
    UTS #46 mapping, so `Bücher.de` is `xn--bcher-kva.de` and `ß` stays `ß`).

    An ASCII domain with no `xn--` label is returned as it is (its letters, digits and
    hyphens are checked by `is_host_name`, not here). Raises `ValueError` saying why IDNA
    2008 refuses the domain (`☃.net`: a symbol, not a letter).
    """
    if domain.isascii() and not any(label[:4].lower() == "xn--"
                                     for label in domain.split(".")):
        return domain
    import idna  # here, not at the top: only a non-ASCII domain needs it

    try:
        return idna.encode(domain, uts46=True, transitional=False).decode("ascii")
    except UnicodeError as exc:  # idna.IDNAError and its kinds
        raise ValueError(f"{_shortened(domain)} is not a domain name IDNA 2008 allows "
                         f"({one_line(exc)})") from None


def ascii_address(address: str) -> str:
    """`address` with its domain in ASCII form (`a@bücher.de` -> `a@xn--bcher-kva.de`), so
    it can be sent without SMTPUTF8. Raises `ValueError` if IDNA 2008 refuses the domain."""
    local, at, domain = address.rpartition("@")
    return f"{local}@{ascii_domain(domain)}" if at else address


def _shortened(text: str) -> str:
    return repr(text[:80] + ("..." if len(text) > 80 else ""))
