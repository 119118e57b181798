"""Form fields as HTML: the controls each kind gets, defaults filled in, required marks,
help and error slots linked to their inputs, every schema value escaped, nothing the page's
Content-Security-Policy forbids, and no schema that makes building or rendering raise."""

from __future__ import annotations

import dataclasses
import html.parser
import json
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from deferred.http.ui.formhtml import render_form
from deferred.http.ui.forms import MAX_DEPTH, build_form

from test_forms import nested, sample_schemas

EVIL = "<img src=x onerror=alert(1)>"
QUOTES = "\"'&"
VOID = frozenset({"input", "br", "img", "hr", "meta", "link", "source", "wbr", "col"})


@dataclasses.dataclass
class Node:
    """An element of the rendered HTML, with its attributes (decoded) and children."""

    tag: str
    attrs: dict[str, str | None]
    children: list[Node | str] = dataclasses.field(default_factory=list)
    parent: Node | None = None

    def text(self) -> str:
        return "".join(child if isinstance(child, str) else child.text()
                       for child in self.children)

    def all(self, tag: str | None = None, **attrs: str | None) -> list[Node]:
        """Every element below this one (inside templates too) with that tag and attributes;
        `name=None` matches a bare attribute, `data_kind` the attribute `data-kind`."""
        found = []
        for child in self.children:
            if isinstance(child, Node):
                if (tag is None or child.tag == tag) and all(
                        name.replace("_", "-") in child.attrs
                        and child.attrs[name.replace("_", "-")] == value
                        for name, value in attrs.items()):
                    found.append(child)
                found.extend(child.all(tag, **attrs))
        return found

    def one(self, tag: str | None = None, **attrs: str | None) -> Node:
        (found,) = self.all(tag, **attrs)
        return found

    def own(self, tag: str | None = None, **attrs: str | None) -> list[Node]:
        """The matching elements whose nearest field element is this one."""
        return [node for node in self.all(tag, **attrs) if nearest_field(node) is self]

    def has(self, name: str) -> bool:
        return name in self.attrs

    def fields(self) -> list[Node]:
        """The field elements directly inside this one (not inside a nested field)."""
        return [node for node in self.all() if node.has("data-kind")
                and nearest_field(node) is self]


def nearest_field(node: Node) -> Node | None:
    parent = node.parent
    while parent is not None and "data-kind" not in parent.attrs:
        parent = parent.parent
    return parent


class TreeBuilder(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#root", {})
        self.current = self.root

    def handle_starttag(self, tag, attrs):
        node = Node(tag, dict(attrs), parent=self.current)
        self.current.children.append(node)
        if tag not in VOID:
            self.current = node

    def handle_endtag(self, tag):
        assert self.current.tag == tag, f"</{tag}> closes <{self.current.tag}>"
        self.current = self.current.parent

    def handle_data(self, data):
        self.current.children.append(data)


def parse(markup: str) -> Node:
    builder = TreeBuilder()
    builder.feed(markup)
    builder.close()
    assert builder.current is builder.root, "an element is not closed"
    return builder.root


def render(schema, **options) -> str:
    return render_form(build_form(schema), **options)


def tree(schema, **options) -> Node:
    return parse(render(schema, **options))


def field_node(schema: dict, *, required: bool = False) -> Node:
    """The rendered field of the property `x` of the params."""
    root = tree({"type": "object", "properties": {"x": schema},
                 "required": ["x"] if required else []})
    return root.one(data_name="x")


def control(field: Node) -> Node:
    (found,) = field.own(data_input=None)
    return found


def check_safe_and_linked(markup: str) -> None:
    """No script, handler or style; ids unique; every for and aria-describedby resolves."""
    # Values are escaped, quotes included, so `name="` can only come from a real attribute.
    assert "<script" not in markup.lower()
    assert 'style="' not in markup.lower()
    assert not re.search(r'\son[a-z-]*="', markup, re.IGNORECASE)
    document = parse(markup)
    elements = document.all()
    ids = [node.attrs["id"] for node in elements if node.has("id")]
    assert len(ids) == len(set(ids)), "duplicate ids"
    for node in elements:
        assert not any(name.startswith("on") or name == "style" for name in node.attrs)
        references = (node.attrs.get("for") or "").split()
        references += (node.attrs.get("aria-describedby") or "").split()
        assert set(references) <= set(ids), f"{node.tag} points at a missing id"


# Each kind's control


def test_a_string_is_a_labelled_text_input():
    field = field_node({"type": "string", "title": "Message"})
    label, box = field.one("label"), control(field)
    assert (box.tag, box.attrs["type"]) == ("input", "text")
    assert label.attrs["for"] == box.attrs["id"] and label.text() == "Message"
    assert (field.attrs["data-kind"], field.attrs["data-label"]) == ("string", "Message")


def test_string_constraints_become_html_attributes():
    box = control(field_node({"type": "string", "minLength": 2, "maxLength": 5,
                              "pattern": "^[a-z]+$"}))
    assert (box.attrs["minlength"], box.attrs["maxlength"]) == ("2", "5")
    assert box.attrs["pattern"] == ".*(?:^[a-z]+$).*"


def test_formats_pick_email_date_and_url_inputs():
    for format_name, input_type in (("email", "email"), ("date", "date"), ("uri", "url")):
        box = control(field_node({"type": "string", "format": format_name}))
        assert box.attrs["type"] == input_type


def test_a_date_time_is_a_local_input_labelled_utc():
    field = field_node({"type": "string", "format": "date-time", "title": "Start"})
    assert control(field).attrs["type"] == "datetime-local"
    assert field.one("label").text() == "Start (UTC)"


def test_a_date_time_default_is_shown_in_utc_without_its_zone():
    field = field_node({"type": "string", "format": "date-time",
                        "default": "2024-05-01T14:30:00+02:00"})
    assert control(field).attrs["value"] == "2024-05-01T12:30:00"


def test_a_date_time_default_that_is_not_a_date_shows_nothing():
    field = field_node({"type": "string", "format": "date-time", "default": "soon"})
    assert control(field).attrs["value"] == ""


def test_numbers_are_number_inputs_with_min_max_and_step():
    box = control(field_node({"type": "integer", "minimum": 1, "maximum": 9}))
    assert (box.attrs["type"], box.attrs["min"], box.attrs["max"], box.attrs["step"]) == (
        "number", "1", "9", "1")
    assert control(field_node({"type": "number"})).attrs["step"] == "any"


def test_a_boolean_is_a_checkbox_checked_by_a_true_default():
    assert control(field_node({"type": "boolean", "default": True})).has("checked")
    assert not control(field_node({"type": "boolean"})).has("checked")


def test_an_enum_option_carries_the_json_of_its_choice_and_shows_it_as_text():
    select = control(field_node({"enum": ["a", 2, True, None]}, required=True))
    options = select.all("option")
    assert [option.attrs["value"] for option in options] == ["", '"a"', "2", "true", "null"]
    assert [option.text() for option in options] == ["Choose…", "a", "2", "true", "null"]
    assert select.has("required")


def test_an_optional_enum_can_be_left_unset():
    select = control(field_node({"enum": ["a", "b"], "default": "b"}))
    first, *_ = select.all("option")
    assert (first.attrs["value"], first.text()) == ("", "(not set)")
    assert select.one("option", selected=None).attrs["value"] == '"b"'


def test_a_required_enum_with_a_default_has_no_empty_choice():
    select = control(field_node({"enum": ["a", "b"], "default": "a"}, required=True))
    assert [option.attrs["value"] for option in select.all("option")] == ['"a"', '"b"']


def test_one_of_consts_shows_their_titles():
    select = control(field_node({"oneOf": [{"const": 1, "title": "One"},
                                           {"const": 2, "title": "Two"}]}))
    assert [option.text() for option in select.all("option")][1:] == ["One", "Two"]


def test_an_array_of_enums_is_a_multiple_select_with_the_defaults_selected():
    field = field_node({"type": "array", "items": {"enum": ["r", "g", "b"]},
                        "default": ["g", "b"]})
    select = control(field)
    assert field.attrs["data-kind"] == "multi_enum" and select.has("multiple")
    assert [option.attrs["value"] for option in select.all("option", selected=None)] == [
        '"g"', '"b"']
    assert not select.all("option", value="")


def test_a_nested_object_is_a_fieldset_with_a_legend_and_its_fields():
    field = field_node({"type": "object", "title": "Server",
                        "properties": {"host": {"type": "string"}, "port": {"type": "integer"}}})
    assert (field.tag, field.one("legend").text()) == ("fieldset", "Server")
    assert [child.attrs["data-name"] for child in field.fields()] == ["host", "port"]


def test_the_root_is_a_fieldset_marked_form_root():
    root = tree({"type": "object", "properties": {"a": {"type": "string"}}})
    (top,) = root.children
    assert top.tag == "fieldset" and "form-root" in top.attrs["class"].split()
    assert (top.attrs["data-kind"], top.attrs["data-name"]) == ("object", "")
    assert not top.all("legend")


def test_a_root_title_is_its_legend():
    root = tree({"type": "object", "title": "Printing", "properties": {"a": {"type": "string"}}})
    assert root.children[0].own("legend")[0].text() == "Printing"


def test_params_without_fields_say_so():
    root = tree({"type": "object", "additionalProperties": False})
    assert root.one("p", **{"class": "empty-note"}).text() == "This task takes no params."


# Arrays


def test_an_array_has_rows_an_add_button_and_a_row_template():
    field = field_node({"type": "array", "items": {"type": "number"}, "minItems": 1,
                        "maxItems": 4})
    assert (field.tag, field.attrs["data-kind"]) == ("fieldset", "array")
    assert (field.attrs["data-min-items"], field.attrs["data-max-items"]) == ("1", "4")
    rows = field.one(data_rows=None)
    assert rows.attrs["class"] == "array-rows" and rows.all(data_row=None) == []
    add = field.one("button", data_action="add-row")
    assert (add.attrs["type"], add.text()) == ("button", "Add")
    template = field.one("template", data_row_template=None)
    row = template.one(data_row=None)
    assert row.attrs["class"] == "field-row"
    item = row.one(data_kind="number")
    assert (item.attrs["data-name"], item.attrs["data-required"]) == ("", "true")
    remove = row.one("button", data_action="remove-row")
    assert (remove.attrs["type"], remove.text()) == ("button", "Remove")


def test_an_array_default_gives_that_many_filled_rows():
    field = field_node({"type": "array", "items": {"type": "integer"}, "default": [4, 5, 6]})
    rows = field.one(data_rows=None).all(data_row=None)
    assert [control(row.one(data_kind="integer")).attrs["value"] for row in rows] == [
        "4", "5", "6"]


def test_an_array_of_objects_fills_each_row_from_the_default():
    field = field_node({"type": "array", "default": [{"name": "a"}, {"name": "b", "n": 2}],
                        "items": {"type": "object", "properties": {
                            "name": {"type": "string"}, "n": {"type": "integer"}}}})
    rows = field.one(data_rows=None).all(data_row=None)
    values = [[control(node).attrs.get("value") for node in row.all() if node.has("data-kind")
               and node.attrs["data-kind"] != "object"] for row in rows]
    assert values == [["a", None], ["b", "2"]]


def test_array_items_carry_no_required_marker_but_number_rows_are_required():
    field = field_node({"type": "array", "items": {"type": "integer"}}, required=True)
    assert field.one("legend").all("span", **{"class": "required"})
    item = field.one("template").one(data_kind="integer")
    assert not item.all("span", **{"class": "required"})
    assert control(item).has("required")


def test_nested_arrays_have_their_own_templates():
    field = field_node({"type": "array", "items": {"type": "array", "items": {"type": "string"}},
                        "default": [["a"], []]})
    (rows,) = field.own(data_rows=None)
    outer_rows = [node for node in rows.children if isinstance(node, Node)]
    assert len(outer_rows) == 2
    inner = outer_rows[0].one(data_kind="array")
    assert len(inner.one(data_rows=None).all(data_row=None)) == 1
    assert len(field.all("template")) == 4  # the outer row template holds an inner one


# Defaults, required, help, errors


def test_defaults_fill_text_and_number_inputs():
    assert control(field_node({"type": "string", "default": "hi"})).attrs["value"] == "hi"
    assert control(field_node({"type": "number", "default": 2.5})).attrs["value"] == "2.5"


def test_a_default_of_the_wrong_type_is_not_shown():
    assert "value" not in control(field_node({"type": "integer", "default": "3"})).attrs
    assert "value" not in control(field_node({"type": "string", "default": 3})).attrs


def test_an_object_default_fills_its_children_over_their_own_defaults():
    field = field_node({"type": "object", "default": {"a": "from parent"}, "properties": {
        "a": {"type": "string", "default": "own"}, "b": {"type": "string", "default": "own"}}})
    assert [control(child).attrs["value"] for child in field.fields()] == [
        "from parent", "own"]


def test_required_fields_show_a_marker_hidden_from_screen_readers():
    root = tree({"type": "object", "required": ["a"],
                 "properties": {"a": {"type": "string"}, "b": {"type": "string"}}})
    a, b = root.one(data_name="a"), root.one(data_name="b")
    marker = a.one("label").one("span")
    assert (marker.attrs["class"], marker.attrs["aria-hidden"], marker.text()) == (
        "required", "true", "*")
    assert not b.one("label").all("span")
    assert (a.attrs["data-required"], b.attrs["data-required"]) == ("true", "false")


def test_a_required_text_box_may_be_empty_so_it_is_only_aria_required():
    box = control(field_node({"type": "string"}, required=True))
    assert not box.has("required") and box.attrs["aria-required"] == "true"


def test_required_boxes_that_cannot_be_empty_get_the_required_attribute():
    for schema in ({"type": "integer"}, {"type": "string", "minLength": 1},
                   {"type": "string", "format": "email"}):
        box = control(field_node(schema, required=True))
        assert box.has("required") and "aria-required" not in box.attrs


def test_optional_boxes_are_not_required():
    box = control(field_node({"type": "integer"}))
    assert not box.has("required") and "aria-required" not in box.attrs


def test_help_text_is_linked_to_its_input():
    field = field_node({"type": "string", "description": "Said once per line"})
    help_text = field.one("small")
    assert (help_text.attrs["class"], help_text.text()) == ("help", "Said once per line")
    assert help_text.attrs["id"] in control(field).attrs["aria-describedby"].split()


def test_every_field_has_one_empty_hidden_error_slot_linked_to_its_control():
    root = tree(sample_schemas()["multiprint"])
    fields = [node for node in root.all() if node.has("data-kind")]
    for field in fields:
        (slot,) = field.own(data_error_slot=None)
        assert (slot.tag, slot.attrs["class"], slot.text()) == ("p", "field-error", "")
        assert slot.has("hidden")
        described = (field.attrs.get("aria-describedby") or
                     control(field).attrs["aria-describedby"]).split()
        assert slot.attrs["id"] in described


def test_every_field_carries_its_kind_name_label_and_required():
    root = tree({"type": "object", "required": ["when"], "properties": {
        "when": {"type": "string", "format": "date", "title": "Day"}}})
    field = root.one(data_name="when")
    assert {key: field.attrs[key] for key in field.attrs if key.startswith("data-")} == {
        "data-kind": "string", "data-name": "when", "data-label": "Day",
        "data-required": "true"}
    assert "field" in field.attrs["class"].split() and "field-string" in field.attrs["class"]


# JSON fallbacks


def test_a_json_field_is_a_textarea_with_a_note_saying_why():
    field = field_node({"oneOf": [{"type": "string"}, {"type": "integer"}], "default": 3})
    box = control(field)
    assert (box.tag, box.text()) == ("textarea", "3")
    note = field.one("p", **{"class": "fallback-note"})
    assert note.text() == "This field is edited as JSON: it uses oneOf."
    assert note.attrs["id"] in box.attrs["aria-describedby"].split()


def test_a_json_default_is_shown_as_indented_json():
    box = control(field_node({"$ref": "#/$defs/x", "default": {"a": [1, 2]}}))
    assert json.loads(box.text()) == {"a": [1, 2]} and "\n" in box.text()


def test_the_rest_of_the_form_renders_beside_a_json_field():
    root = tree({"type": "object", "properties": {
        "a": {"type": "string"}, "b": {"anyOf": [{"type": "string"}, {"type": "integer"}]},
        "c": {"type": "array", "prefixItems": [{"type": "string"}]}, "d": {"type": "boolean"}}})
    kinds = {node.attrs["data-name"]: node.attrs["data-kind"] for node in root.all()
             if node.has("data-kind") and node.attrs["data-name"]}
    assert kinds == {"a": "string", "b": "json", "c": "json", "d": "boolean"}
    assert len(root.all("p", **{"class": "fallback-note"})) == 2


def test_no_schema_renders_one_json_box_holding_an_empty_object():
    root = parse(render_form(build_form(None)))
    (top,) = root.children
    assert (top.tag, top.attrs["data-kind"], top.attrs["data-label"]) == ("div", "json",
                                                                          "Params")
    assert "form-root" in top.attrs["class"].split()
    assert control(top).text() == "{}"
    assert "any JSON object" in top.one("p", **{"class": "fallback-note"}).text()


def test_deep_nesting_renders_with_a_json_box_at_the_limit():
    markup = render(nested(MAX_DEPTH + 3))
    check_safe_and_linked(markup)
    assert markup.count("<fieldset") == MAX_DEPTH + 1
    assert "nested too deeply" in markup


# Escaping and safety


def evil_schema(text: str) -> dict:
    return {"type": "object", "title": text, "description": text, "required": [text],
            "properties": {
                text: {"type": "string", "title": text, "description": text, "default": text,
                       "pattern": text},
                "choice": {"enum": [text, {text: text}], "default": text},
                "many": {"type": "array", "items": {"enum": [text]}, "default": [text]},
                "box": {"oneOf": [{}, {}], "default": {text: text}},
                "rows": {"type": "array", "items": {"type": "string", "title": text},
                         "default": [text]},
                "when": {"type": "string", "format": "date-time", "default": text},
                "group": {"type": "object", "title": text,
                          "properties": {"n": {"type": "integer", "default": text}}}}}


def test_schema_text_that_looks_like_html_appears_only_escaped():
    markup = render(evil_schema(EVIL))
    assert "<img" not in markup and "onerror=alert(1)>" not in markup
    assert "&lt;img src=x onerror=alert(1)&gt;" in markup
    check_safe_and_linked(markup)


def test_quotes_and_ampersands_appear_only_escaped():
    markup = render(evil_schema(QUOTES))
    assert QUOTES not in markup
    assert "&quot;&#x27;&amp;" in markup
    check_safe_and_linked(markup)


def test_escaped_values_read_back_as_the_original_text():
    root = tree(evil_schema(EVIL))
    field = root.one(data_name=EVIL)
    assert field.attrs["data-label"] == EVIL
    assert control(field).attrs["value"] == EVIL
    assert field.one("small").text() == EVIL
    options = control(root.one(data_name="choice")).all("option")
    assert [json.loads(option.attrs["value"]) for option in options[1:]] == [EVIL, {EVIL: EVIL}]
    assert json.loads(control(root.one(data_name="box")).text()) == {EVIL: EVIL}


def test_ids_use_the_prefix_and_stay_unique_for_repeated_names():
    markup = render({"type": "object", "properties": {
        "a": {"type": "object", "properties": {"a": {"type": "string"}}},
        "b": {"type": "array", "items": {"type": "object", "properties": {"a": {"type": "string"}}},
              "default": [{}, {}]}}}, id_prefix="param")
    check_safe_and_linked(markup)
    ids = [node.attrs["id"] for node in parse(markup).all() if node.has("id")]
    assert ids and all(value.startswith("param-") for value in ids)


def test_an_id_prefix_with_odd_characters_is_cleaned():
    markup = render({"type": "object", "properties": {"a b\"<": {"type": "string"}}},
                    id_prefix='x" y')
    check_safe_and_linked(markup)
    ids = [node.attrs["id"] for node in parse(markup).all() if node.has("id")]
    assert all(re.fullmatch(r"[A-Za-z0-9_-]+", value) for value in ids)


def test_the_sample_tasks_render_safely():
    for name, schema in sample_schemas().items():
        markup = render(schema)
        check_safe_and_linked(markup)
        assert 'data-kind="json"' not in markup, name


def test_mult_renders_an_array_of_number_rows():
    root = tree(sample_schemas()["mult"])
    operands = root.one(data_name="operands")
    assert operands.attrs["data-kind"] == "array" and operands.attrs["data-min-items"] == "1"
    assert control(operands.one("template").one(data_kind="number")).attrs["step"] == "any"


# Any input at all

KEYWORDS = ["type", "properties", "items", "prefixItems", "required", "enum", "const",
            "default", "title", "description", "format", "minimum", "maximum",
            "exclusiveMinimum", "exclusiveMaximum", "multipleOf", "minLength", "maxLength",
            "pattern", "minItems", "maxItems", "oneOf", "anyOf", "allOf", "$ref", "not", "if",
            "additionalProperties", "patternProperties", "dependentSchemas"]
WORDS = ["object", "array", "string", "integer", "number", "boolean", "null", "decimal",
         "email", "date", "date-time", "uri", EVIL, QUOTES]
LEAVES = (st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=6)
          | st.sampled_from(WORDS + KEYWORDS))
KEYS = st.sampled_from(KEYWORDS) | st.text(max_size=4)
JSON_LIKE = st.recursive(
    LEAVES, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=5),
    max_leaves=30)
CONSTRAINTS = {name: LEAVES for name in ("title", "description", "default", "format",
                                         "minimum", "maximum", "exclusiveMinimum",
                                         "exclusiveMaximum", "multipleOf", "minLength",
                                         "maxLength", "pattern", "minItems", "enum")}
SCHEMA_LIKE = st.recursive(
    st.fixed_dictionaries({"type": st.sampled_from(WORDS[:8])}, optional=CONSTRAINTS),
    lambda inner: (
        st.fixed_dictionaries(
            {"type": st.just("object"),
             "properties": st.dictionaries(st.text(max_size=4), inner, max_size=4)},
            optional={"required": st.lists(st.text(max_size=4), max_size=3) | JSON_LIKE,
                      "default": JSON_LIKE, "additionalProperties": st.booleans() | inner})
        | st.fixed_dictionaries({"type": st.just("array"), "items": inner},
                                optional={"default": JSON_LIKE, "minItems": LEAVES})
        | st.fixed_dictionaries({"anyOf": st.lists(inner, max_size=3)},
                                optional={"title": LEAVES})),
    max_leaves=12)
SCHEMAS = st.dictionaries(KEYS, JSON_LIKE, max_size=6) | SCHEMA_LIKE


@settings(max_examples=300, deadline=None, database=None)
@given(SCHEMAS)
def test_any_nested_dict_builds_and_renders_without_raising(schema):
    root = build_form(schema)
    assert root.kind in ("object", "json")
    check_safe_and_linked(render_form(root))
