"""Imports flow one way: the core never imports http, store, mail, server or cli."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parents[2] / "deferred"
OUTER = ("http", "store", "mail")
ENTRY = ("server", "cli", "runserver", "console")


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path) -> set[str]:
    """Absolute names of every deferred module `path` imports, at any depth."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module_name(path).rsplit(".", 1)[0] if path.name != "__init__.py" else module_name(path)
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                prefix = ".".join(base)
                target = f"{prefix}.{node.module}" if node.module else prefix
            else:
                target = node.module or ""
            found.add(target)
            found.update(f"{target}.{alias.name}" for alias in node.names)
    return {name for name in found if name == "deferred" or name.startswith("deferred.")}


def layer(name: str) -> str:
    parts = name.split(".")
    if len(parts) == 1:
        return "api"
    if parts[1] in OUTER:
        return parts[1]
    if parts[1] in ENTRY:
        return "entry"
    return "core"


def modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def test_the_walk_finds_relative_imports():
    found = imported_modules(PACKAGE / "cli.py")
    assert "deferred.tasks" in found and "deferred.errors" in found


@pytest.mark.parametrize("path", modules(), ids=lambda path: module_name(path))
def test_no_import_points_back(path):
    source = layer(module_name(path))
    for target in imported_modules(path):
        if target == "deferred":
            bad = source != "api"
        else:
            target_layer = layer(target)
            if source == "core":
                bad = target_layer != "core"
            elif source in OUTER:
                bad = target_layer not in ("core", source)
            else:
                bad = False
        assert not bad, f"{module_name(path)} ({source}) imports {target}"
