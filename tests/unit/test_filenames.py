"""File names from tasks can never leave or hide in the result directory."""

import os
import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from deferred.filenames import safe_file_name, unique_file_names


@pytest.mark.parametrize("name, safe", [
    ("statistics.tsv", "statistics.tsv"),
    ("../../etc/x", "_._etc_x"),
    ("/abs/path", "_abs_path"),
    ("..", "file"),
    (".", "file"),
    ("", "file"),
    (".bashrc", "bashrc"),
    ("a\\b", "a_b"),
    ("line\nbreak\r\x00.txt", "linebreak.txt"),
    ("rtl\u202eexe.txt", "rtlexe.txt"),
    ("trailing. . ", "trailing"),
    ("CON.txt", "_CON.txt"),
    ("r\u00e9sum\u00e9.pdf", "r\u00e9sum\u00e9.pdf"),
    ("a..b", "a.b"),
])
def test_known_names(name, safe):
    assert safe_file_name(name) == safe


def test_long_names_keep_their_extension_within_255_bytes():
    name = safe_file_name("\u00e9" * 300 + ".tsv")
    assert name.endswith(".tsv")
    assert len(name.encode("utf-8")) <= 255


def test_truncation_right_after_a_dot_leaves_no_double_dot():
    name = safe_file_name("x" * 250 + ".y.tsv")
    assert ".." not in name and name.endswith("x.tsv")


@given(st.text())
def test_any_name_is_safe(name):
    safe = safe_file_name(name)
    assert safe and "/" not in safe and "\\" not in safe
    assert ".." not in safe and not safe.startswith(".")
    assert len(safe.encode("utf-8")) <= 255
    assert not any(unicodedata.category(char) in ("Cc", "Cf", "Cs") for char in safe)
    assert safe_file_name(safe) == safe


@given(st.lists(st.text(max_size=300).map(safe_file_name), max_size=20))
def test_unique_names_are_unique_and_still_safe(names):
    unique = unique_file_names(names)
    assert len(unique) == len(names)
    assert len({name.casefold() for name in unique}) == len(unique)
    assert all(safe_file_name(name) == name for name in unique)


def test_unique_names_number_duplicates_before_the_extension():
    assert unique_file_names(["a.tsv", "a.tsv", "b", "B"]) == ["a.tsv", "a (2).tsv", "b", "B (2)"]


PATH_PIECES = st.sampled_from(["..", ".", "/", "\\", "etc", "x", " ", "\r\n", "\x00", "\t",
                               "\u202e", "\u200b", "\u2028", "\u2029", "\ufeff", "e\u0301",
                               "\u00e9", "C:", "CON", "nul", "~", "%2e%2e%2f", "\U0001F4CA",
                               ".tsv", "a" * 120])


@given(st.lists(PATH_PIECES, max_size=12).map("".join))
def test_path_tricks_give_one_plain_name_inside_the_directory(name):
    safe = safe_file_name(name)
    assert safe and safe == safe.strip() and not safe.startswith(".")
    assert "/" not in safe and "\\" not in safe and ".." not in safe
    assert not any(unicodedata.category(char) in ("Cc", "Cf", "Cs", "Zl", "Zp")
                   for char in safe)
    assert len(safe.encode("utf-8")) <= 255 and safe_file_name(safe) == safe
    directory = "/results/task-1"
    assert os.path.dirname(os.path.normpath(os.path.join(directory, safe))) == directory


@pytest.mark.parametrize("name, safe", [
    (". x", "x"), (". . .bashrc", "bashrc"), ("\u3000.x\u3000.", "x"), ("x.\u2003", "x")])
def test_spaces_of_any_kind_go_with_the_dots_around_a_name(name, safe):
    assert safe_file_name(name) == safe
