"""Regular expressions that several parts check text against, each written once, and the
host-name check built on them.

They are texts, not compiled patterns, because some are also sent to clients (the OpenAPI
document's `pattern`s): they use only what both Python's `re` and ECMA-262 read the same
way (no lookarounds, ASCII classes spelled out).
"""

from __future__ import annotations

import re

HOST_LABEL = "[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
"""One label of a host name (RFC 1123): letters, digits and inner hyphens, 1 to 63 long."""

EMAIL_ATOM = "[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
"""One dot-separated part of an email address's plain local part (RFC 5322's atext)."""

RFC3339_DATE_TIME = (r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?")
"""RFC 3339's date and time of day, without the zone (`RFC3339_ZONE`)."""

RFC3339_TIME = r"[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?"
"""RFC 3339's time of day, without the zone."""

RFC3339_ZONE = "([Zz]|[+-][0-9]{2}:[0-9]{2})"
"""RFC 3339's zone: `Z` or an offset like `+02:00`."""

MAX_HOST_NAME_CHARS = 253
_HOST_LABEL_RE = re.compile(HOST_LABEL, re.ASCII)


def is_host_name(name: str) -> bool:
    """True if `name` is an ASCII host name: dot-separated `HOST_LABEL`s, at most 253
    characters (no final dot; an international name is checked once encoded)."""
    return len(name) <= MAX_HOST_NAME_CHARS and all(
        _HOST_LABEL_RE.fullmatch(label) for label in name.split("."))
