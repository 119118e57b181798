"""A Result reads its files when built and keeps safe, unique names."""

import io
import tempfile

import pytest

from deferred.errors import InvalidResultError
from deferred.result import Result, ResultFile, result_text


def test_file_read_inside_with_block_survives_the_close():
    with tempfile.TemporaryFile("w+") as fd:
        fd.write("a\tb\n")
        fd.seek(0)
        result = Result(msg="Complete statistics", files=[{"name": "s.tsv", "data": fd}])
    assert result.files == (ResultFile("s.tsv", b"a\tb\n"),)
    assert result.msg == "Complete statistics"


@pytest.mark.parametrize("data, expected", [
    (io.BytesIO(b"\x00\xff"), b"\x00\xff"),
    (io.StringIO("h\u00e9"), "h\u00e9".encode()),
    (b"raw", b"raw"),
    (bytearray(b"ba"), b"ba"),
    (memoryview(b"mv"), b"mv"),
    ("text \u2603", "text \u2603".encode()),
])
def test_data_kinds_are_read_to_bytes(data, expected):
    assert Result(files=[{"name": "f", "data": data}]).files[0].data == expected


def test_closed_file_is_reported_with_its_index_and_name():
    fd = io.StringIO("x")
    fd.close()
    with pytest.raises(InvalidResultError, match=r"files\[0\] \('s.tsv'\): cannot read data"):
        Result(files=[{"name": "s.tsv", "data": fd}])


@pytest.mark.parametrize("item, message", [
    ({"name": "a", "data": 3}, "data must be a file-like object, bytes or str, got int"),
    ({"name": 3, "data": b""}, "'name' must be a string"),
    ({"name": "a"}, "'data' is missing"),
    ({"name": "a", "data": b"", "size": 1}, "unknown key 'size'"),
    ("a.txt", "expected a mapping"),
])
def test_bad_file_entries_are_reported(item, message):
    with pytest.raises(InvalidResultError, match=message):
        Result(files=[item])


def test_a_single_mapping_instead_of_a_list_is_reported():
    with pytest.raises(InvalidResultError, match="must be a list"):
        Result(files={"name": "a", "data": b""})


def test_names_are_made_safe_and_unique():
    result = Result(files=[{"name": "../../etc/passwd", "data": b""},
                           {"name": "a.tsv", "data": b""},
                           {"name": "A.tsv", "data": b""},
                           {"name": "a.tsv", "data": b""}])
    names = [item.name for item in result.files]
    assert names[1:] == ["a.tsv", "A (2).tsv", "a (3).tsv"]
    assert "/" not in names[0] and ".." not in names[0]


def test_result_is_immutable_and_comparable():
    result = Result("m", [{"name": "a", "data": b"1"}])
    assert result == Result("m", [{"name": "a", "data": io.BytesIO(b"1")}])
    with pytest.raises(AttributeError):
        result.msg = "other"


@pytest.mark.parametrize("value, text", [
    ("hello\nhello", "hello\nhello"),
    (48, "48"),
    ({"a": [1, "\u00e9"]}, '{"a": [1, "\u00e9"]}'),
    (None, "null"),
    (Result(msg="done"), "done"),
    (Result(msg={"n": 1}), '{"n": 1}'),
    (Result(), None),
])
def test_result_text(value, text):
    assert result_text(value) == text


@pytest.mark.parametrize("value", [b"bytes", object(), float("nan"), {1: {2, 3}}])
def test_values_json_cannot_carry_are_refused(value):
    with pytest.raises(InvalidResultError, match="which is not JSON"):
        result_text(value)
