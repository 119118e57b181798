"""A `FormField` tree as HTML: pure string building, every value from the schema escaped.

The fragment goes inside the launch page's `<form>`. It holds no script, no event handler
attribute and no `style` attribute (the page's Content-Security-Policy allows neither);
`static/forms.js` reads it back through these hooks.

Data attributes:
- on every field element: `data-kind` (the field's kind), `data-name` (the property key, ""
  for the root and for an array's item), `data-label` (its label as text) and
  `data-required` ("true" or "false"; an array's item is always "true");
- `data-input` on the field's own control (`input`, `select` or `textarea`);
- `data-error-slot` on the field's error paragraph, empty and `hidden` until a message comes;
- arrays: `data-rows` on the rows' container, `data-row` on each row, `data-row-template` on
  the `<template>` holding one empty row, `data-action="add-row"` / `"remove-row"` on the
  buttons, `data-min-items` / `data-max-items` when the schema sets them.

Classes, for the stylesheet:
- `field` and `field-<kind>` on every field (`field-multi-enum` for kind multi_enum), and
  `form-root` on the top one; objects and arrays are `fieldset`s, other fields `div`s;
- `field-row` (one array row), `array-rows` (the rows), `add-row` and `remove-row` (buttons);
- `required` (the `*` marker), `help` (a description), `fallback-note` (why a field is edited
  as JSON), `field-error` (the error slot), `empty-note` (params with no fields at all).

Enum options carry the JSON text of their choice as `value`, "" for the option meaning "not
set". A `date-time` string uses a `datetime-local` input labelled "(UTC)", filled in UTC.
"""

from __future__ import annotations

import datetime
import html
import itertools
import json
import re
from collections.abc import Mapping
from typing import Any

from .forms import FormField

_UNSET = object()
_PROPERTY, _ITEM, _ROOT = "property", "item", "root"
_ALLOWED_ATTRIBUTES = frozenset({"minlength", "maxlength", "pattern", "min", "max", "step"})
_NOT_ID = re.compile(r"[^A-Za-z0-9_-]+")
_MARKER = '<span class="required" aria-hidden="true">*</span>'
_SLOT = '<p class="field-error" id="{}" data-error-slot hidden></p>'


def render_form(field: FormField, id_prefix: str = "f") -> str:
    """The HTML of a form `build_form` returned, its element ids starting with `id_prefix`
    (cleaned to letters, digits, "-" and "_"). Never raises on what `build_form` returns."""
    ids = _Ids(id_prefix)
    return _render(field, field.default if field.has_default else _UNSET, _ROOT, ids)


class _Ids:
    """Element ids unique within one rendering: the prefix, a counter and the name's letters."""

    def __init__(self, prefix: str) -> None:
        self._prefix = _NOT_ID.sub("", prefix) or "f"
        self._numbers = itertools.count(1)

    def next(self, name: str) -> str:
        slug = _NOT_ID.sub("", name)[:24]
        number = next(self._numbers)
        return f"{self._prefix}-{number}-{slug}" if slug else f"{self._prefix}-{number}"


def _render(field: FormField, value: Any, role: str, ids: _Ids) -> str:
    if field.kind == "object":
        return _object(field, value, role, ids)
    if field.kind == "array":
        return _array(field, value, role, ids)
    return _leaf(field, value, role, ids)


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _attrs(*pairs: tuple[str, object]) -> str:
    """` name="value"` for each pair; True gives a bare attribute, None and False nothing."""
    parts = []
    for name, value in pairs:
        if value is True:
            parts.append(f" {name}")
        elif value is not None and value is not False:
            parts.append(f' {name}="{_e(value)}"')
    return "".join(parts)


def _label_text(field: FormField, role: str) -> str:
    text = field.label or ("Params" if role == _ROOT else field.name)
    return f"{text} (UTC)" if field.input_type == "datetime-local" else text


def _field_attrs(field: FormField, role: str, *extra: tuple[str, object]) -> str:
    classes = f"field field-{field.kind.replace('_', '-')}"
    return _attrs(("class", f"{classes} form-root" if role == _ROOT else classes),
                  ("data-kind", field.kind), ("data-name", field.name),
                  ("data-label", _label_text(field, role)),
                  ("data-required", "true" if field.required else "false"), *extra)


def _marker(field: FormField, role: str) -> str:
    return _MARKER if field.required and role == _PROPERTY else ""


def _described(field: FormField, base_id: str) -> tuple[str, str]:
    """The help and fallback-note HTML of a field, and the ids its control is described by."""
    parts, ids = [], []
    if field.help:
        parts.append(f'<small class="help" id="{base_id}-help">{_e(field.help)}</small>')
        ids.append(f"{base_id}-help")
    if field.kind == "json":
        note = f"This field is edited as JSON: {field.fallback or 'a form cannot show it'}."
        parts.append(f'<p class="fallback-note" id="{base_id}-note">{_e(note)}</p>')
        ids.append(f"{base_id}-note")
    ids.append(f"{base_id}-error")
    return "".join(parts), " ".join(ids)


def _child_value(child: FormField, parent_value: Any) -> Any:
    # The parent's default is more specific than the child's own: it was written for the whole.
    if isinstance(parent_value, Mapping) and child.name in parent_value:
        return parent_value[child.name]
    return child.default if child.has_default else _UNSET


def _object(field: FormField, value: Any, role: str, ids: _Ids) -> str:
    base_id = ids.next(field.name)
    described, described_by = _described(field, base_id)
    label = _label_text(field, role) if role != _ROOT else field.label
    legend = f"<legend>{_e(label)}{_marker(field, role)}</legend>" if label else ""
    children = "".join(_render(child, _child_value(child, value), _PROPERTY, ids)
                       for child in field.children)
    if not field.children and role == _ROOT:
        children = '<p class="empty-note">This task takes no params.</p>'
    return (f"<fieldset{_field_attrs(field, role, ('aria-describedby', described_by))}>"
            f"{legend}{described}{_SLOT.format(base_id + '-error')}{children}</fieldset>")


def _array(field: FormField, value: Any, role: str, ids: _Ids) -> str:
    base_id = ids.next(field.name)
    described, described_by = _described(field, base_id)
    item = field.item or FormField(name="", kind="json", label="Item", required=True,
                                   input_type="textarea")
    rows = "".join(_row(item, row_value, ids) for row_value in
                   (value if isinstance(value, list) else ()))
    empty_row = _row(item, item.default if item.has_default else _UNSET, ids)
    legend = f"<legend>{_e(_label_text(field, role))}{_marker(field, role)}</legend>"
    attrs = _field_attrs(field, role, ("data-min-items", field.min_items),
                         ("data-max-items", field.max_items),
                         ("aria-describedby", described_by))
    return (f"<fieldset{attrs}>{legend}{described}{_SLOT.format(base_id + '-error')}"
            f'<div class="array-rows" data-rows>{rows}</div>'
            '<button type="button" class="add-row" data-action="add-row">Add</button>'
            f"<template data-row-template>{empty_row}</template></fieldset>")


def _row(item: FormField, value: Any, ids: _Ids) -> str:
    return (f'<div class="field-row" data-row>{_render(item, value, _ITEM, ids)}'
            '<button type="button" class="remove-row" data-action="remove-row">Remove</button>'
            "</div>")


def _leaf(field: FormField, value: Any, role: str, ids: _Ids) -> str:
    input_id = ids.next(field.name)
    described, described_by = _described(field, input_id)
    label = (f'<label for="{input_id}">{_e(_label_text(field, role))}'
             f"{_marker(field, role)}</label>")
    control = _control(field, value, role, input_id, described_by)
    return (f"<div{_field_attrs(field, role)}>{label}{described}{control}"
            f"{_SLOT.format(input_id + '-error')}</div>")


def _control(field: FormField, value: Any, role: str, input_id: str, described_by: str) -> str:
    needs_value = field.required and role != _ROOT
    required = needs_value and _empty_is_invalid(field)
    # A required text may be "": no `required` to block it, but assistive tech is told.
    aria_required = needs_value and not required and field.kind != "boolean"
    common = (("id", input_id), ("data-input", True), ("required", required),
              ("aria-required", "true" if aria_required else None),
              ("aria-describedby", described_by))
    if field.kind == "boolean":
        return f'<input type="checkbox"{_attrs(*common, ("checked", value is True))}>'
    if field.kind in ("enum", "multi_enum"):
        return _select(field, value, common)
    if field.kind == "json":
        text = _json_text(value, indent=2) if value is not _UNSET else ""
        text = text or ("{}" if role == _ROOT else "")
        return (f'<textarea rows="4" spellcheck="false"{_attrs(*common)}>'
                f"{_e(text)}</textarea>")
    constraints = tuple((name, text) for name, text in field.attributes
                        if name in _ALLOWED_ATTRIBUTES)
    return (f'<input type="{_e(field.input_type or "text")}"'
            f"{_attrs(*common, ('value', _input_value(field, value)), *constraints)}>")


def _empty_is_invalid(field: FormField) -> bool:
    """Whether an empty control can never give a valid value; then it gets `required`."""
    if field.kind == "string":
        minimum = field.attribute("minlength")
        return field.input_type != "text" or (minimum is not None and minimum != "0")
    return field.kind in ("integer", "number", "enum", "json")


def _input_value(field: FormField, value: Any) -> str | None:
    if field.kind == "string" and isinstance(value, str):
        return _local_datetime(value) if field.input_type == "datetime-local" else value
    if (field.kind in ("integer", "number") and isinstance(value, (int, float))
            and not isinstance(value, bool)):
        return _json_text(value) or None
    return None


def _local_datetime(text: str) -> str:
    """A date-time as a `datetime-local` input shows it: in UTC, without a zone."""
    try:
        moment = datetime.datetime.fromisoformat(text)
        if moment.tzinfo is not None:
            moment = moment.astimezone(datetime.timezone.utc).replace(tzinfo=None)
    except (ValueError, OverflowError):
        return ""
    return moment.isoformat(timespec="milliseconds" if moment.microsecond else "seconds")


def _select(field: FormField, value: Any, common: tuple[tuple[str, object], ...]) -> str:
    multiple = field.kind == "multi_enum"
    if multiple:
        chosen = {_json_text(one) for one in value} if isinstance(value, list) else set()
    else:
        chosen = {_json_text(value)} if value is not _UNSET else set()
    options = []
    if not multiple and not (field.required and chosen & set(map(_json_text, field.choices))):
        empty = "Choose…" if field.required else "(not set)"
        options.append(f'<option value="">{_e(empty)}</option>')
    labels = field.choice_labels or tuple(map(_json_text, field.choices))
    for choice, label in zip(field.choices, labels):
        text = _json_text(choice)
        options.append(f"<option{_attrs(('value', text), ('selected', text in chosen))}>"
                       f"{_e(label)}</option>")
    return f"<select{_attrs(('multiple', multiple), *common)}>{''.join(options)}</select>"


def _json_text(value: Any, indent: int | None = None) -> str:
    """`value` as JSON text, "" when JSON cannot carry it (too deep, NaN, not JSON)."""
    try:
        return json.dumps(value, ensure_ascii=False, allow_nan=False, indent=indent,
                          separators=None if indent else (",", ":"))
    except (TypeError, ValueError, RecursionError):
        return ""
