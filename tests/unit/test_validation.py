"""Schemas are checked at definition against their draft; params with format checking on."""

import pytest

from deferred.errors import InvalidParamsError, InvalidSchemaError
from deferred.tasks.validation import ParamsValidator, ecma_pattern


def test_schema_without_draft_uses_2020_12():
    # prefixItems exists only since 2020-12; with a bad value it must be reported.
    with pytest.raises(InvalidSchemaError, match=r"\$\.properties\.a\.prefixItems"):
        ParamsValidator("t", {"type": "object",
                              "properties": {"a": {"prefixItems": "nope"}}})


def test_schema_declaring_draft_7_is_checked_against_draft_7():
    schema = {"$schema": "http://json-schema.org/draft-07/schema#", "type": "object",
              "properties": {"a": {"type": "integer", "exclusiveMinimum": 3}}}
    validator = ParamsValidator("t", schema)
    with pytest.raises(InvalidParamsError, match=r"^\$\.a: 3 is less than or equal"):
        validator.validate({"a": 3})


def test_unknown_draft_is_refused():
    with pytest.raises(InvalidSchemaError, match="unknown \\$schema 'http://example.com/s'"):
        ParamsValidator("t", {"$schema": "http://example.com/s"})


@pytest.mark.parametrize("schema", [[], "object", 3])
def test_schema_that_is_not_an_object_is_refused(schema):
    with pytest.raises(InvalidSchemaError, match="json_schema must be a JSON object"):
        ParamsValidator("t", schema)


def test_top_level_type_must_be_object():
    with pytest.raises(InvalidSchemaError, match="top-level type must be 'object'"):
        ParamsValidator("t", {"type": "array"})
    ParamsValidator("t", {"type": ["object", "null"]})


@pytest.mark.parametrize("fmt, good, bad", [
    ("email", "a@example.com", "not an address"),
    ("date", "2026-11-23", "2026-02-30"),
    ("date-time", "2026-11-23T10:00:00Z", "2026-11-23 10:00"),
    ("date-time", "2026-11-23T10:00:00.5+01:00", "2026-13-01T10:00:00Z"),
    ("time", "10:00:00Z", "25:00:00Z"),
    ("uri", "https://example.com/a?b#c", "example.com/no-scheme"),
    ("uri", "mailto:a@example.com", "http://exa mple.com"),
    ("hostname", "db-1.example.com", "-bad-.example.com"),
    ("ipv4", "127.0.0.1", "300.1.1.1"),
    ("uuid", "12345678-1234-5678-1234-567812345678", "1234"),
])
def test_formats_are_checked(fmt, good, bad):
    validator = ParamsValidator("t", {"type": "object", "properties": {"v": {"format": fmt}}})
    validator.validate({"v": good})
    with pytest.raises(InvalidParamsError, match=rf"^\$\.v: .* is not a '{fmt}'"):
        validator.validate({"v": bad})


def test_error_names_nested_json_path():
    validator = ParamsValidator("t", {
        "type": "object",
        "properties": {"items": {"type": "array", "items": {
            "type": "object", "properties": {"n": {"type": "integer"}}}}}})
    with pytest.raises(InvalidParamsError) as info:
        validator.validate({"items": [{"n": 1}, {"n": "two"}]})
    assert str(info.value) == "$.items[1].n: 'two' is not of type 'integer'"


def test_long_messages_are_shortened():
    validator = ParamsValidator("t", {"type": "object",
                                      "properties": {"v": {"type": "integer"}}})
    with pytest.raises(InvalidParamsError) as info:
        validator.validate({"v": "x" * 10_000})
    assert len(str(info.value)) < 400


def test_unresolvable_ref_is_the_schemas_fault():
    validator = ParamsValidator("t", {"type": "object",
                                      "properties": {"v": {"$ref": "#/$defs/missing"}}})
    with pytest.raises(InvalidSchemaError, match="task 't': the schema cannot be used"):
        validator.validate({"v": 1})


@pytest.mark.parametrize("draft", [None, "http://json-schema.org/draft-07/schema#",
                                   "http://json-schema.org/draft-04/schema#"])
def test_a_pattern_ending_in_dollar_refuses_a_final_newline_as_json_schema_means(draft):
    schema = {"type": "object", "properties": {"a": {"type": "string", "pattern": "^[a-z]+$"}},
              **({"$schema": draft} if draft else {})}
    validator = ParamsValidator("t", schema)
    validator.validate({"a": "abc"})
    for bad in ("abc\n", "abc\nBcc: x", "ABC"):
        with pytest.raises(InvalidParamsError, match=r"^\$\.a: .* does not match '\^\[a-z\]\+\$'"):
            validator.validate({"a": bad})


def test_property_names_patterns_are_read_the_same_way():
    validator = ParamsValidator("t", {"type": "object", "propertyNames": {"pattern": "^[a-z]+$"}})
    validator.validate({"abc": 1})
    with pytest.raises(InvalidParamsError):
        validator.validate({"abc\n": 1})


@pytest.mark.parametrize("pattern, translated", [
    ("^[a-z]+$", r"^[a-z]+\Z"),
    ("a$|b$", r"a\Z|b\Z"),
    (r"cost \$5", r"cost \$5"),
    ("[$]", "[$]"),
    ("[]$]$", r"[]$]\Z"),
    ("[^]$]$", r"[^]$]\Z"),
    (r"[\]$]$", r"[\]$]\Z"),
    ("no anchor", "no anchor"),
])
def test_only_a_bare_dollar_becomes_the_end_of_the_text(pattern, translated):
    assert ecma_pattern(pattern) == translated


def test_pattern_properties_read_dollar_as_the_end_of_the_key_too():
    validator = ParamsValidator("t", {"type": "object", "additionalProperties": False,
                                      "patternProperties": {"^[a-z]+$": {"type": "integer"}}})
    validator.validate({"abc": 1})
    for params, message in (({"abc\n": 1}, "$: 'abc\\n' does not match any of the regexes"),
                            ({"abc": "x"}, "$.abc: 'x' is not of type 'integer'")):
        with pytest.raises(InvalidParamsError) as info:
            validator.validate(params)
        assert str(info.value).startswith(message)
