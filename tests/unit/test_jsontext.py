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
    ('[-1e999]', "the number -1e999 is out of range"),
    ('{"a": 1E400}', "the number 1E400 is out of range"),
    ('{"a": 1, "a": 2}', "duplicate key 'a'"),
    ("1" * 5000, r"an integer of 5000 digits is too long \(at most 4300\)"),
    ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
])
def test_json_python_would_accept_loosely_is_refused(text, reason):
    with pytest.raises(InvalidJsonError, match=reason):
        parse_json(text, where="x")


@pytest.mark.parametrize("text", [b'"\xff\xfe\xfa"', b'"\xed\xa0\x80"', b'"\xc0\xaf"'])
def test_bytes_that_are_not_utf8_are_refused(text):
    with pytest.raises(InvalidJsonError, match="not UTF-8"):
        parse_json(text, where="x")


def test_byte_order_marks_are_read_as_json_decodes_them():
    assert parse_json(b'\xef\xbb\xbf{"a": 1}', where="x") == {"a": 1}
    assert parse_json('{"a": "\u00e9"}'.encode("utf-16"), where="x") == {"a": "\u00e9"}


def test_object_expected():
    with pytest.raises(InvalidJsonError, match="x: expected a JSON object, got array"):
        parse_json_object("[1]", where="x")


@pytest.mark.parametrize("value, name", [
    (None, "null"), (True, "boolean"), ({}, "object"), ([], "array"), ("", "string"),
    (1, "integer"), (1.5, "number"), (b"", "bytes")])
def test_json_type_names(value, name):
    assert json_type_name(value) == name
