"""Safe, unique names for result files, whatever name a task gave them."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

MAX_NAME_BYTES = 255
DEFAULT_NAME = "file"
_SEPARATORS = re.compile(r"[/\\]")
_DOTS = re.compile(r"\.{2,}")
_LEADING = re.compile(r"\A[\s.]+")  # any kind of space: str.strip() would take it later
_TRAILING = re.compile(r"[\s.]+\Z")
_WINDOWS_RESERVED = frozenset(
    ["CON", "PRN", "AUX", "NUL"] + [f"COM{i}" for i in range(1, 10)]
    + [f"LPT{i}" for i in range(1, 10)])


def _is_unsafe_char(char: str) -> bool:
    # Cc: control characters; Cf: invisible format characters such as right-to-left marks;
    # Zl/Zp: line and paragraph separators.
    return unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp", "Cs")


def _truncate(name: str, limit_bytes: int) -> str:
    if len(name.encode("utf-8")) <= limit_bytes:
        return name
    stem, dot, ext = name.rpartition(".")
    if not dot or not stem or len(ext.encode("utf-8")) > 16:
        stem, ext, dot = name, "", ""
    room = limit_bytes - len((dot + ext).encode("utf-8"))
    stem = _TRAILING.sub("", stem.encode("utf-8")[:room].decode("utf-8", errors="ignore"))
    return stem + dot + ext


def safe_file_name(name: str) -> str:
    """A name with no path separators, no `..`, no control characters, at most 255 bytes.

    Separators become `_`, runs of dots one dot, leading dots and spaces go, so the name
    can neither leave a directory nor hide in it. An empty result becomes `file`.
    """
    name = unicodedata.normalize("NFC", name)
    name = "".join(char for char in name if not _is_unsafe_char(char))
    name = _SEPARATORS.sub("_", name)
    name = _DOTS.sub(".", name)
    name = _TRAILING.sub("", _LEADING.sub("", name))
    if name.split(".")[0].upper() in _WINDOWS_RESERVED:
        name = "_" + name
    name = _truncate(name, MAX_NAME_BYTES)
    return name or DEFAULT_NAME


def unique_file_names(names: Iterable[str]) -> list[str]:
    """Make each (already safe) name unique, case-insensitively: `a.tsv`, `a (2).tsv`, ..."""
    taken: set[str] = set()
    result = []
    for name in names:
        candidate, number = name, 1
        while candidate.casefold() in taken:
            number += 1
            stem, dot, ext = name.rpartition(".")
            if not dot or not stem:
                stem, dot, ext = name, "", ""
            suffix = f" ({number})"
            stem = _truncate(stem, MAX_NAME_BYTES - len((suffix + dot + ext).encode("utf-8")))
            candidate = f"{stem}{suffix}{dot}{ext}"
        taken.add(candidate.casefold())
        result.append(candidate)
    return result
