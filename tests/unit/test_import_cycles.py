"""No import cycles among the project's own modules.

The graph is read from the source with `ast`, nothing is imported: one node per module of the
project's packages (cradlepose, the API and trigger functions, the inference container, the
workstation's CLI, local stack and demo), one edge per import of another of them. Every import
statement counts, wherever it stands: at module level
(under `if TYPE_CHECKING:` and `try:` too) and inside functions, because an import deferred into a
function to dodge a cycle is still the cycle. An import names the deepest project module it
reaches (`from a.b import c` is an edge to `a.b.c` when that is a module, else to `a.b`); the
implicit import of a module's parent packages is not an edge, so a package `__init__` that gathers
its submodules is no cycle. A cycle is a strongly connected component of more than one module.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import ROOT

pytestmark = pytest.mark.unit

PACKAGES = {
    "cradlepose": ROOT / "layers" / "core" / "python" / "cradlepose",
    "api": ROOT / "functions" / "api",
    "triggers": ROOT / "functions" / "triggers",
    "cradle_inference": ROOT / "containers" / "inference" / "cradle_inference",
    "cradle_workstation": ROOT / "workstation" / "cradle_workstation",
}

Graph = dict[str, set[str]]


def _modules() -> dict[str, tuple[Path, bool]]:
    """Each module's dotted name → (its file, whether it is a package's __init__)."""
    modules: dict[str, tuple[Path, bool]] = {}
    for package, folder in PACKAGES.items():
        for path in sorted(folder.rglob("*.py")):
            parts = [package, *path.relative_to(folder).with_suffix("").parts]
            is_package = parts[-1] == "__init__"
            modules[".".join(parts[:-1] if is_package else parts)] = (path, is_package)
    return modules


def _imported_names(module: str, is_package: bool, tree: ast.Module) -> Iterator[str]:
    """The dotted names every import statement of the module reaches (candidates, not all modules)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".") if is_package else module.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                source = ".".join([*base, *([node.module] if node.module else [])])
            else:
                source = node.module or ""
            yield source
            yield from (f"{source}.{alias.name}" for alias in node.names)


def import_graph() -> Graph:
    modules = _modules()

    def deepest_module(name: str) -> str | None:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    graph: Graph = {}
    for module, (path, is_package) in modules.items():
        tree = ast.parse(path.read_text(), filename=str(path))
        targets = {deepest_module(name) for name in _imported_names(module, is_package, tree)}
        graph[module] = {t for t in targets if t is not None and t != module}
    return graph


def cycles(graph: Graph) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:  # recursion depth is at most the number of modules
        index[node] = low[node] = len(index)
        stack.append(node)
        for successor in sorted(graph[node]):
            if successor not in index:
                visit(successor)
                low[node] = min(low[node], low[successor])
            elif successor in stack:
                low[node] = min(low[node], index[successor])
        if low[node] == index[node]:
            component = stack[stack.index(node) :]
            del stack[stack.index(node) :]
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_cycle_finder_finds_a_cycle_and_only_a_cycle() -> None:
    # Given a graph with a cycle of three that leads into a chain, and a cycle of two
    graph: Graph = {
        "a": {"b"},
        "b": {"c"},
        "c": {"a", "d"},
        "d": {"e"},
        "e": set(),
        "x": {"y"},
        "y": {"x"},
    }
    # Then exactly the two cycles are found
    assert sorted(cycles(graph)) == [["a", "b", "c"], ["x", "y"]]


def test_the_graph_sees_module_and_function_level_imports() -> None:
    # Given the project's graph
    graph = import_graph()
    # Then it holds what the source imports at module level and inside functions
    assert "cradlepose.domain.errors" in graph["api.handler"]  # from cradlepose.domain.errors import …
    assert "api.problems" in graph["api.handler"]  # from api import problems
    assert "api.routers" in graph["api.resolver"]  # from api.routers import ALL
    assert "cradle_inference.jobs" in graph["cradle_workstation.devstack.local_jobs"]  # inside a function
    # and enough of it to mean something
    assert len(graph) > 200
    assert sum(map(len, graph.values())) > 800


def test_no_import_cycles_among_the_projects_modules() -> None:
    graph = import_graph()
    found = cycles(graph)
    described = [" ; ".join(f"{m} → {', '.join(sorted(graph[m] & set(c)))}" for m in c) for c in found]
    assert found == [], "import cycles:\n" + "\n".join(described)
