"""`Result`: what a task returns when it has a message and files to hand back."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Mapping
from typing import Any

from .errors import InvalidResultError
from .filenames import safe_file_name, unique_file_names
from .jsontext import encode_json, json_type_name
from .mediatypes import is_media_type


@dataclasses.dataclass(frozen=True)
class ResultFile:
    """One file of a result: a safe name and its whole content."""

    name: str
    data: bytes
    content_type: str | None = None


def _read_data(data: Any, where: str) -> bytes:
    if isinstance(data, (bytes, bytearray, memoryview)):
        return bytes(data)
    if isinstance(data, str):
        return data.encode("utf-8")
    read = getattr(data, "read", None)
    if not callable(read):
        raise InvalidResultError(
            f"data must be a file-like object, bytes or str, got {type(data).__name__}",
            where=where)
    try:
        content = read()
    except (OSError, ValueError) as exc:  # ValueError: "I/O operation on closed file"
        raise InvalidResultError(f"cannot read data: {exc}", where=where) from exc
    if isinstance(content, str):
        return content.encode("utf-8")
    if isinstance(content, (bytes, bytearray, memoryview)):
        return bytes(content)
    raise InvalidResultError(f"data.read() returned {type(content).__name__}, not bytes or str",
                             where=where)


def _to_result_file(item: Any, index: int) -> ResultFile:
    where = f"files[{index}]"
    if isinstance(item, ResultFile):
        return item
    if not isinstance(item, Mapping):
        raise InvalidResultError(
            f"expected a mapping with 'name' and 'data', got {type(item).__name__}", where=where)
    unknown = set(item) - {"name", "data", "content_type"}
    if unknown:
        raise InvalidResultError(f"unknown key {sorted(unknown)[0]!r} (allowed: name, data, "
                                 "content_type)", where=where)
    name, content_type = item.get("name"), item.get("content_type")
    if not isinstance(name, str):
        raise InvalidResultError(f"'name' must be a string, got {type(name).__name__}",
                                 where=where)
    if content_type is not None and not is_media_type(content_type):
        raise InvalidResultError(f"'content_type' must be a MIME type like 'text/csv', got "
                                 f"{content_type!r}", where=where)
    if "data" not in item:
        raise InvalidResultError("'data' is missing", where=where)
    return ResultFile(name, _read_data(item["data"], f"{where} ({name!r})"), content_type)


class Result:
    """A task's outcome with a message and files.

    Each file is a mapping `{"name": ..., "data": ...}` where `data` is a text or binary
    file-like object, `bytes` or `str`. The data is read here, when the `Result` is built,
    because tasks return it from inside `with open(...)`, which closes the file right after.
    Names are made safe and unique. Raises `InvalidResultError` for a file it cannot take.
    """

    __slots__ = ("msg", "files")
    msg: Any
    files: tuple[ResultFile, ...]

    def __init__(self, msg: Any = None, files: Iterable[Mapping[str, Any] | ResultFile] = ()
                 ) -> None:
        if isinstance(files, (str, bytes, Mapping)):
            raise InvalidResultError("files must be a list of files, not a single "
                                     f"{type(files).__name__}", where="Result")
        raw = [_to_result_file(item, index) for index, item in enumerate(files)]
        names = unique_file_names(safe_file_name(item.name) for item in raw)
        object.__setattr__(self, "msg", msg)
        object.__setattr__(self, "files", tuple(
            dataclasses.replace(item, name=name) for item, name in zip(raw, names)))

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("Result is immutable")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Result):
            return NotImplemented
        return (self.msg, self.files) == (other.msg, other.files)

    def __hash__(self) -> int:
        return hash((repr(self.msg), self.files))

    def __repr__(self) -> str:
        names = ", ".join(item.name for item in self.files)
        return f"Result(msg={self.msg!r}, files=[{names}])"


def result_text(value: Any) -> str | None:
    """How a task's return value is shown: a string as is, a `Result` by its `msg`, anything
    else as JSON; None for a `Result` without a message.

    Raises `InvalidResultError` for a value JSON cannot carry.
    """
    if isinstance(value, Result):
        value = value.msg
        if value is None:
            return None
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InvalidResultError(
            f"the task returned {json_type_name(value)}, which is not JSON: {exc}",
            where="result") from None


def encode_result(value: Any) -> str:
    """A result value as stored JSON. Raises `InvalidResultError` for a value JSON cannot
    carry."""
    try:
        return encode_json(value)
    except (TypeError, ValueError) as exc:
        raise InvalidResultError(
            f"the task returned {json_type_name(value)}, which is not JSON: {exc}",
            where="result") from None
