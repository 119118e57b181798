"""A task's JSON Schema read as a form: a tree of frozen `FormField`s, pure, no I/O, no HTML.

`build_form(schema)` never raises. What a form cannot show becomes a field of kind "json",
edited as JSON text, whose `fallback` says why (a clause completing "This field is edited as
JSON: ..."); only that field falls back, the rest of the form still renders. Readings:

- A type list of one type and "null" (`["string", "null"]`), and `anyOf`/`oneOf` of one
  schema and `{"type": "null"}`, read as that one type: the form never sends null for them.
- `anyOf`/`oneOf` whose branches are all `const` read as an enum, labelled by their titles.
- Without `type`: `enum`/`const` give choices, `properties` an object, `items` an array;
  the params (the root) are always an object.
- `type: "null"` is an enum with the single choice null.
- Keywords that only constrain values (`not`, `contains`, `uniqueItems`, `minProperties`,
  formats the inputs do not know, ...) are left to the server's check.
"""

from __future__ import annotations

import dataclasses
import json
import math
import types
from collections.abc import Mapping, Sequence
from typing import Any, Literal

MAX_DEPTH = 20  # deeper fields fall back to JSON, so no schema can exhaust the stack

FieldKind = Literal["object", "string", "integer", "number", "boolean", "enum", "multi_enum",
                    "array", "json"]

_STRING_INPUTS = types.MappingProxyType({"email": "email", "date": "date",
                                         "date-time": "datetime-local", "uri": "url"})
_TYPES = frozenset({"object", "array", "string", "integer", "number", "boolean", "null"})
_REFS = ("$ref", "$dynamicRef", "$recursiveRef")
_UNSUPPORTED = ("oneOf", "anyOf", "allOf", "if", "dependentSchemas", "dependencies")
_BOUND_LIMIT = 1e300  # larger numbers cannot be written as HTML attributes usefully


@dataclasses.dataclass(frozen=True)
class FormField:
    """One field of a generated form: objects hold `children`, arrays their `item` field.

    `required` says the parent object requires the key (an array's item is always required,
    the root never); `default` is a JSON copy of the schema's default (read it, do not change
    it), meaningful when `has_default`; `attributes` holds HTML constraint attributes as
    (name, value) pairs; `choices` are an enum's JSON values in schema order and
    `choice_labels` the text shown for each; `fallback` is set for kind "json" only.
    """

    name: str  # the property key; "" for the root and for an array's item
    kind: FieldKind
    label: str
    help: str = ""
    required: bool = False
    default: Any = None
    has_default: bool = False
    input_type: str = ""  # text email date datetime-local url number checkbox select textarea
    attributes: tuple[tuple[str, str], ...] = ()
    choices: tuple[Any, ...] = ()
    choice_labels: tuple[str, ...] = ()
    children: tuple[FormField, ...] = ()
    item: FormField | None = None
    min_items: int | None = None
    max_items: int | None = None
    fallback: str = ""

    def attribute(self, name: str) -> str | None:
        """The value of the HTML attribute `name` in `attributes`, or None."""
        return dict(self.attributes).get(name)


class _Unrenderable(Exception):
    """Raised while reading a schema that a form cannot show; its text is the reason."""


@dataclasses.dataclass(frozen=True)
class _Place:
    """Where a schema sits in the form: its key, whether required, how deep, its label if
    it has no title and no key."""

    name: str
    required: bool
    depth: int
    default_label: str
    is_root: bool = False


def build_form(schema: Mapping[str, Any] | None) -> FormField:
    """The form for a task's params: a field of kind "object", or of kind "json" when the
    schema is None or its top level cannot be shown as a form. Never raises."""
    place = _Place(name="", required=False, depth=0, default_label="", is_root=True)
    if schema is None:
        return _json_field({}, place, "the task has no schema, so any JSON object is accepted")
    root = _field(schema, place)
    if root.kind in ("object", "json"):
        return root
    return dataclasses.replace(root, kind="json", input_type="textarea", attributes=(),
                               choices=(), choice_labels=(), item=None, min_items=None,
                               max_items=None, fallback="the schema does not describe an object")


def _field(schema: Any, place: _Place) -> FormField:
    if not isinstance(schema, Mapping):
        return _json_field({}, place, _non_mapping_reason(schema))
    if place.depth > MAX_DEPTH:
        return _json_field(schema, place, "it is nested too deeply for a form")
    try:
        schema = _without_null_branch(schema)
        base = _base_field(schema, place)
        labelled = _const_branches(schema)
        if labelled is not None:
            return _enum_field(base, *labelled)
        _check_supported(schema)
        return _typed_field(schema, base, place)
    except _Unrenderable as exc:
        return _json_field(schema, place, str(exc))


def _non_mapping_reason(schema: Any) -> str:
    if schema is True:
        return "its schema accepts any JSON value"
    if schema is False:
        return "its schema accepts no value at all"
    return "its schema is not a JSON object"


def _json_field(schema: Mapping[str, Any], place: _Place, reason: str) -> FormField:
    return dataclasses.replace(_base_field(schema, place), kind="json", input_type="textarea",
                               fallback=reason)


def _base_field(schema: Mapping[str, Any], place: _Place) -> FormField:
    title, description = schema.get("title"), schema.get("description")
    label = title.strip() if isinstance(title, str) else ""
    has_default, default = _default(schema)
    return FormField(name=place.name, kind="json", label=label or place.name or place.default_label,
                     help=description.strip() if isinstance(description, str) else "",
                     required=place.required, default=default, has_default=has_default)


def _default(schema: Mapping[str, Any]) -> tuple[bool, Any]:
    if "default" not in schema:
        return False, None
    try:
        return True, _json_copy(schema["default"])
    except _Unrenderable:
        return False, None  # a default JSON cannot carry is no default a form can show


def _json_copy(value: Any) -> Any:
    try:
        return json.loads(json.dumps(value, allow_nan=False))
    except (TypeError, ValueError, RecursionError):
        raise _Unrenderable("its values are not all JSON") from None


def _without_null_branch(schema: Mapping[str, Any]) -> Mapping[str, Any]:
    """`anyOf`/`oneOf` of one schema and `{"type": "null"}` read as that schema."""
    for keyword in ("anyOf", "oneOf"):
        branches = schema.get(keyword)
        if not _is_list(branches) or len(branches) != 2:
            continue
        others = [branch for branch in branches if not _is_null_schema(branch)]
        if len(others) == 1 and isinstance(others[0], Mapping):
            outer = {key: value for key, value in schema.items() if key != keyword}
            return {**others[0], **outer}
    return schema


def _is_null_schema(schema: Any) -> bool:
    return isinstance(schema, Mapping) and schema.get("type") == "null" and len(schema) == 1


def _const_branches(schema: Mapping[str, Any]) -> tuple[list[Any], list[str]] | None:
    """The values and labels of `anyOf`/`oneOf` made only of `const` branches, else None."""
    for keyword in ("oneOf", "anyOf"):
        branches = schema.get(keyword)
        if (_is_list(branches) and branches
                and all(isinstance(branch, Mapping) and "const" in branch
                        and set(branch) <= {"const", "title", "description"}
                        for branch in branches)):
            values = [branch["const"] for branch in branches]
            labels = [branch["title"] if isinstance(branch.get("title"), str) and branch["title"]
                      else _value_text(branch["const"]) for branch in branches]
            return values, labels
    return None


def _check_supported(schema: Mapping[str, Any]) -> None:
    for keyword in _REFS:
        if keyword in schema:
            raise _Unrenderable(f"it uses {keyword}, which forms do not follow")
    for keyword in _UNSUPPORTED:
        if keyword in schema:
            shown = "if/then/else" if keyword == "if" else keyword
            raise _Unrenderable(f"it uses {shown}")


def _typed_field(schema: Mapping[str, Any], base: FormField, place: _Place) -> FormField:
    if "enum" in schema:
        values = schema["enum"]
        if not _is_list(values):
            raise _Unrenderable("its enum is not a list")
        return _enum_field(base, values, [_value_text(value) for value in values])
    if "const" in schema:
        return _enum_field(base, [schema["const"]], [_value_text(schema["const"])])
    kind = _type_name(schema, place.is_root)
    if kind == "null":
        return _enum_field(base, [None], ["null"])
    if kind == "string":
        return _string_field(schema, base)
    if kind in ("integer", "number"):
        return dataclasses.replace(base, kind=kind, input_type="number",
                                   attributes=_number_attributes(schema, kind == "integer"))
    if kind == "boolean":
        return dataclasses.replace(base, kind="boolean", input_type="checkbox")
    if kind == "array":
        return _array_field(schema, base, place)
    return _object_field(schema, base, place)


def _type_name(schema: Mapping[str, Any], is_root: bool) -> str:
    declared = schema.get("type")
    if _is_list(declared):
        others = [name for name in declared if name != "null"]
        if len(others) > 1:
            raise _Unrenderable("its type is a list of several types")
        declared = others[0] if others else ("null" if declared else None)
    if declared is None:
        if "properties" in schema or is_root:
            return "object"
        if "items" in schema or "prefixItems" in schema:
            return "array"
        raise _Unrenderable("its schema has no type")
    if not isinstance(declared, str) or declared not in _TYPES:
        raise _Unrenderable("its type is not one a form knows")
    return declared


def _enum_field(base: FormField, values: Sequence[Any], labels: Sequence[str]) -> FormField:
    if not values:
        raise _Unrenderable("its enum has no values")
    choices = tuple(_json_copy(value) for value in values)
    return dataclasses.replace(base, kind="enum", input_type="select", choices=choices,
                               choice_labels=tuple(labels))


def _value_text(value: Any) -> str:
    """A choice as shown: a string as itself, anything else as compact JSON."""
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    except (TypeError, ValueError, RecursionError):
        raise _Unrenderable("its values are not all JSON") from None


def _string_field(schema: Mapping[str, Any], base: FormField) -> FormField:
    format_name = schema.get("format")
    input_type = _STRING_INPUTS.get(format_name, "text") if isinstance(format_name, str) else "text"
    attributes = []
    for keyword, attribute in (("minLength", "minlength"), ("maxLength", "maxlength")):
        count = _count(schema.get(keyword))
        if count is not None:
            attributes.append((attribute, str(count)))
    pattern = schema.get("pattern")
    if isinstance(pattern, str) and pattern:
        # HTML anchors its pattern to the whole value; JSON Schema's searches anywhere in it.
        attributes.append(("pattern", f".*(?:{pattern}).*"))
    if input_type == "datetime-local":
        attributes.append(("step", "1"))  # the default step of 60 s would refuse seconds
    return dataclasses.replace(base, kind="string", input_type=input_type,
                               attributes=tuple(attributes))


def _count(value: Any) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= _BOUND_LIMIT:
        return value
    if isinstance(value, float) and value.is_integer() and 0 <= value <= _BOUND_LIMIT:
        return int(value)  # 2.0 is an integer to JSON Schema
    return None


def _finite(value: Any) -> int | float | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if -_BOUND_LIMIT <= value <= _BOUND_LIMIT:  # False for NaN and the infinities
            return value
    return None


def _number_attributes(schema: Mapping[str, Any], integer: bool
                       ) -> tuple[tuple[str, str], ...]:
    low = _bound(schema, "minimum", "exclusiveMinimum", integer, lower=True)
    high = _bound(schema, "maximum", "exclusiveMaximum", integer, lower=False)
    step = _step(schema, integer)
    if low is not None and step is not None:
        if isinstance(low, int) and isinstance(step, int):
            low = -(-low // step) * step  # browsers count steps from min; JSON Schema from 0
        elif low % step:
            step = None
    pairs = (("min", low), ("max", high),
             ("step", step if step is not None else ("1" if integer else "any")))
    return tuple((name, _number_text(value)) for name, value in pairs if value is not None)


def _bound(schema: Mapping[str, Any], inclusive_key: str, exclusive_key: str, integer: bool,
           *, lower: bool) -> int | float | None:
    candidates = []
    inclusive, exclusive = _finite(schema.get(inclusive_key)), schema.get(exclusive_key)
    if inclusive is not None:
        candidates.append((inclusive, exclusive is True))  # draft 4: a boolean beside it
    if _finite(exclusive) is not None:
        candidates.append((exclusive, True))
    if not candidates:
        return None
    if lower:
        value, is_exclusive = max(candidates)
    else:
        value, is_exclusive = min(candidates, key=lambda pair: (pair[0], not pair[1]))
    if not integer:
        return value  # HTML has no exclusive bound: the server refuses the bound itself
    if lower:
        return math.floor(value) + 1 if is_exclusive else math.ceil(value)
    return math.ceil(value) - 1 if is_exclusive else math.floor(value)


def _step(schema: Mapping[str, Any], integer: bool) -> int | float | None:
    multiple = _finite(schema.get("multipleOf"))
    if multiple is None or multiple <= 0:
        return None
    if integer:
        return int(multiple) if float(multiple).is_integer() else None
    return multiple


def _is_list(value: Any) -> bool:
    return isinstance(value, (list, tuple))  # schemas written in Python may use tuples


def _number_text(value: int | float | str) -> str:
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e16:
        return str(int(value))
    return value if isinstance(value, str) else repr(value)


def _array_field(schema: Mapping[str, Any], base: FormField, place: _Place) -> FormField:
    items = schema.get("items", True)
    if "prefixItems" in schema or _is_list(items):
        raise _Unrenderable("its items are a tuple, each position with its own schema")
    if items is False:
        raise _Unrenderable("its schema allows only an empty array")
    item = _field(items, _Place(name="", required=True, depth=place.depth + 1,
                                default_label="Item"))
    sized = dataclasses.replace(base, kind="array", item=item,
                                min_items=_count(schema.get("minItems")),
                                max_items=_count(schema.get("maxItems")))
    if item.kind == "enum":
        return dataclasses.replace(sized, kind="multi_enum", input_type="select",
                                   choices=item.choices, choice_labels=item.choice_labels)
    return sized


def _object_field(schema: Mapping[str, Any], base: FormField, place: _Place) -> FormField:
    properties = schema.get("properties", {})
    if not isinstance(properties, Mapping):
        raise _Unrenderable("its properties are not a JSON object")
    if not properties and schema.get("additionalProperties") is not False:
        if "patternProperties" in schema:
            raise _Unrenderable("its keys are matched by patternProperties, not listed")
        if "additionalProperties" in schema:
            raise _Unrenderable("its keys are free-form (additionalProperties), not listed")
        raise _Unrenderable("it is an object whose properties are not listed")
    required = schema.get("required", [])
    required_names = ({name for name in required if isinstance(name, str)}
                      if _is_list(required) else set())
    if any(name not in properties for name in required_names):
        raise _Unrenderable("it requires a property that its schema does not describe")
    children = tuple(
        _field(child, _Place(name=str(key), required=key in required_names,
                             depth=place.depth + 1, default_label="(no name)"))
        for key, child in properties.items())
    return dataclasses.replace(base, kind="object", children=children)
