"""The package's layers: imports go downwards only, with no cycle, and only the TUI imports Textual.

Run it alone with:
    .venv/bin/pytest -q tests/unit/test_layers.py
and print the whole unit graph (who imports whom, with a file and line for each) with:
    .venv/bin/python tests/import_graph.py

The graph is read from the source (tests/import_graph.py): lazy imports inside functions count, only
`if TYPE_CHECKING:` ones do not. A unit is a subpackage of certify_tui (lifecycle, renewal, ca, ...) or a
top-level module (errors, paths, ...).
"""

from __future__ import annotations

from pathlib import Path
from textwrap import dedent

import pytest
from import_graph import (
    Import,
    all_imports,
    all_modules,
    describe_cycle,
    find_cycles,
    imports_of,
    unit_edges,
    unit_of,
)

# Top to bottom: a unit may import units of its own layer or below, never above.
LAYERS: list[tuple[str, set[str]]] = [
    ("faces", {"__main__", "cli", "tui", "service"}),
    ("use cases", {"lifecycle"}),
    ("what the use cases run on", {"renewal", "cert_test", "plan"}),
    ("CA, challenges, deployment", {"ca", "challenges", "deploy"}),
    # Every other unit: the store and the base modules (errors, paths, certfiles, events, polling...).
    ("store and base modules", set()),
]


def layer_of(unit: str) -> int:
    return next((i for i, (_, units) in enumerate(LAYERS) if unit in units), len(LAYERS) - 1)


def test_no_cycle_between_units() -> None:
    edges = unit_edges(all_imports())
    cycles = [describe_cycle(cycle, edges) for cycle in find_cycles(edges)]
    if cycles:
        pytest.fail("import cycles between units:\n" + "\n".join(cycles), pytrace=False)


def test_no_cycle_between_modules() -> None:
    modules = all_modules()
    edges: dict[tuple[str, str], list[Import]] = {}
    for imp in all_imports():
        if imp.target in modules and imp.target != imp.source:
            edges.setdefault((imp.source, imp.target), []).append(imp)
    cycles = [describe_cycle(cycle, edges) for cycle in find_cycles(edges)]
    if cycles:
        pytest.fail("import cycles between modules:\n" + "\n".join(cycles), pytrace=False)


def test_imports_go_downwards() -> None:
    upwards = [
        f"{imp.where()}: {imp.source} ({LAYERS[layer_of(source)][0]}) imports {imp.target} "
        f"({LAYERS[layer_of(target)][0]})"
        for (source, target), found in sorted(unit_edges(all_imports()).items())
        if layer_of(source) > layer_of(target)
        for imp in found
    ]
    if upwards:
        pytest.fail("imports up the layers (pass the value in, or move the code down):\n" + "\n".join(upwards),
                    pytrace=False)


def test_only_the_tui_imports_textual() -> None:
    offending = [
        f"{imp.where()}: {imp.source} imports {imp.target}"
        for imp in all_imports()
        if imp.target.split(".")[0] == "textual" and unit_of(imp.source) != "tui"
    ]
    if offending:
        pytest.fail("Textual outside certify_tui/tui/:\n" + "\n".join(offending), pytrace=False)


def test_the_graph_counts_lazy_and_relative_imports_but_not_type_checking_ones(tmp_path: Path) -> None:
    """The checks above are only as good as the graph they read."""
    source = tmp_path / "mod.py"
    source.write_text(dedent("""\
        from typing import TYPE_CHECKING

        from . import sibling, CONSTANT
        from ..store import guard

        if TYPE_CHECKING:
            from certify_tui.lifecycle import Core

        def later():
            import textual.app
            from certify_tui.renewal import leases
        """), encoding="utf-8")
    modules = dict.fromkeys(["certify_tui.ca.sibling", "certify_tui.store.guard", "certify_tui.renewal.leases"],
                            source)
    found = {imp.target for imp in imports_of("certify_tui.ca.mod", source, modules)}
    assert found == {"typing", "certify_tui.ca.sibling", "certify_tui.ca", "certify_tui.store.guard",
                     "textual.app", "certify_tui.renewal.leases"}
