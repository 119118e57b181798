"""Strict JSON parsing of user input, with errors that point at line and column."""

from __future__ import annotations

import json
import math
from typing import Any, NoReturn

from .errors import InvalidJsonError

MAX_INT_DIGITS = 4300  # Python's own limit on converting text to int
# Deeper values are refused: checking them against a schema, storing them and reading them
# back all recurse, and must stay far from Python's recursion limit wherever they run.
MAX_DEPTH = 64


def _reject_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not valid JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):  # 1e999 is valid JSON grammar, but no float holds it
        raise ValueError(f"the number {text[:20]} is out of range")
    return value


def _bounded_int(text: str) -> int:
    digits = len(text.lstrip("-"))
    if digits > MAX_INT_DIGITS:  # int() would refuse it with advice meant for programmers
        raise ValueError(f"an integer of {digits} digits is too long (at most "
                         f"{MAX_INT_DIGITS})")
    return int(text)


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate key {key!r}")
        result[key] = value
    return result


def parse_json(text: str | bytes, *, where: str) -> Any:
    """Parse `text` as strict JSON: no NaN or Infinity (nor a number too large for a float),
    no duplicate keys.

    Raises `InvalidJsonError` naming `where`, with the line and column of the problem.
    """
    try:
        if isinstance(text, bytes):
            # json.loads() would decode with "surrogatepass", taking bytes that are no UTF-8.
            text = text.decode(json.detect_encoding(text))
        value = json.loads(text, parse_constant=_reject_constant,
                           parse_float=_finite_float, parse_int=_bounded_int,
                           object_pairs_hook=_no_duplicate_keys)
    except json.JSONDecodeError as exc:
        raise InvalidJsonError(
            f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}", where=where
        ) from None
    except UnicodeDecodeError as exc:
        raise InvalidJsonError(f"invalid JSON: not UTF-8 text ({exc.reason})",
                               where=where) from None
    except (ValueError, RecursionError) as exc:
        # ValueError: our hooks.
        reason = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)
        raise InvalidJsonError(f"invalid JSON: {reason}", where=where) from None
    if nesting_depth(value) > MAX_DEPTH:
        raise InvalidJsonError(f"invalid JSON: nested too deeply (more than {MAX_DEPTH} "
                               "levels of arrays and objects)", where=where)
    return value


def nesting_depth(value: Any) -> int:
    """How many arrays and objects deep `value` goes (0 for a scalar), without recursion."""
    deepest, pending = 0, [(value, 1)]
    while pending:
        item, depth = pending.pop()
        children = item.values() if isinstance(item, dict) else item \
            if isinstance(item, list) else None
        if children is None:
            continue
        deepest = max(deepest, depth)
        if depth <= MAX_DEPTH:  # past the limit the answer is known: stop walking
            pending.extend((child, depth + 1) for child in children)
    return deepest


def parse_json_object(text: str | bytes, *, where: str) -> dict[str, Any]:
    """Parse `text` as a JSON object. Raises `InvalidJsonError` for bad JSON or another type."""
    value = parse_json(text, where=where)
    if not isinstance(value, dict):
        raise InvalidJsonError(f"expected a JSON object, got {json_type_name(value)}",
                               where=where)
    return value


def encode_json(value: Any) -> str:
    """Compact JSON with no NaN or Infinity. Raises `TypeError` or `ValueError` for a value JSON
    cannot carry."""
    return json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"))


def json_type_name(value: Any) -> str:
    """The JSON name of a parsed value's type, for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    for kind, name in ((dict, "object"), (list, "array"), (str, "string"),
                       (int, "integer"), (float, "number")):
        if isinstance(value, kind):
            return name
    return type(value).__name__
