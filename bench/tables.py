"""The benchmark tables of the docs, written by `python -m bench` itself: one Markdown file
per benchmark in `bench/tables/`, with the commit and the machine it was measured on, so
that no figure in the docs is copied by hand."""

from __future__ import annotations

import datetime
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

TABLES = Path(__file__).with_name("tables")


def markdown_table(rows: Sequence[Mapping[str, Any]]) -> str:
    """`rows` as a Markdown table, a column per key (in the order they first appear)."""
    columns = list(dict.fromkeys(key for row in rows for key in row))
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(_cell(row.get(column, "")) for column in columns) + " |"
              for row in rows]
    return "\n".join(lines)


def _cell(value: Any) -> str:
    if isinstance(value, float):
        value = f"{value:,.3g}" if abs(value) < 100 else f"{value:,.0f}"
    elif isinstance(value, int) and not isinstance(value, bool):
        value = f"{value:,}"
    return str(value).replace("|", "\\|").replace("\n", " ")


def write_table(name: str, rows: Sequence[Mapping[str, Any]], context: Mapping[str, Any],
                seconds: float, directory: Path = TABLES) -> Path:
    """Write `bench/tables/NAME.md` for one benchmark's rows; its path."""
    directory.mkdir(exist_ok=True)
    today = datetime.date.today().isoformat()
    commit = context.get("commit") or "an unknown commit"
    text = (f"<!-- written by `python -m bench {name}`: run it again rather than edit -->\n"
            f"# `{name}`\n\n"
            f"Measured at commit `{commit}` on {today} (Python {context.get('python')}, "
            f"{context.get('machine')}, {context.get('cpus')} CPUs), in {seconds:.0f} s. "
            "A `+` after the commit means `deferred/` differed from it.\n\n"
            f"{markdown_table(rows)}\n")
    path = directory / f"{name}.md"
    path.write_text(text, encoding="utf-8")
    return path
