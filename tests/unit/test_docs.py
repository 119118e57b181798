"""The docs say what the code does: every configuration key, command line command and option,
and error code is documented; every relative link in the README, docs/ and bench/README.md
leads to a file and heading that exist; the README stays a short front page with a real
quickstart."""

from __future__ import annotations

import contextlib
import io
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import deferred
from deferred import cli, credentials, errors
from deferred.config import Config, config_schema
from deferred.errors import DeferredError, ErrorCode
from deferred.tasks.registry import RESERVED_NAMES, TaskRegistry

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DOCS = ROOT / "docs"
DOC_PAGES = ("tasks", "cli", "server", "http-api", "web-ui", "email", "security", "architecture",
             "configuration", "errors", "dependencies")
MARKDOWN_FILES = [README, *sorted(DOCS.glob("*.md")), ROOT / "bench" / "README.md"]


def read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def without_code(text: str) -> str:
    """The text without fenced code blocks (whose `# comments` are no headings)."""
    return re.sub(r"^```.*?^```[ \t]*$", "", text, flags=re.M | re.S)


# --- configuration --------------------------------------------------------------------------

def config_keys(schema: dict[str, Any] | None = None, prefix: str = "") -> Iterator[str]:
    """Every key of the configuration schema, dotted: `db.url`, `limits.names`,
    `auth.tokens`. Objects with their own properties are walked into; maps and arrays are
    keys themselves."""
    schema = config_schema() if schema is None else schema
    for name, sub in schema["properties"].items():
        key = f"{prefix}{name}"
        if sub.get("type") == "object" and "properties" in sub:
            yield from config_keys(sub, key + ".")
        else:
            yield key


def configuration_table() -> dict[str, str]:
    """docs/configuration.md's table: key -> default cell."""
    return {key: default.strip() for key, default in re.findall(
        r"^\| `([a-z_.]+)` \|([^|]*)\|", read(DOCS / "configuration.md"), re.M)}


def test_the_walk_sees_every_section_of_the_config():
    keys = list(config_keys())
    sections = {field.split(".")[0] for field in keys}
    assert sections == set(Config.__dataclass_fields__), sections
    assert {"http.max_body_bytes", "limits.names", "auth.tokens", "db.url"} <= set(keys)


@pytest.mark.parametrize("key", list(config_keys()))
def test_every_config_key_is_in_the_configuration_table(key):
    assert key in configuration_table(), f"docs/configuration.md has no row for `{key}`"


def test_the_configuration_table_has_no_key_the_config_lacks():
    assert set(configuration_table()) <= set(config_keys())


def _default_of(key: str) -> Any:
    value: Any = Config()
    for part in key.split("."):
        value = getattr(value, "global_limit" if part == "global" else part)
    return value


@pytest.mark.parametrize("key", list(config_keys()))
def test_a_documented_plain_default_is_the_code_default(key):
    """A default cell that is a number or one `literal` says what the dataclass holds; prose
    ("none", "by `smtp.security`", another key) is not checked."""
    cell = configuration_table().get(key)
    assert cell is not None, f"{key} has no row in docs/configuration.md"
    if re.fullmatch(r"-?\d+(\.\d+)?", cell):
        assert float(cell) == float(_default_of(key)), (key, cell)
    elif (literal := re.fullmatch(r"`([^`]+)`", cell)) and literal[1] not in set(config_keys()):
        assert literal[1] == str(_default_of(key)), (key, cell)


# --- command line ---------------------------------------------------------------------------

def _help(argv: list[str], registry: TaskRegistry) -> str:
    out = io.StringIO()
    status = cli.main(["help", *argv], registry, prog="my_tasks.py", stdout=out,
                      stderr=io.StringIO())
    assert status == 0, argv
    return out.getvalue()


def cli_commands() -> list[str]:
    """The commands of a tasks file with no tasks: what `help` lists under "tasks"."""
    text = _help([], TaskRegistry())
    section = text.split("\ntasks:\n", 1)[1]
    return re.findall(r"^    ([a-z][a-z_-]*)\s", section, re.M)


def _options(text: str) -> set[str]:
    return set(re.findall(r"(?<![\w-])--[a-z][a-z-]*", text)) - {"--help"}


def _names(option: str, text: str) -> bool:
    """Whether `text` names `option` itself (`--limit`, not only `--limit-global`)."""
    return re.search(rf"(?<![\w-]){re.escape(option)}(?![\w-])", text) is not None


def _probe_registry() -> TaskRegistry:
    registry = TaskRegistry()

    @deferred.task(name="probe", registry=registry)
    def probe():
        """A task, for its options."""

    return registry


CLI_DOC = DOCS / "cli.md"


def test_the_commands_are_the_reserved_names():
    assert cli_commands() and set(cli_commands()) == RESERVED_NAMES


@pytest.mark.parametrize("command", cli_commands())
def test_every_command_is_in_the_cli_docs(command):
    text = read(CLI_DOC)
    assert re.search(rf"my_tasks\.py {command}\b|`{command}`", text), command


@pytest.mark.parametrize("command", [None, "probe", *cli_commands()])
def test_every_option_of_every_command_is_in_the_cli_docs(command):
    registry = _probe_registry()
    text = _help([] if command is None else [command], registry)
    missing = sorted(option for option in _options(text) if not _names(option, read(CLI_DOC)))
    assert not missing, f"docs/cli.md does not name {missing} (of {command or 'the top level'})"


def test_the_credentials_tool_is_in_the_cli_docs(capsys):
    with pytest.raises(SystemExit), contextlib.redirect_stderr(io.StringIO()):
        credentials.main(["--help"])
    text = capsys.readouterr().out
    kinds = re.search(r"\{([a-z,]+)\}", text.split("positional arguments:", 1)[1])[1]
    doc = read(CLI_DOC)
    for kind in kinds.split(","):
        assert f"python -m deferred.credentials {kind}" in doc, kind
    assert _options(text) and all(_names(option, doc) for option in _options(text))


# --- error codes ----------------------------------------------------------------------------

ERRORS_DOC = DOCS / "errors.md"


@pytest.mark.parametrize("code", list(ErrorCode), ids=lambda code: code.name)
def test_every_error_code_is_in_the_error_table(code):
    assert re.search(rf"^\| {int(code)} \| {code.name} \| \S", read(ERRORS_DOC), re.M), code


def _families() -> list[type[DeferredError]]:
    """The families and the errors that stand alone: the direct subclasses of DeferredError,
    and the classes whose docstring says they are a family."""
    classes = [value for value in vars(errors).values()
               if isinstance(value, type) and issubclass(value, DeferredError)]
    return [cls for cls in classes if cls is not DeferredError and (
        DeferredError in cls.__bases__ or (cls.__doc__ or "").startswith("Family:"))]


@pytest.mark.parametrize("cls", _families(), ids=lambda cls: cls.__name__)
def test_every_error_family_is_named_in_the_error_docs(cls):
    assert f"`{cls.__name__}`" in read(ERRORS_DOC), cls.__name__


# --- links ----------------------------------------------------------------------------------

def github_slugs(markdown: str) -> set[str]:
    """The anchors GitHub makes for the headings: lower case, punctuation dropped, spaces
    as hyphens, `-1`, `-2` for repeats."""
    slugs: set[str] = set()
    counts: dict[str, int] = {}
    for heading in re.findall(r"^#{1,6}[ \t]+(.+?)[ \t#]*$", without_code(markdown), re.M):
        text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link: its text
        slug = re.sub(r"[^\w\- ]", "", text.lower().replace("`", "")).replace(" ", "-")
        seen = counts.get(slug, 0)
        counts[slug] = seen + 1
        slugs.add(slug if seen == 0 else f"{slug}-{seen}")
    return slugs


def test_slugs_as_github_makes_them():
    assert github_slugs("# A, b `c`\n## Later, first, once\n```\n# not\n```\n## x\n## x\n") == {
        "a-b-c", "later-first-once", "x", "x-1"}


def relative_links(path: Path) -> list[str]:
    text = re.sub(r"`[^`\n]*`", "", without_code(read(path)))  # links in code are examples
    targets = re.findall(r"\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)", text)
    return [target for target in targets if not re.match(r"[a-z][a-z0-9+.-]*:", target)]


LINKS = [(path, target) for path in MARKDOWN_FILES for target in relative_links(path)]


def test_the_documents_have_links():
    assert len(LINKS) > 50


@pytest.mark.parametrize("path, target", LINKS,
                         ids=[f"{path.relative_to(ROOT)}->{target}" for path, target in LINKS])
def test_every_relative_link_leads_somewhere(path, target):
    file_part, _, anchor = target.partition("#")
    linked = (path.parent / file_part).resolve() if file_part else path
    assert linked.exists(), f"{path.relative_to(ROOT)}: {target}: no such file"
    if anchor:
        assert linked.suffix == ".md", target
        assert anchor in github_slugs(read(linked)), (
            f"{path.relative_to(ROOT)}: {target}: no such heading in {linked.name}")


# --- the README -----------------------------------------------------------------------------

def readme_section(heading: str) -> str:
    text = read(README)
    assert f"\n## {heading}\n" in text, f"the README has no '## {heading}'"
    return text.split(f"\n## {heading}\n", 1)[1].split("\n## ", 1)[0]


def test_the_readme_is_short():
    assert README.stat().st_size <= 8_500


def test_the_readme_has_a_quickstart_with_shell_and_python():
    section = readme_section("Quickstart")
    fences = re.findall(r"^```(\w*)$", section, re.M)
    assert set(fences) & {"sh", "bash", "console"}, fences
    assert "python" in fences, fences
    for step in ("./start.sh", "curl", "http://localhost:5000", "run_cli()", "--params"):
        assert step in section, step


def test_the_readme_says_how_to_install_and_warns_about_the_index():
    section = readme_section("Install in your own project")
    assert "pip install -e" in section and "git+" in section
    assert "`pip install deferred`" in section


def test_the_readme_has_the_two_commands():
    section = readme_section("The two commands")
    assert "./start.sh" in section and "./test.sh" in section


def test_the_readme_links_every_docs_page():
    linked = {target.partition("#")[0] for target in relative_links(README)}
    pages = {f"docs/{name}.md" for name in DOC_PAGES} | {"bench/README.md"}
    pages |= {f"docs/{path.name}" for path in DOCS.glob("*.md")}
    assert pages <= linked, sorted(pages - linked)
    assert all((DOCS / f"{name}.md").exists() for name in DOC_PAGES)
