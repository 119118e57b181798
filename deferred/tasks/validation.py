"""Checks on tasks: their schema and signature when defined, their params before each run."""

from __future__ import annotations

import dataclasses
import inspect
import re
from collections.abc import Iterator, Mapping
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError, best_match
from jsonschema.validators import extend, validator_for

from ..errors import InvalidParamsError, InvalidSchemaError, TaskDefinitionError
from ..formats import make_format_checker
from ..jsontext import json_type_name

_MESSAGE_LIMIT = 300
_NO_DRAFT = object()


def _shorten(text: str) -> str:
    return text if len(text) <= _MESSAGE_LIMIT else text[:_MESSAGE_LIMIT - 3] + "..."


@dataclasses.dataclass(frozen=True)
class ParamSpec:
    """The keyword parameters a task's `run()` accepts."""

    names: tuple[str, ...]
    required: frozenset[str]
    takes_any: bool  # run() has **kwargs

    @classmethod
    def of(cls, signature: inspect.Signature, task_name: str) -> ParamSpec:
        """Read the spec from the signature of `run()` (without `self`).

        Raises `TaskDefinitionError` for positional-only parameters without a default, which
        params passed by name can never fill.
        """
        names, required, takes_any = [], set(), False
        for param in signature.parameters.values():
            if param.kind is param.VAR_KEYWORD:
                takes_any = True
            elif param.kind is param.VAR_POSITIONAL:
                continue
            elif param.kind is param.POSITIONAL_ONLY:
                if param.default is param.empty:
                    raise TaskDefinitionError(
                        f"run() parameter {param.name!r} is positional-only; params are passed "
                        "by name", where=f"task {task_name!r}")
            else:
                names.append(param.name)
                if param.default is param.empty:
                    required.add(param.name)
        return cls(tuple(names), frozenset(required), takes_any)

    def check(self, params: Mapping[str, Any]) -> None:
        """Raise `InvalidParamsError` if `run(**params)` would not bind."""
        if not self.takes_any:
            unknown = [key for key in params if key not in self.names]
            if unknown:
                takes = ", ".join(self.names) if self.names else "no parameters"
                raise InvalidParamsError(
                    f"unknown parameter {unknown[0]!r} (the task takes: {takes})", where="$")
        missing = [name for name in self.names if name in self.required and name not in params]
        if missing:
            raise InvalidParamsError(f"missing required parameter {missing[0]!r}", where="$")


class ParamsValidator:
    """A task's compiled JSON Schema: checked once when built, then used before every run."""

    def __init__(self, task_name: str, schema: Mapping[str, Any]) -> None:
        """Check `schema` against its draft's meta-schema (its `$schema`, else 2020-12).

        Raises `InvalidSchemaError` naming the task and the path of the bad keyword.
        """
        where = f"task {task_name!r}"
        if not isinstance(schema, Mapping):
            raise InvalidSchemaError(
                f"json_schema must be a JSON object, got {json_type_name(schema)}", where=where)
        schema = dict(schema)
        validator_class = validator_for(schema, default=_NO_DRAFT)
        if validator_class is _NO_DRAFT:
            if "$schema" in schema:
                raise InvalidSchemaError(f"unknown $schema {schema['$schema']!r}", where=where)
            validator_class = Draft202012Validator
        error = best_match(validator_class(validator_class.META_SCHEMA).iter_errors(schema))
        if error is not None:
            raise InvalidSchemaError(
                f"invalid JSON Schema at {error.json_path}: {_shorten(error.message)}",
                where=where)
        top_type = schema.get("type", "object")
        if top_type != "object" and not (isinstance(top_type, list) and "object" in top_type):
            raise InvalidSchemaError(
                f"the schema's top-level type must be 'object' (params are passed by name), "
                f"got {top_type!r}", where=where)
        self.schema = schema
        self._task_name = task_name
        self._validator = _with_ecma_pattern(validator_class)(
            schema, format_checker=make_format_checker(validator_class.FORMAT_CHECKER))

    def validate(self, params: Mapping[str, Any]) -> None:
        """Raise `InvalidParamsError` naming the JSON path (`$.count`) and what was wrong."""
        try:
            error = best_match(self._validator.iter_errors(params))
        except Exception as exc:  # an unresolvable $ref and the like: the schema's fault
            raise InvalidSchemaError(f"the schema cannot be used: {_shorten(str(exc))}",
                                     where=f"task {self._task_name!r}") from exc
        if error is not None:
            raise InvalidParamsError(_shorten(error.message), where=error.json_path)

    def properties(self) -> tuple[str, ...]:
        """The names under the schema's top-level `properties`."""
        properties = self.schema.get("properties", {})
        return tuple(properties) if isinstance(properties, Mapping) else ()


def ecma_pattern(pattern: str) -> str:
    """`pattern` for Python's `re`, with `$` meaning the end of the text as in JSON Schema
    (ECMA-262): Python's `$` also matches before a final newline, so `"abc\\n"` would pass
    `"^[a-z]+$"`. A `$` escaped or inside a character class stays as it is."""
    parts, index, in_class = [], 0, False
    while index < len(pattern):
        char = pattern[index]
        if char == "\\":
            parts.append(pattern[index:index + 2])
            index += 2
            continue
        if in_class:
            in_class = char != "]"
        elif char == "[":
            in_class, end = True, index + 1
            end += pattern.startswith("^", end)
            end += pattern.startswith("]", end, end + 1)  # "[]a]": a "]" first is literal
            parts.append(pattern[index:end])
            index = end
            continue
        elif char == "$":
            char = r"\Z"
        parts.append(char)
        index += 1
    return "".join(parts)


def _compiled_pattern(pattern: str) -> re.Pattern[str]:
    return re.compile(ecma_pattern(pattern))  # re keeps its own cache of compiled patterns


def _pattern_keyword(validator: Any, pattern: str, instance: Any,
                     schema: Mapping[str, Any]) -> Iterator[ValidationError]:
    if validator.is_type(instance, "string") and not _compiled_pattern(pattern).search(instance):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


def _pattern_properties_keyword(validator: Any, patterns: Mapping[str, Any], instance: Any,
                                schema: Mapping[str, Any]) -> Iterator[ValidationError]:
    if not validator.is_type(instance, "object"):
        return
    for pattern, subschema in patterns.items():
        compiled = _compiled_pattern(pattern)
        for key, value in instance.items():
            if compiled.search(key):
                yield from validator.descend(value, subschema, path=key, schema_path=pattern)


def _additional_properties_keyword(validator: Any, allowed: Any, instance: Any,
                                   schema: Mapping[str, Any]) -> Iterator[ValidationError]:
    if not validator.is_type(instance, "object"):
        return
    patterns = [_compiled_pattern(pattern) for pattern in schema.get("patternProperties", {})]
    extras = [key for key in instance if key not in schema.get("properties", {})
              and not any(pattern.search(key) for pattern in patterns)]
    if validator.is_type(allowed, "object"):
        for extra in extras:
            yield from validator.descend(instance[extra], allowed, path=extra)
    elif not allowed and extras:
        listed = ", ".join(repr(key) for key in sorted(extras))
        if patterns:
            regexes = ", ".join(repr(each) for each in sorted(schema["patternProperties"]))
            yield ValidationError(f"{listed} {'does' if len(extras) == 1 else 'do'} not "
                                  f"match any of the regexes: {regexes}")
        else:
            yield ValidationError(f"Additional properties are not allowed ({listed} "
                                  f"{'was' if len(extras) == 1 else 'were'} unexpected)")


def _with_ecma_pattern(validator_class: Any) -> Any:
    """The draft's validator class with every regex (`pattern`, `patternProperties` and the
    `additionalProperties` they decide) read as JSON Schema means it: `$` ends the text."""
    return extend(validator_class, {"pattern": _pattern_keyword,
                                    "patternProperties": _pattern_properties_keyword,
                                    "additionalProperties": _additional_properties_keyword})


def check_schema_matches_run(task_name: str, validator: ParamsValidator,
                             spec: ParamSpec) -> None:
    """Raise `TaskDefinitionError` when the schema describes params `run()` cannot take."""
    if spec.takes_any:
        return
    for name in validator.properties():
        if name not in spec.names:
            takes = ", ".join(spec.names) if spec.names else "no parameters"
            raise TaskDefinitionError(
                f"schema property {name!r} is not a parameter of run() (it takes: {takes})",
                where=f"task {task_name!r}")


def check_params_object(params: Any) -> dict[str, Any]:
    """Params are passed by name, so they must be a JSON object. Raises `InvalidParamsError`."""
    if not isinstance(params, Mapping):
        raise InvalidParamsError(f"params must be a JSON object, got {json_type_name(params)}",
                                 where="$")
    for key in params:
        if not isinstance(key, str):
            raise InvalidParamsError(f"param names must be strings, got {key!r}", where="$")
    return dict(params)
