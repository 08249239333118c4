"""The client's modules import one way: `client.py` (the facade) at the top,
the helpers below it, nothing importing back up; and no module imports
another's private (`_name`) members.

The graph is read from the source with `ast` and holds every import of a
package module: at module level, inside a function, and under
`if TYPE_CHECKING:` too (a helper's annotation names `protocol.Arrays`, not
a class of a module above)."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Iterator

import redis_numpy

PACKAGE = Path(redis_numpy.__file__).parent


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def imports(node: ast.AST) -> Iterator[ast.ImportFrom | ast.Import]:
    """Every import statement under `node`."""
    for child in ast.walk(node):
        if isinstance(child, (ast.Import, ast.ImportFrom)):
            yield child


def package_imports(name: str) -> Iterator[tuple[str, list[str]]]:
    """(module imported, the names taken from it) for each import of a package module by `name`."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in imports(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "redis_numpy":
                    yield alias.name, []
            continue
        if node.level:
            base = package.split(".")
            base = base[: len(base) - node.level + 1]
            target = ".".join(base + ([node.module] if node.module else []))
        elif node.module and node.module.split(".")[0] == "redis_numpy":
            target = node.module
        else:
            continue
        names = [alias.name for alias in node.names]
        submodules = [n for n in names if f"{target}.{n}" in MODULES]
        for n in submodules:  # `from . import wire`: the module wire
            yield f"{target}.{n}", []
        if len(submodules) < len(names):
            yield target, [n for n in names if n not in submodules]


def graph() -> dict[str, set[str]]:
    return {name: {target for target, _ in package_imports(name)} - {name} for name in MODULES}


def find_cycle(edges: dict[str, set[str]]) -> list[str]:
    """A cycle of `edges` as the modules along it, or [] when there is none."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = 1
        path.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt) :] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        state[node] = 2
        path.pop()
        return []

    for node in sorted(edges):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return []


def test_the_import_graph_has_no_cycle():
    edges = graph()
    assert edges["redis_numpy.client"] >= {"redis_numpy.streaming", "redis_numpy.commands"}  # the graph is read
    cycle = find_cycle(edges)
    assert not cycle, "import cycle: " + " -> ".join(cycle)


def test_the_cycle_finder_finds_a_function_level_import_back_up():
    edges = graph()
    edges["redis_numpy.chunked"].add("redis_numpy.client")  # what `download` once did to build a Numpy
    assert "redis_numpy.chunked" in find_cycle(edges)


def test_type_checking_imports_are_in_the_graph():
    assert "redis_numpy.commands" in graph()["redis_numpy.typed_faces"]  # imported under TYPE_CHECKING only


def test_no_module_imports_another_modules_private_names():
    taken = [
        f"{name} imports {target}.{n}"
        for name in MODULES
        for target, names in package_imports(name)
        for n in names
        if n.startswith("_") and not n.startswith("__")
    ]
    assert not taken
