"""The product's modules import each other without a cycle, so any module can be imported first (a cycle
works only in the order the application happens to import things, and breaks a script, a worker or a test
that starts elsewhere). Read from the source: each module's top-level imports, plus the packages those
imports initialise (importing ``models.complaints.bodies`` runs ``models/complaints/__init__.py`` first,
unless the importer is inside that package and so already under way)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("models", "notifications", "api", "web", "flows", "cli")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" not in path.parts:
                found[_module_name(path)] = path
    return found


def _top_level_imports(path: Path, name: str, is_package: bool) -> set[str]:
    """The modules ``name`` imports when it is imported: its module-level import statements (not those in
    functions, nor under ``if TYPE_CHECKING``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if is_package else name.rpartition(".")[0]
    imported: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            imported.add(base)
            # ``from package import module`` imports the submodule.
            imported.update(f"{base}.{alias.name}" for alias in node.names)
    return imported


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        edges = set()
        for target in _top_level_imports(path, name, path.name == "__init__.py"):
            parts = target.split(".")
            for end in range(1, len(parts) + 1):
                step = ".".join(parts[:end])
                # A package the importer is inside of is already being imported: no edge to it.
                if step in modules and step != name and not name.startswith(step + "."):
                    edges.add(step)
        graph[name] = edges
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_product_modules_import_each_other_without_a_cycle() -> None:
    graph = _graph()
    assert "models.complaints.queue" in graph  # the walk found the modules
    assert "models.tasks" in graph["models.complaints.queue"]
    assert _cycles(graph) == []


def test_the_cycle_check_sees_a_cycle_through_a_package_initialiser() -> None:
    # review_queue -> complaints.bodies runs complaints/__init__, which imports complaints.queue, which
    # imports review_queue: the shape of the cycle models/tasks.py removed.
    graph = {
        "models.pledges.review_queue": {"models.complaints"},
        "models.complaints": {"models.complaints.queue"},
        "models.complaints.queue": {"models.pledges.review_queue"},
        "models.tasks": set(),
    }
    assert _cycles(graph) == [["models.complaints", "models.complaints.queue", "models.pledges.review_queue"]]
