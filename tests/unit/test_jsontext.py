"""User JSON is parsed strictly, with errors pointing at line and column."""

import pytest

from deferred.errors import InvalidJsonError
from deferred.jsontext import json_type_name, parse_json, parse_json_object


def test_parses_plain_json():
    assert parse_json('{"a": [1, 2.5, null, true]}', where="x") == {"a": [1, 2.5, None, True]}


def test_syntax_error_gives_line_and_column():
    with pytest.raises(InvalidJsonError) as info:
        parse_json('{\n  "a": }', where="--params")
    assert str(info.value) == "--params: invalid JSON at line 2 column 8: Expecting value"


@pytest.mark.parametrize("text, reason", [
    ('{"a": NaN}', "NaN is not valid JSON"),
    ('[Infinity]', "Infinity is not valid JSON"),
    ('{"a": 1, "a": 2}', "duplicate key 'a'"),
    ("1" * 5000, "Exceeds the limit"),
    ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
])
def test_json_python_would_accept_loosely_is_refused(text, reason):
    with pytest.raises(InvalidJsonError, match=reason):
        parse_json(text, where="x")


def test_bytes_that_are_not_utf8_are_refused():
    with pytest.raises(InvalidJsonError, match="not UTF-8"):
        parse_json(b'"\xff\xfe\xfa"', where="x")


def test_object_expected():
    with pytest.raises(InvalidJsonError, match="x: expected a JSON object, got array"):
        parse_json_object("[1]", where="x")


@pytest.mark.parametrize("value, name", [
    (None, "null"), (True, "boolean"), ({}, "object"), ([], "array"), ("", "string"),
    (1, "integer"), (1.5, "number"), (b"", "bytes")])
def test_json_type_names(value, name):
    assert json_type_name(value) == name
