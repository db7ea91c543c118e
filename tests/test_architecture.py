"""The layers of docs/architecture.md hold: import-linter checks the contracts in .importlinter,
and no two modules import each other, however indirectly."""

from __future__ import annotations

from pathlib import Path

import grimp
import pytest
from importlinter.cli import lint_imports

ROOT = Path(__file__).resolve().parent.parent


def import_cycles(package: str) -> list[list[str]]:
    """Every set of modules of ``package`` that import each other (strongly connected, > 1)."""
    graph = grimp.build_graph(package)
    edges = {m: sorted(graph.find_modules_directly_imported_by(m) & graph.modules)
             for m in graph.modules}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(module: str) -> None:  # Tarjan; the package is small enough for recursion
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for imported in edges[module]:
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in on_stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == module:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for module in sorted(graph.modules):
        if module not in index:
            visit(module)
    return cycles


@pytest.mark.parametrize("package", ["movekit", "kubesim"])
def test_no_module_imports_itself_through_others(package: str) -> None:
    assert import_cycles(package) == []


def test_the_declared_layers_hold() -> None:
    # import-linter prints each broken contract and the import that breaks it.
    assert lint_imports(config_filename=str(ROOT / ".importlinter"), no_cache=True) == 0
