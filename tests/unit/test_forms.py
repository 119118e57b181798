"""A task's JSON Schema read as form fields: each kind, defaults, required, nesting, and every
case that falls back to a JSON box (for that field only)."""

import ast
from pathlib import Path

import pytest

from deferred.http.ui.forms import MAX_DEPTH, FormField, build_form

SAMPLE_TASKS = Path(__file__).parents[2] / "sample_tasks.py"


def sample_schemas() -> dict[str, dict]:
    """The literal `json_schema` values of sample_tasks.py, read without importing it (an
    import would register its tasks in the default registry)."""
    tree = ast.parse(SAMPLE_TASKS.read_text(encoding="utf-8"))
    found = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            values = {keyword.arg: keyword.value for keyword in node.keywords}
            if "json_schema" in values and "name" in values:
                found[ast.literal_eval(values["name"])] = ast.literal_eval(values["json_schema"])
        elif isinstance(node, ast.ClassDef):
            assigned = {target.id: statement.value for statement in node.body
                        if isinstance(statement, ast.Assign)
                        for target in statement.targets if isinstance(target, ast.Name)}
            if "json_schema" in assigned:
                found[ast.literal_eval(assigned["name"])] = ast.literal_eval(
                    assigned["json_schema"])
    return found


def form_of(**properties: dict) -> FormField:
    return build_form({"type": "object", "properties": properties})


def field_of(schema: dict, *, required: bool = False) -> FormField:
    """The one field a schema gives as the property `x` of the params."""
    root = build_form({"type": "object", "properties": {"x": schema},
                       "required": ["x"] if required else []})
    assert root.kind == "object"
    (field,) = root.children
    return field


def nested(depth: int) -> dict:
    schema: dict = {"type": "string"}
    for _ in range(depth):
        schema = {"type": "object", "properties": {"inner": schema}}
    return schema


# The root


def test_no_schema_gives_a_root_json_box_saying_any_object_is_accepted():
    root = build_form(None)
    assert root.kind == "json" and root.input_type == "textarea"
    assert "any JSON object" in root.fallback
    assert root.name == "" and not root.required


def test_the_root_is_an_object_with_its_properties_in_schema_order():
    root = form_of(b={"type": "string"}, a={"type": "integer"}, c={"type": "boolean"})
    assert root.kind == "object" and root.name == ""
    assert [child.name for child in root.children] == ["b", "a", "c"]


def test_a_root_without_type_is_read_as_an_object():
    root = build_form({"properties": {"msg": {"type": "string"}}})
    assert root.kind == "object" and root.children[0].kind == "string"


def test_a_root_with_a_nullable_object_type_is_an_object():
    root = build_form({"type": ["object", "null"], "properties": {"a": {"type": "string"}}})
    assert root.kind == "object"


def test_a_root_with_only_additional_properties_is_a_json_box():
    root = build_form({"type": "object", "additionalProperties": {"type": "integer"}})
    assert root.kind == "json" and "additionalProperties" in root.fallback


def test_a_root_that_is_not_an_object_type_is_a_json_box():
    root = build_form({"type": "string", "minLength": 2})
    assert root.kind == "json" and root.fallback == "the schema does not describe an object"
    assert root.attributes == ()


def test_a_root_using_one_of_is_a_json_box():
    root = build_form({"oneOf": [{"type": "object"}, {"type": "object", "required": ["a"]}]})
    assert root.kind == "json" and root.fallback == "it uses oneOf"


def test_a_closed_root_without_properties_is_an_empty_object():
    root = build_form({"type": "object", "additionalProperties": False})
    assert root.kind == "object" and root.children == ()


def test_the_root_title_and_description_become_its_label_and_help():
    root = build_form({"type": "object", "title": "Printing", "description": "How to print",
                       "properties": {"a": {"type": "string"}}})
    assert (root.label, root.help) == ("Printing", "How to print")


def test_a_root_that_is_not_a_mapping_is_a_json_box():
    assert build_form(["not", "a", "schema"]).kind == "json"  # type: ignore[arg-type]


# Labels, help, required, defaults


def test_the_label_is_the_title_else_the_property_name():
    root = form_of(count={"type": "integer", "title": "How many"}, msg={"type": "string"})
    assert [child.label for child in root.children] == ["How many", "msg"]


def test_a_blank_title_falls_back_to_the_property_name():
    assert field_of({"type": "string", "title": "   "}).label == "x"


def test_the_description_is_the_help_text():
    assert field_of({"type": "string", "description": "Said once per line"}).help == (
        "Said once per line")
    assert field_of({"type": "string"}).help == ""


def test_required_properties_are_marked_required():
    root = build_form({"type": "object", "required": ["a"],
                       "properties": {"a": {"type": "string"}, "b": {"type": "string"}}})
    assert [(child.name, child.required) for child in root.children] == [("a", True),
                                                                         ("b", False)]


def test_a_default_is_kept_with_has_default():
    field = field_of({"type": "integer", "default": 3})
    assert (field.default, field.has_default) == (3, True)


def test_a_null_default_is_a_default():
    field = field_of({"type": ["string", "null"], "default": None})
    assert field.has_default and field.default is None


def test_no_default_is_not_a_default_of_none():
    field = field_of({"type": "integer"})
    assert (field.default, field.has_default) == (None, False)


def test_a_default_is_a_copy_not_the_schema_object():
    default = {"a": [1, 2]}
    field = field_of({"type": "object", "properties": {"a": {"type": "array"}},
                      "default": default})
    default["a"].append(3)
    assert field.default == {"a": [1, 2]}


def test_a_default_json_cannot_carry_is_dropped():
    field = field_of({"type": "number", "default": float("nan")})
    assert field.kind == "number" and not field.has_default


# Strings


def test_a_string_is_a_text_input():
    field = field_of({"type": "string"})
    assert (field.kind, field.input_type, field.attributes) == ("string", "text", ())


@pytest.mark.parametrize("format_name, input_type", [
    ("email", "email"), ("date", "date"), ("date-time", "datetime-local"), ("uri", "url"),
    ("hostname", "text"), ("time", "text"), ("ipv4", "text")])
def test_a_string_format_picks_the_input_type(format_name, input_type):
    assert field_of({"type": "string", "format": format_name}).input_type == input_type


def test_a_date_time_input_accepts_seconds():
    assert field_of({"type": "string", "format": "date-time"}).attribute("step") == "1"


def test_string_lengths_become_minlength_and_maxlength():
    field = field_of({"type": "string", "minLength": 2, "maxLength": 10})
    assert field.attributes == (("minlength", "2"), ("maxlength", "10"))


def test_a_pattern_keeps_json_schema_search_semantics_in_html():
    assert field_of({"type": "string", "pattern": "[0-9]+"}).attribute("pattern") == (
        ".*(?:[0-9]+).*")


def test_bad_string_constraints_are_left_to_the_server():
    field = field_of({"type": "string", "minLength": -1, "maxLength": "9", "pattern": 7})
    assert field.attributes == ()


# Numbers


def test_an_integer_is_a_number_input_stepping_by_one():
    field = field_of({"type": "integer"})
    assert (field.kind, field.input_type, field.attributes) == ("integer", "number",
                                                                (("step", "1"),))


def test_a_number_accepts_any_step():
    field = field_of({"type": "number"})
    assert (field.kind, field.input_type, field.attributes) == ("number", "number",
                                                                (("step", "any"),))


def test_minimum_and_maximum_become_min_and_max():
    field = field_of({"type": "number", "minimum": 0, "maximum": 3600})
    assert field.attributes == (("min", "0"), ("max", "3600"), ("step", "any"))


def test_exclusive_bounds_of_an_integer_become_the_next_integers_inside():
    field = field_of({"type": "integer", "exclusiveMinimum": 0, "exclusiveMaximum": 10})
    assert field.attributes == (("min", "1"), ("max", "9"), ("step", "1"))


def test_fractional_bounds_of_an_integer_are_rounded_inwards():
    field = field_of({"type": "integer", "minimum": 0.5, "exclusiveMaximum": 9.5})
    assert (field.attribute("min"), field.attribute("max")) == ("1", "9")


def test_exclusive_bounds_of_a_number_become_min_and_max():
    field = field_of({"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1.5})
    assert (field.attribute("min"), field.attribute("max")) == ("0", "1.5")


def test_the_tighter_of_minimum_and_exclusive_minimum_wins():
    field = field_of({"type": "integer", "minimum": 5, "exclusiveMinimum": 2,
                      "maximum": 8, "exclusiveMaximum": 8})
    assert (field.attribute("min"), field.attribute("max")) == ("5", "7")


def test_draft_4_boolean_exclusive_bounds_are_understood():
    field = field_of({"type": "integer", "minimum": 0, "exclusiveMinimum": True,
                      "maximum": 10, "exclusiveMaximum": False})
    assert (field.attribute("min"), field.attribute("max")) == ("1", "10")


def test_multiple_of_becomes_the_step():
    assert field_of({"type": "number", "multipleOf": 0.25}).attribute("step") == "0.25"
    assert field_of({"type": "integer", "multipleOf": 5}).attribute("step") == "5"


def test_a_minimum_off_the_step_moves_to_the_first_multiple():
    field = field_of({"type": "integer", "minimum": 1, "multipleOf": 5})
    assert (field.attribute("min"), field.attribute("step")) == ("5", "5")


def test_a_fractional_step_off_the_minimum_is_left_to_the_server():
    field = field_of({"type": "number", "minimum": 0.1, "multipleOf": 0.25})
    assert (field.attribute("min"), field.attribute("step")) == ("0.1", "any")


def test_an_integer_with_a_fractional_multiple_steps_by_one():
    assert field_of({"type": "integer", "multipleOf": 0.5}).attribute("step") == "1"


def test_bounds_that_are_not_finite_numbers_are_ignored():
    field = field_of({"type": "number", "minimum": True, "maximum": float("inf"),
                      "multipleOf": -2})
    assert field.attributes == (("step", "any"),)


def test_huge_bounds_are_ignored_rather_than_written_out():
    field = field_of({"type": "integer", "minimum": -(10 ** 5000), "maximum": 10 ** 400})
    assert field.attributes == (("step", "1"),)


# Booleans, enums, const, null


def test_a_boolean_is_a_checkbox():
    field = field_of({"type": "boolean", "default": True})
    assert (field.kind, field.input_type, field.default) == ("boolean", "checkbox", True)


def test_an_enum_is_a_select_with_its_choices_in_order():
    field = field_of({"type": "string", "enum": ["low", "high", "medium"]})
    assert (field.kind, field.input_type) == ("enum", "select")
    assert field.choices == ("low", "high", "medium")
    assert field.choice_labels == ("low", "high", "medium")


def test_an_enum_without_type_keeps_every_json_value():
    field = field_of({"enum": [1, "1", True, None, [1], {"a": 1}]})
    assert field.kind == "enum"
    assert field.choices == (1, "1", True, None, [1], {"a": 1})
    assert field.choice_labels == ("1", "1", "true", "null", "[1]", '{"a":1}')


def test_a_const_is_a_select_with_one_choice():
    field = field_of({"const": 42})
    assert (field.kind, field.choices) == ("enum", (42,))


def test_type_null_is_a_select_with_the_choice_null():
    field = field_of({"type": "null"})
    assert (field.kind, field.choices, field.choice_labels) == ("enum", (None,), ("null",))


def test_one_of_consts_is_an_enum_labelled_by_their_titles():
    field = field_of({"title": "Speed", "oneOf": [{"const": "s", "title": "Slow"},
                                                   {"const": "f"}]})
    assert (field.kind, field.label) == ("enum", "Speed")
    assert (field.choices, field.choice_labels) == (("s", "f"), ("Slow", "f"))


def test_an_empty_enum_is_a_json_box():
    field = field_of({"enum": []})
    assert field.kind == "json" and "no values" in field.fallback


# Type lists and nullable readings


def test_a_type_list_with_null_is_read_as_the_other_type():
    field = field_of({"type": ["string", "null"], "maxLength": 3})
    assert (field.kind, field.attributes) == ("string", (("maxlength", "3"),))


def test_any_of_a_schema_and_null_is_read_as_that_schema_keeping_the_outer_title():
    field = field_of({"title": "Limit", "anyOf": [{"type": "integer", "minimum": 1},
                                                   {"type": "null"}]})
    assert (field.kind, field.label, field.attribute("min")) == ("integer", "Limit", "1")


def test_a_type_list_of_two_types_is_a_json_box():
    field = field_of({"type": ["string", "integer"]})
    assert field.kind == "json" and field.fallback == "its type is a list of several types"


def test_an_unknown_type_is_a_json_box():
    assert field_of({"type": "decimal"}).fallback == "its type is not one a form knows"


# Arrays


def test_an_array_has_an_item_field_and_its_size_limits():
    field = field_of({"type": "array", "items": {"type": "number"}, "minItems": 1,
                      "maxItems": 5})
    assert (field.kind, field.min_items, field.max_items) == ("array", 1, 5)
    assert field.item is not None and field.item.kind == "number"
    assert field.item.required and field.item.name == "" and field.item.label == "Item"


def test_an_array_item_uses_its_own_title():
    field = field_of({"type": "array", "items": {"type": "string", "title": "Line"}})
    assert field.item.label == "Line"


def test_an_array_of_enums_is_a_multi_select():
    field = field_of({"type": "array", "items": {"enum": ["red", "green"]},
                      "uniqueItems": True, "default": ["green"]})
    assert (field.kind, field.input_type) == ("multi_enum", "select")
    assert (field.choices, field.default) == (("red", "green"), ["green"])


def test_an_array_of_objects_has_an_object_item_with_children():
    field = field_of({"type": "array", "items": {
        "type": "object", "required": ["name"],
        "properties": {"name": {"type": "string"}, "age": {"type": "integer"}}}})
    assert field.item.kind == "object"
    assert [(child.name, child.required) for child in field.item.children] == [
        ("name", True), ("age", False)]


def test_an_array_without_type_but_with_items_is_an_array():
    assert field_of({"items": {"type": "string"}}).kind == "array"


def test_an_array_of_anything_has_json_rows():
    field = field_of({"type": "array"})
    assert field.kind == "array" and field.item.kind == "json"
    assert field.item.fallback == "its schema accepts any JSON value"


def test_an_array_default_is_kept_for_the_rows():
    field = field_of({"type": "array", "items": {"type": "integer"}, "default": [1, 2, 3]})
    assert field.default == [1, 2, 3]


def test_tuple_items_are_a_json_box():
    field = field_of({"type": "array", "prefixItems": [{"type": "string"}]})
    assert field.kind == "json" and "tuple" in field.fallback


def test_draft_7_tuple_items_are_a_json_box():
    field = field_of({"type": "array", "items": [{"type": "string"}, {"type": "integer"}]})
    assert field.kind == "json" and "tuple" in field.fallback


def test_an_array_that_allows_no_items_is_a_json_box():
    assert field_of({"type": "array", "items": False}).kind == "json"


# Objects


def test_a_nested_object_has_its_children_with_their_own_required():
    field = field_of({"type": "object", "title": "Where", "required": ["host"],
                      "properties": {"host": {"type": "string"}, "port": {"type": "integer"}}},
                     required=True)
    assert (field.kind, field.label, field.required) == ("object", "Where", True)
    assert [(child.name, child.required) for child in field.children] == [("host", True),
                                                                          ("port", False)]


def test_an_object_with_properties_and_additional_properties_shows_its_properties():
    field = field_of({"type": "object", "properties": {"a": {"type": "string"}},
                      "additionalProperties": {"type": "string"}})
    assert field.kind == "object" and [child.name for child in field.children] == ["a"]


def test_an_object_with_only_pattern_properties_is_a_json_box():
    field = field_of({"type": "object", "patternProperties": {"^x": {"type": "string"}}})
    assert field.kind == "json" and "patternProperties" in field.fallback


def test_an_object_with_only_additional_properties_is_a_json_box():
    field = field_of({"type": "object", "additionalProperties": {"type": "integer"}})
    assert field.kind == "json" and "additionalProperties" in field.fallback


def test_an_object_without_properties_is_a_json_box():
    field = field_of({"type": "object"})
    assert field.kind == "json" and field.fallback == (
        "it is an object whose properties are not listed")


def test_an_object_requiring_an_undescribed_property_is_a_json_box():
    field = field_of({"type": "object", "properties": {"a": {"type": "string"}},
                      "required": ["b"]})
    assert field.kind == "json" and "does not describe" in field.fallback


def test_a_property_key_that_is_empty_is_labelled_no_name():
    root = form_of(**{"": {"type": "string"}})
    assert (root.children[0].name, root.children[0].label) == ("", "(no name)")


def test_nesting_up_to_the_limit_renders_as_fieldsets():
    field = build_form(nested(MAX_DEPTH))
    for _ in range(MAX_DEPTH):
        assert field.kind == "object"
        (field,) = field.children
    assert field.kind == "string"


def test_nesting_beyond_the_limit_falls_back_to_json_there_only():
    field = build_form(nested(MAX_DEPTH + 5))
    depth = 0
    while field.kind == "object":
        (field,) = field.children
        depth += 1
    assert (depth, field.kind, field.fallback) == (MAX_DEPTH + 1, "json",
                                                   "it is nested too deeply for a form")


def test_very_deep_schemas_do_not_exhaust_the_stack():
    root = build_form(nested(5000))
    assert root.kind == "object"


# Fallbacks, one field at a time


@pytest.mark.parametrize("schema, reason", [
    ({"oneOf": [{"type": "string"}, {"type": "integer"}]}, "it uses oneOf"),
    ({"anyOf": [{"type": "string"}, {"type": "integer"}]}, "it uses anyOf"),
    ({"allOf": [{"type": "string"}, {"maxLength": 3}]}, "it uses allOf"),
    ({"type": "string", "if": {"maxLength": 1}, "then": {"pattern": "a"}},
     "it uses if/then/else"),
    ({"type": "object", "properties": {"a": {"type": "string"}},
      "dependentSchemas": {"a": {"required": ["b"]}}}, "it uses dependentSchemas"),
    ({"$ref": "#/$defs/thing"}, "it uses $ref, which forms do not follow"),
    ({"$dynamicRef": "#node"}, "it uses $dynamicRef, which forms do not follow"),
    ({}, "its schema has no type"),
    ({"description": "anything"}, "its schema has no type"),
    ({"type": ["string", "integer"]}, "its type is a list of several types"),
    ({"type": 3}, "its type is not one a form knows"),
    ({"type": "array", "prefixItems": [{"type": "string"}]},
     "its items are a tuple, each position with its own schema"),
    ({"type": "object", "patternProperties": {"^x": {}}},
     "its keys are matched by patternProperties, not listed"),
    ({"type": "object", "additionalProperties": True},
     "its keys are free-form (additionalProperties), not listed"),
    ({"type": "object", "properties": "a"}, "its properties are not a JSON object"),
    ({"enum": "abc"}, "its enum is not a list"),
    ({"enum": [float("nan")]}, "its values are not all JSON"),
    (True, "its schema accepts any JSON value"),
    (False, "its schema accepts no value at all"),
    ("string", "its schema is not a JSON object"),
])
def test_a_field_a_form_cannot_show_is_a_json_box_saying_why(schema, reason):
    root = build_form({"type": "object", "properties": {
        "before": {"type": "string"}, "odd": schema, "after": {"type": "integer"}}})
    before, odd, after = root.children
    assert (odd.kind, odd.input_type, odd.fallback) == ("json", "textarea", reason)
    assert (before.kind, after.kind) == ("string", "integer")


def test_a_json_box_keeps_its_label_help_default_and_required():
    root = build_form({"type": "object", "required": ["shape"], "properties": {"shape": {
        "title": "Shape", "description": "A circle or a square",
        "oneOf": [{"type": "object"}, {"type": "string"}], "default": {"r": 1}}}})
    (field,) = root.children
    assert (field.kind, field.label, field.help) == ("json", "Shape", "A circle or a square")
    assert (field.required, field.default, field.has_default) == (True, {"r": 1}, True)


def test_not_is_left_to_the_server():
    assert field_of({"type": "string", "not": {"const": "x"}}).kind == "string"


# The repository's sample tasks


def test_the_sample_tasks_schemas_are_found():
    assert set(sample_schemas()) == {"multiprint", "mult", "slow", "fail"}


def test_multiprint_has_a_required_message_and_a_bounded_count():
    root = build_form(sample_schemas()["multiprint"])
    msg, count = root.children
    assert (msg.name, msg.kind, msg.required) == ("msg", "string", True)
    assert (count.name, count.kind, count.required) == ("count", "integer", False)
    assert count.attributes == (("min", "1"), ("max", "10000"), ("step", "1"))
    assert ("maxlength", "1000") in msg.attributes


def test_mult_has_a_required_array_of_numbers_with_at_least_one_row():
    (operands,) = build_form(sample_schemas()["mult"]).children
    assert (operands.kind, operands.required, operands.min_items) == ("array", True, 1)
    assert operands.item.kind == "number"


def test_slow_has_seconds_between_zero_and_an_hour():
    (seconds,) = build_form(sample_schemas()["slow"]).children
    assert seconds.attributes == (("min", "0"), ("max", "3600"), ("step", "any"))


def test_fail_has_an_optional_message():
    (message,) = build_form(sample_schemas()["fail"]).children
    assert (message.kind, message.required) == ("string", False)


def test_fields_are_frozen():
    field = field_of({"type": "string"})
    with pytest.raises(AttributeError):
        field.label = "changed"  # type: ignore[misc]
