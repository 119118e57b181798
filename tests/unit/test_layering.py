"""Imports flow one way: each room of the package imports only from the rooms below it.

The rooms, from the bottom up, are listed in ROOMS; the adapters (store, mail, http) stand side
by side and never import one another. A module outside every room, or an import cycle between
modules, fails too.
"""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parents[2] / "deferred"

# Bottom first. A module may import from its own room and from the rooms before it.
ROOMS = [
    ("foundations", ("deferred.errors", "deferred.jsontext", "deferred.formats",
                     "deferred.filenames", "deferred.background", "deferred.addresses",
                     "deferred.backoff", "deferred.patterns", "deferred.mediatypes",
                     "deferred.links", "deferred.group_commit")),
    ("access", ("deferred.access",)),
    ("values", ("deferred.result", "deferred.records", "deferred.config", "deferred.stats",
                "deferred.servers", "deferred.bulk")),
    ("scheduling", ("deferred.scheduling",)),
    ("seams", ("deferred.interfaces",)),
    ("tasks", ("deferred.tasks",)),
    ("runtime", ("deferred.runtime",)),
    ("adapters", ("deferred.store", "deferred.mail", "deferred.http")),
    ("wiring", ("deferred.server",)),
    ("entry", ("deferred.cli", "deferred.credentials")),
    ("api", ("deferred",)),
]
SIDE_BY_SIDE = "adapters"


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


MODULES = {module_name(path) for path in modules()}


def is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def imports(path: Path, *, at_load_only: bool = False) -> set[str]:
    """The deferred modules `path` imports. With `at_load_only`, only those imported when the
    module loads: not inside a function or an `if TYPE_CHECKING:` block."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if at_load_only and isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            return
        if at_load_only and isinstance(node, ast.If) and is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if node.module or not node.level:
                found.add(target)
            # `from . import pages` names modules of the package, not the package itself
            found.update(f"{target}.{alias.name}" for alias in node.names)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return {known_module(name) for name in found
            if name == "deferred" or name.startswith("deferred.")}


def known_module(name: str) -> str:
    """The module that `name` (a module, or a name in one) lives in."""
    while name not in MODULES:
        name = name.rsplit(".", 1)[0]
    return name


def room_of(name: str) -> tuple[int, str]:
    """The rank of the room of module `name`, and the part of the room it belongs to."""
    best = None
    for rank, (_, members) in enumerate(ROOMS):
        for member in members:
            if name == member or name.startswith(member + "."):
                if best is None or len(member) > len(best[1]):
                    best = (rank, member)
    assert best is not None, f"{name} is in no room of the layering"
    return best


def test_the_walk_finds_relative_imports():
    found = imports(PACKAGE / "cli" / "__init__.py")
    assert "deferred.tasks" in found and "deferred.errors" in found
    assert "deferred.tasks.context" in found


def test_the_walk_knows_what_loads_later():
    everything = imports(PACKAGE / "cli" / "runserver.py")
    at_load = imports(PACKAGE / "cli" / "runserver.py", at_load_only=True)
    assert "deferred.server" in everything and "deferred.server" not in at_load


def test_every_module_is_in_a_room():
    for name in MODULES:
        room_of(name)


@pytest.mark.parametrize("path", modules(), ids=module_name)
def test_no_import_points_back(path):
    source = module_name(path)
    rank, part = room_of(source)
    for target in imports(path):
        target_rank, target_part = room_of(target)
        assert target_rank <= rank, (
            f"{source} ({ROOMS[rank][0]}) imports {target} ({ROOMS[target_rank][0]}), a room above")
        if target_rank == rank and ROOMS[rank][0] == SIDE_BY_SIDE:
            assert target_part == part, f"{source} imports {target}: adapters stand side by side"


def test_no_import_cycle():
    graph = {module_name(path): imports(path, at_load_only=True) - {module_name(path)}
             for path in modules()}
    done: set[str] = set()

    def walk(name: str, trail: list[str]) -> None:
        if name in trail:
            cycle = trail[trail.index(name):] + [name]
            pytest.fail("import cycle: " + " -> ".join(cycle))
        if name in done:
            return
        for target in sorted(graph.get(name, ())):
            walk(target, trail + [name])
        done.add(name)

    for name in sorted(graph):
        walk(name, [])
