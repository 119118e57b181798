"""How the UI describes a task type: its docstring with `code` spans, and its params in
short, from its schema or, without one, from what its `run()` takes. Pure functions, no
HTML: the templates escape every part these return."""

from __future__ import annotations

import dataclasses
import re

from ...interfaces import RunParams, TaskType
from .pages import ParamSummary, schema_summary

# A run of backticks opens a code span that the next run of the same length closes
# (CommonMark's rule); a run that no run of its length closes is plain text.
_CODE_SPAN = re.compile(r"(?<!`)(`+)(?!`)(.+?)(?<!`)\1(?!`)", re.DOTALL)
_LINE_BREAKS = re.compile(r"\r\n|[\r\n]")


@dataclasses.dataclass(frozen=True)
class TextPart:
    """A piece of a description: plain text, or the text of a `code` span."""

    text: str
    is_code: bool = False


def text_parts(text: str) -> list[TextPart]:
    """The description split into plain text and code spans, in order: "run `mult` now"
    gives "run ", code "mult", " now". Markdown's other marks stay as they are."""
    parts: list[TextPart] = []
    position = 0
    for match in _CODE_SPAN.finditer(text):
        if match.start() > position:
            parts.append(TextPart(text[position:match.start()]))
        parts.append(TextPart(_code_text(match.group(2)), is_code=True))
        position = match.end()
    if position < len(text):
        parts.append(TextPart(text[position:]))
    return parts


def _code_text(inside: str) -> str:
    """A code span's content as CommonMark reads it: line breaks as spaces, and one space
    taken off each end when both ends have one (so `` `a` `` can show backticks)."""
    code = _LINE_BREAKS.sub(" ", inside)
    if len(code) > 2 and code[0] == code[-1] == " " and code.strip():
        code = code[1:-1]
    return code


@dataclasses.dataclass(frozen=True)
class ParamsInShort:
    """A task type's params in short: each named param, and a note for what the names do
    not say ("takes no params", "any JSON object", "and any other params", "none")."""

    params: tuple[ParamSummary, ...]
    note: str = ""


def params_in_short(task_type: TaskType) -> ParamsInShort:
    """From the schema's top-level properties when the task has a schema; else from the
    names its `run()` takes (of any type), saying when it takes none or any."""
    if task_type.json_schema is not None:
        summary = tuple(schema_summary(task_type.json_schema))
        return ParamsInShort(summary, "" if summary else "none")
    return run_params_in_short(task_type.run_params)


def run_params_in_short(run_params: RunParams) -> ParamsInShort:
    """What a task without a schema takes, from its `run()`'s signature."""
    if run_params.takes_none:
        return ParamsInShort((), "takes no params")
    params = tuple(ParamSummary(name, "any", name in run_params.required)
                   for name in run_params.names)
    if not run_params.takes_any:
        return ParamsInShort(params)
    return ParamsInShort(params, "and any other params" if params else "any JSON object")


def run_params_text(run_params: RunParams) -> str:
    """A sentence's end saying what `run()` takes: "takes no params", "takes msg (required)
    and count", "takes any params", "takes msg (required) and any other params"."""
    if run_params.takes_none:
        return "takes no params"
    names = [f"{name} (required)" if name in run_params.required else name
             for name in run_params.names]
    if run_params.takes_any:
        names.append("any other params" if names else "any params")
    return "takes " + (", ".join(names[:-1]) + " and " + names[-1] if len(names) > 1
                       else names[0])
