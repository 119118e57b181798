"""Properties that hold for any input, checked with Hypothesis: the request body parser (any
bytes give a value or our error, valid JSON reads back exactly), the rest of a submit's
checks, the list's query string, file names in a Content-Disposition header, and the
generated form, which escapes every string a schema holds."""

from __future__ import annotations

import datetime
import io
import json
import math
import re
import unicodedata
import urllib.parse
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from deferred.errors import (BadRequestError, DeferredError, InvalidJsonError,
                             RequestTooLargeError, shown)
from deferred.filenames import safe_file_name
from deferred.http.ui.formhtml import render_form
from deferred.http.ui.forms import FormField, build_form
from deferred.http.jsonbody import SUBMIT_KEYS, SubmitRequest, parse_submit, read_body
from deferred.http.listquery import MAX_LIMIT, parse_list_query
from deferred.http.representation import content_disposition
from deferred.jsontext import encode_json, parse_json
from deferred.scheduling.options import MAX_KEY_CHARS, MAX_PRIORITY, submit_options

from test_formhtml import parse

# JSON values, and bytes that are almost JSON

JSON_SCALARS = (st.none() | st.booleans() | st.integers(min_value=-10**40, max_value=10**40)
                | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20))
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=8), inner,
                                                                 max_size=5),
    max_leaves=25)
NO_SURROGATES = st.characters(exclude_categories=("Cs",))
UTF8_JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(NO_SURROGATES, max_size=20),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(
        st.text(NO_SURROGATES, max_size=8), inner, max_size=5),
    max_leaves=25)
# What hostile clients put into bodies: non-JSON numbers, byte order marks, bad UTF-8, deep
# nesting, duplicate keys, numbers too long for Python's int conversion.
TRICKS = [b"NaN", b"Infinity", b"-Infinity", b"1e999", b"-0", b"\xef\xbb\xbf", b"\xff\xfe",
          b"\xfe\xff", b"\x00", b"\xc3\x28", b"\xed\xa0\x80", b'"\\ud800"', b"[" * 60,
          b"]" * 60, b"{" * 60, b"1" * 5000, b'{"a":1,"a":2}', b'"\\u0000"', b",", b":",
          b'"', b"\\", b"\r\n", b"\t"]


@st.composite
def almost_json(draw: st.DrawFn) -> bytes:
    """Valid JSON with a trick, random bytes or a cut spliced in somewhere."""
    text = json.dumps(draw(JSON_VALUES)).encode()
    where = draw(st.integers(min_value=0, max_value=len(text)))
    piece = draw(st.sampled_from(TRICKS) | st.binary(max_size=6))
    how = draw(st.sampled_from(["insert", "replace", "cut"]))
    if how == "insert":
        return text[:where] + piece + text[where:]
    if how == "replace":
        return text[:where] + piece + text[where + len(piece):]
    return text[:where]


ANY_BODY = st.binary(max_size=200) | almost_json() | st.sampled_from(TRICKS)


def contains_infinite_float(value: Any) -> bool:
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, list):
        return any(contains_infinite_float(item) for item in value)
    if isinstance(value, dict):
        return any(contains_infinite_float(item) for item in value.values())
    return False


@settings(max_examples=400)
@given(ANY_BODY)
def test_any_bytes_parse_to_a_finite_value_or_our_json_error(body):
    try:
        value = parse_json(body, where="body")
    except InvalidJsonError as exc:
        message = str(exc)
        assert message.startswith("body: ") and "\n" not in message and "\r" not in message
        return
    assert not contains_infinite_float(value)


@given(JSON_VALUES)
def test_any_json_value_reads_back_exactly(value):
    assert parse_json(json.dumps(value), where="x") == value
    assert parse_json(encode_json(value), where="x") == value


@given(UTF8_JSON_VALUES)
def test_any_json_value_reads_back_exactly_from_utf8_bytes(value):
    body = json.dumps(value, ensure_ascii=False).encode("utf-8")
    assert parse_json(body, where="x") == value
    assert parse_json(b"\xef\xbb\xbf" + body, where="x") == value  # a UTF-8 BOM is skipped


# A whole submit body

def iso_time(moment: datetime.datetime, offset: datetime.timedelta | None) -> str:
    zone = None if offset is None else datetime.timezone(offset)
    return moment.replace(tzinfo=zone).isoformat()


OFFSETS = st.none() | st.timedeltas(min_value=datetime.timedelta(hours=-23, minutes=-59),
                                    max_value=datetime.timedelta(hours=23, minutes=59))
# Within a day of the first or last datetime, a zone can push the time out of range in UTC.
EDGE_TIMES = (
    st.builds(iso_time, st.datetimes(max_value=datetime.datetime(1, 1, 1, 23, 59)),
              st.timedeltas(min_value=datetime.timedelta(0),
                            max_value=datetime.timedelta(hours=23, minutes=59)))
    | st.builds(iso_time, st.datetimes(min_value=datetime.datetime(9999, 12, 31)),
                st.timedeltas(min_value=datetime.timedelta(hours=-23, minutes=-59),
                              max_value=datetime.timedelta(0))))
TIMES = EDGE_TIMES | st.builds(iso_time, st.datetimes(), OFFSETS) | st.text(max_size=30)
NUMBERS = (st.integers(min_value=-10**300, max_value=10**300) | st.floats(allow_nan=False)
           | st.integers(min_value=-2000, max_value=2000) | st.floats(0, 1e10))
FIELD_VALUES = JSON_VALUES | NUMBERS | TIMES | st.text(max_size=MAX_KEY_CHARS + 5)
KEYS = st.text(max_size=MAX_KEY_CHARS + 5) | st.text(max_size=3)
SUBMIT_BODIES = (
    st.fixed_dictionaries(  # mostly well formed, so that the checks past the first run
        {"task_name": st.text(max_size=10)},
        optional={"params": JSON_VALUES, "email": st.text(max_size=20) | JSON_SCALARS,
                  "wait": NUMBERS, "delay_s": NUMBERS, "run_at": TIMES, "priority": NUMBERS,
                  "idempotency_key": KEYS | JSON_SCALARS, "timeout_s": NUMBERS,
                  "other": FIELD_VALUES})
    | st.dictionaries(st.sampled_from(SUBMIT_KEYS) | st.text(max_size=6), FIELD_VALUES,
                      max_size=8))


def json_bytes(value: Any) -> bytes:
    return json.dumps(value).encode()  # Infinity for a float overflow: refused as NaN is


@settings(max_examples=300, deadline=None)
@given(SUBMIT_BODIES.map(json_bytes) | ANY_BODY)
def test_any_submit_body_is_checked_or_refused_with_our_error(body):
    try:
        request = parse_submit(body)
    except DeferredError as exc:
        assert int(exc.code) in (100, 103) and "\n" not in str(exc)
        return
    assert isinstance(request, SubmitRequest) and isinstance(request.task_name, str)
    assert request.email is None or isinstance(request.email, str)
    assert request.wait_s is None or 0 <= request.wait_s <= 1e9
    options = request.options
    assert -MAX_PRIORITY <= options.priority <= MAX_PRIORITY
    assert options.run_at is None or options.run_at.utcoffset() == datetime.timedelta(0)
    assert options.timeout_s is None or 0 < options.timeout_s
    key = options.idempotency_key
    assert key is None or (1 <= len(key) <= MAX_KEY_CHARS and not any(
        unicodedata.category(char) in ("Cc", "Cs") for char in key))


FIELD_STRATEGIES = {"delay_s": NUMBERS, "run_at": TIMES, "priority": NUMBERS,
                    "idempotency_key": KEYS, "timeout_s": NUMBERS}


@settings(max_examples=500)
@given(st.sampled_from(sorted(FIELD_STRATEGIES)).flatmap(
    lambda name: st.tuples(st.just(name), FIELD_STRATEGIES[name] | JSON_SCALARS)))
def test_any_scheduling_field_is_checked_or_refused_naming_it(field):
    name, value = field
    try:
        options = submit_options(**{name: value})
    except BadRequestError as exc:
        assert exc.where == name and "\n" not in str(exc)
        return
    assert options.run_at is None or options.run_at.utcoffset() == datetime.timedelta(0)
    assert -MAX_PRIORITY <= options.priority <= MAX_PRIORITY
    assert options.timeout_s is None or 0 < options.timeout_s
    key = options.idempotency_key
    assert key is None or (1 <= len(key) <= MAX_KEY_CHARS and not any(
        unicodedata.category(char) in ("Cc", "Cs") for char in key))


@given(length=st.none() | st.text(max_size=12) | st.integers(0, 10**30).map(str)
       | st.sampled_from(["9" * 5000, "\u00b2", "\u0663", "-1", " 5 ", "0" * 50 + "3"]),
       body=st.binary(max_size=300), chunked=st.booleans(),
       limit=st.integers(min_value=0, max_value=200))
def test_any_declared_length_reads_within_the_limit_or_is_refused(length, body, chunked,
                                                                  limit):
    stream = io.BytesIO(body)
    environ: dict[str, Any] = {"wsgi.input": stream}
    if length is not None:
        environ["CONTENT_LENGTH"] = length
    if chunked:
        environ["wsgi.input_terminated"] = True
    try:
        data = read_body(environ, limit)
    except (BadRequestError, RequestTooLargeError):
        return
    assert len(data) <= limit and body.startswith(data)


# The list's query string

QUERY_NAMES = st.sampled_from(["status", "task_name", "limit", "cursor"]) | st.text(max_size=4)
QUERY_VALUES = (st.text(max_size=10) | st.integers(-10, 10**25).map(str)
                | st.sampled_from(["queued", "FAILED", "0", "500", "501", "9" * 5000]))
QUERIES = (st.lists(st.tuples(QUERY_NAMES, QUERY_VALUES), max_size=4).map(urllib.parse.urlencode)
           | st.text(max_size=40))


@given(QUERIES)
def test_any_query_string_is_a_page_request_or_a_bad_request(query):
    try:
        page = parse_list_query(query)
    except BadRequestError as exc:
        assert str(exc).startswith("query.") and "\n" not in str(exc)
        return
    assert 1 <= page.limit <= MAX_LIMIT
    assert page.before_id is None or 1 <= page.before_id < 2**63


# File names in headers

DISPOSITION = re.compile(r"attachment; filename=\"([ !#-\[\]-~]*)\"; "
                         r"filename\*=UTF-8''([A-Za-z0-9%!#$&+^`|~._-]*)")
PATH_TRICKS = st.lists(st.sampled_from(["..", ".", "/", "\\", "etc", "x", " ", "\r\n", "\x00",
                                        "\u202e", "\u2028", "é", "%2e", "%2f", '"', ";", "CON"]),
                       max_size=12).map("".join)


@given(st.text() | PATH_TRICKS)
def test_any_file_name_gives_one_safe_content_disposition_reading_back_as_it(name):
    safe = safe_file_name(name)
    value = content_disposition(safe)
    match = DISPOSITION.fullmatch(value)
    assert match, value
    fallback, encoded = match.groups()
    assert urllib.parse.unquote(encoded, errors="strict") == safe
    assert "/" not in fallback and "\\" not in fallback and ".." not in fallback
    assert not fallback.startswith(".")


@given(st.text(NO_SURROGATES))
def test_even_an_unsanitised_name_cannot_break_out_of_its_header(name):
    value = content_disposition(name)
    assert value.isascii() and value.isprintable()
    assert DISPOSITION.fullmatch(value), value


# The generated form escapes every string of the schema

FRAGMENTS = ["<", ">", "&", '"', "'", "`", "=", "/", " ", "a", "é", "\u202e", "\n",
             "<script>alert(1)</script>", "</textarea>", "</template>", "&amp;", "&#x27;",
             "&lt;", '" onfocus="x', "' autofocus onfocus='x", "<!--", "-->", "<![CDATA[",
             "javascript:", "{{x}}", "%s"]
HOSTILE = st.lists(st.sampled_from(FRAGMENTS), max_size=5).map("".join) | st.text(max_size=8)
HOSTILE_VALUES = HOSTILE | st.integers() | st.booleans() | st.none() | st.floats()
LEAF_TEXT_KEYWORDS = {"title": HOSTILE, "description": HOSTILE, "default": HOSTILE_VALUES,
                      "pattern": HOSTILE, "format": st.sampled_from(
                          ["email", "date", "date-time", "uri"]) | HOSTILE,
                      "enum": st.lists(HOSTILE_VALUES, min_size=1, max_size=4),
                      "const": HOSTILE, "minLength": st.integers(0, 3),
                      "minimum": st.integers(-5, 5)}
LEAVES = st.fixed_dictionaries(
    {"type": st.sampled_from(["string", "integer", "number", "boolean", "null"])},
    optional=LEAF_TEXT_KEYWORDS)
SCHEMA_NODES = st.recursive(
    LEAVES,
    lambda inner: (
        st.fixed_dictionaries(
            {"type": st.just("object"), "properties": st.dictionaries(HOSTILE, inner,
                                                                      max_size=4)},
            optional={"title": HOSTILE, "description": HOSTILE,
                      "required": st.lists(HOSTILE, max_size=3),
                      "default": st.dictionaries(HOSTILE, HOSTILE_VALUES, max_size=3)})
        | st.fixed_dictionaries(
            {"type": st.just("array"), "items": inner},
            optional={"title": HOSTILE, "description": HOSTILE,
                      "default": st.lists(HOSTILE_VALUES, max_size=3)})
        | st.fixed_dictionaries(
            {"oneOf": st.lists(st.fixed_dictionaries({"const": HOSTILE_VALUES},
                                                     optional={"title": HOSTILE}),
                               min_size=1, max_size=3)},
            optional={"title": HOSTILE})
        | st.fixed_dictionaries({"anyOf": st.lists(inner, max_size=2)},
                                optional={"title": HOSTILE, "default": HOSTILE_VALUES})),
    max_leaves=10)
SCHEMAS = st.fixed_dictionaries(
    {"type": st.just("object"), "properties": st.dictionaries(HOSTILE, SCHEMA_NODES,
                                                              max_size=4)},
    optional={"title": HOSTILE, "description": HOSTILE,
              "required": st.lists(HOSTILE, max_size=3)})

TAGS = ("fieldset", "legend", "label", "input", "select", "option", "textarea", "small", "p",
        "div", "span", "button", "template")
RAW_TAG = re.compile(rf"</?(?:{'|'.join(TAGS)})[\s>]")
RAW_ENTITY = re.compile(r"&(?:amp|lt|gt|quot|#x27);")
ATTRIBUTES = frozenset({
    "class", "id", "for", "type", "value", "name", "hidden", "required", "checked", "selected",
    "multiple", "rows", "spellcheck", "aria-hidden", "aria-required", "aria-describedby",
    "minlength", "maxlength", "pattern", "min", "max", "step", "data-kind", "data-name",
    "data-label", "data-required", "data-input", "data-error-slot", "data-rows", "data-row",
    "data-row-template", "data-action", "data-min-items", "data-max-items"})


def fields_of(field: FormField) -> list[FormField]:
    found = [field]
    for child in field.children:
        found.extend(fields_of(child))
    if field.item is not None and field.kind == "array":  # a multi_enum is one select
        found.extend(fields_of(field.item))
    return found


@settings(max_examples=300, deadline=None)
@given(SCHEMAS)
def test_every_string_of_any_schema_is_escaped_and_reads_back_as_itself(schema):
    root = build_form(schema)
    markup = render_form(root)
    # Every "<" opens one of the form's own tags and every "&" one of html.escape's entities:
    # nothing from the schema is markup.
    assert markup.count("<") == len(RAW_TAG.findall(markup))
    assert markup.count("&") == len(RAW_ENTITY.findall(markup))
    document = parse(markup)  # also checks that every element is closed where it opened
    elements = document.all()
    assert {node.tag for node in elements} <= set(TAGS)
    assert all(set(node.attrs) <= ATTRIBUTES for node in elements)
    shown = {(node.attrs["data-name"], node.attrs["data-label"])
             for node in elements if node.has("data-kind")}
    helps = {node.text() for node in document.all("small")}
    options = {node.text() for node in document.all("option")}
    for field in fields_of(root)[1:]:
        label = field.label or field.name
        assert (field.name, label) in shown or (field.name, f"{label} (UTC)") in shown
        assert not field.help or field.help in helps
        assert set(field.choice_labels) <= options


@given(st.text())
def test_request_text_shown_in_a_message_is_one_printable_line(text):
    assert shown(text).isprintable()
    assert shown(text) == text or not text.isprintable()
