"""Checks for the JSON Schema formats that jsonschema leaves to optional packages.

jsonschema checks `date-time`, `time`, `uri` and `hostname` only when extra packages are
installed, and those cost close to a second at import. These few checks use the standard
library instead, so format checking is on for the formats forms and users actually use.
"""

from __future__ import annotations

import datetime
import re
import urllib.parse

from jsonschema import FormatChecker

from .patterns import RFC3339_DATE_TIME, RFC3339_TIME, RFC3339_ZONE, is_host_name

_DATE_TIME = re.compile(RFC3339_DATE_TIME + RFC3339_ZONE, re.ASCII)
_TIME = re.compile(RFC3339_TIME + RFC3339_ZONE, re.ASCII)
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*", re.ASCII)
_FORBIDDEN_IN_URI = re.compile(r"[\x00-\x20\x7f<>\"{}|\\^`]")


def _is_date_time(value: object) -> bool:
    if not isinstance(value, str):
        return True
    if not _DATE_TIME.fullmatch(value):
        return False
    datetime.datetime.fromisoformat(value.upper())  # ValueError for 2026-02-30 and the like
    return True


def _is_time(value: object) -> bool:
    if not isinstance(value, str):
        return True
    if not _TIME.fullmatch(value):
        return False
    datetime.time.fromisoformat(value.upper())
    return True


def _is_uri(value: object) -> bool:
    if not isinstance(value, str):
        return True
    if _FORBIDDEN_IN_URI.search(value):
        return False
    scheme, colon, _ = value.partition(":")
    if not colon or not _SCHEME.fullmatch(scheme):
        return False
    urllib.parse.urlsplit(value)  # ValueError for a malformed IPv6 host
    return True


def _is_uri_reference(value: object) -> bool:
    if not isinstance(value, str):
        return True
    if _FORBIDDEN_IN_URI.search(value):
        return False
    urllib.parse.urlsplit(value)
    return True


def _is_hostname(value: object) -> bool:
    if not isinstance(value, str):
        return True
    return is_host_name(value[:-1] if value.endswith(".") else value)


def make_format_checker(draft_checker: FormatChecker) -> FormatChecker:
    """A new checker with `draft_checker`'s formats plus the standard-library ones above."""
    checker = FormatChecker(formats=())
    checker.checkers.update(draft_checker.checkers)
    extras = {"date-time": _is_date_time, "time": _is_time, "uri": _is_uri,
              "uri-reference": _is_uri_reference, "hostname": _is_hostname}
    for name, check in extras.items():
        if name not in checker.checkers:
            checker.checks(name, raises=ValueError)(check)
    return checker
