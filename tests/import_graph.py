"""The import graph of certify_tui, read from the source with `ast` (nothing is imported).

Every import counts, module-level and lazy ones inside functions alike; only imports under
`if TYPE_CHECKING:` are left out (they never run). Relative imports are resolved, and
`from certify_tui.x import y` counts as importing certify_tui.x.y when y is a submodule.

Run it as a script to print which unit imports which:
    .venv/bin/python tests/import_graph.py
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

PACKAGE = "certify_tui"
PACKAGE_DIR = Path(__file__).resolve().parent.parent / PACKAGE


@dataclass(frozen=True)
class Import:
    """One import statement: `source` (a module of ours) imports `target` (any module)."""

    source: str
    target: str
    path: Path
    line: int

    def where(self) -> str:
        return f"{self.path.relative_to(PACKAGE_DIR.parent)}:{self.line}"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE_DIR.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def all_modules() -> dict[str, Path]:
    return {module_name(path): path for path in sorted(PACKAGE_DIR.rglob("*.py"))}


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _runtime_imports(tree: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    """Import statements anywhere in the tree except the body of `if TYPE_CHECKING:`."""
    found: list[ast.Import | ast.ImportFrom] = []
    pending: list[ast.AST] = [tree]
    while pending:
        node = pending.pop()
        if isinstance(node, ast.Import | ast.ImportFrom):
            found.append(node)
        elif isinstance(node, ast.If) and _is_type_checking(node.test):
            pending.extend(node.orelse)
            continue
        pending.extend(ast.iter_child_nodes(node))
    return found


def _resolve_from(source: str, is_package: bool, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    # `from . import x` inside a module is relative to its package; inside __init__ to itself.
    base = source.split(".")
    drop = node.level - 1 if is_package else node.level
    base = base[: len(base) - drop]
    return ".".join(base + ([node.module] if node.module else []))


def imports_of(source: str, path: Path, modules: dict[str, Path]) -> list[Import]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    is_package = path.name == "__init__.py"
    result: list[Import] = []
    for node in _runtime_imports(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        else:
            base = _resolve_from(source, is_package, node)
            # `from pkg import sub` imports the submodule; `pkg` itself counts only for a name taken from it.
            # (A package's __init__ runs before any of its modules anyway, so that edge would say nothing.)
            submodules = [f"{base}.{alias.name}" for alias in node.names if f"{base}.{alias.name}" in modules]
            targets = submodules + ([base] if len(submodules) < len(node.names) else [])
        result.extend(Import(source, target, path, node.lineno) for target in targets)
    return result


def all_imports() -> list[Import]:
    modules = all_modules()
    found: list[Import] = []
    for name, path in modules.items():
        found.extend(imports_of(name, path, modules))
    return sorted(found, key=lambda imp: (imp.source, imp.line, imp.target))


def unit_of(module: str) -> str | None:
    """The unit a module of ours belongs to: `certify_tui.ca.order` -> "ca", `certify_tui.keys` -> "keys".

    None for modules outside the project and for the package root itself.
    """
    parts = module.split(".")
    if parts[0] != PACKAGE or len(parts) < 2:
        return None
    return parts[1]


def unit_edges(imports: list[Import]) -> dict[tuple[str, str], list[Import]]:
    """Imports between different units, grouped by (importing unit, imported unit)."""
    edges: dict[tuple[str, str], list[Import]] = {}
    for imp in imports:
        source, target = unit_of(imp.source), unit_of(imp.target)
        if source and target and source != target:
            edges.setdefault((source, target), []).append(imp)
    return edges


def find_cycles(edges: dict[tuple[str, str], list[Import]]) -> list[list[str]]:
    """Cycles as [a, b, ..., a]: for each edge inside a strongly connected group (Tarjan), the shortest
    cycle through it, so every import that takes part in some cycle is shown."""
    graph: dict[str, set[str]] = {}
    for source, target in edges:
        graph.setdefault(source, set()).add(target)
        graph.setdefault(target, set())
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    groups: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group: set[str] = set()
            while True:
                member = stack.pop()
                group.add(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(group)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    cycles: list[list[str]] = []
    for group in groups:
        for source in sorted(group):
            for target in sorted(graph[source] & group):
                cycle = [source] + _path_within(target, source, group, graph)
                turn = cycle.index(min(cycle[:-1]))  # one rotation per cycle, starting at its least member
                cycle = cycle[turn:-1] + cycle[:turn] + [cycle[turn]]
                if cycle not in cycles:
                    cycles.append(cycle)
    return cycles


def _path_within(start: str, end: str, group: set[str], graph: dict[str, set[str]]) -> list[str]:
    """A shortest path from `start` to `end` inside the group (a strongly connected group always has one)."""
    paths = {start: [start]}
    queue = [start]
    while queue:
        node = queue.pop(0)
        if node == end:
            return paths[node]
        for nxt in sorted(graph[node] & group):
            if nxt not in paths:
                paths[nxt] = paths[node] + [nxt]
                queue.append(nxt)
    raise AssertionError(f"no path from {start} to {end}")


def describe_cycle(cycle: list[str], edges: dict[tuple[str, str], list[Import]]) -> str:
    lines = [" -> ".join(cycle)]
    for source, target in zip(cycle, cycle[1:], strict=False):
        for imp in edges[(source, target)]:
            lines.append(f"    {imp.where()}: {imp.source} imports {imp.target}")
    return "\n".join(lines)


if __name__ == "__main__":
    for (source, target), found in sorted(unit_edges(all_imports()).items()):
        print(f"{source} -> {target}  ({found[0].where()}{' ...' if len(found) > 1 else ''})")
