"""What commands show people: summaries, plans, trees and graphs. Formatting only."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.tree import Tree

from movekit.bundle import Bundle, ObjectEntry
from movekit.export import ExportResult
from movekit.importer import ImportResult
from movekit.journal import Journal
from movekit.move import RetireResult
from movekit.refs import ObjectRef

Say = Callable[[str], None]


def _kind_counts(refs: Iterable[ObjectRef]) -> Table:
    table = Table("kind", "objects", box=None, pad_edge=False)
    for kind, count in sorted(Counter(str(r.group_kind) for r in refs).items()):
        table.add_row(kind, str(count))
    return table


def export_summary(out: Console, result: ExportResult, *, dry_run: bool) -> None:
    graph = result.graph
    verb = "would export" if dry_run else "exported"
    waves = graph.waves()
    out.print(f"{verb} {len(graph.moved)} objects in {len(waves)} waves")
    out.print(_kind_counts(graph.moved))
    if dry_run and result.to_pause:
        out.print(f"would pause: {', '.join(str(r) for r in result.to_pause)}")
    excluded = result.excluded
    if excluded:
        out.print(f"[yellow]{len(excluded)} object(s) not exported:[/yellow]")
        for e in excluded:
            out.print(f"  {e.ref}: {e.reason}: {e.detail}", markup=False)
    if result.left_paused:
        out.print("left paused in the source: " + ", ".join(str(r) for r in result.left_paused))
    if result.manifest is not None:
        out.print(f"bundle digest: {result.manifest.digest}")


def import_summary(out: Console, result: ImportResult, *, dry_run: bool) -> None:
    plan = result.plan
    if dry_run:
        table = Table("wave", "action", "object", "detail", box=None, pad_edge=False)
        for step in plan.steps:
            table.add_row(str(step.wave), step.action.value, str(step.target), step.detail)
        out.print(table)
        for ns in plan.namespaces_to_create:
            out.print(f"namespace {ns}: create")
        counts = plan.counts()
        out.print("plan: " + ", ".join(f"{n} {a}" for a, n in sorted(counts.items())))
        return
    outcome = result.outcome
    assert outcome is not None
    table = Table("kind", "created", "adopted", "updated", "skipped", box=None, pad_edge=False)
    kinds = sorted({kind for kind, _ in outcome.counts})
    for kind in kinds:
        table.add_row(kind, *(str(outcome.counts[(kind, a)])
                              for a in ("created", "adopted", "updated", "skipped")))
    out.print(table)
    out.print(f"imported {len(outcome.done)} objects from bundle {result.bundle.digest}; "
              f"resumed {len(outcome.resumed)} Cluster(s)/ClusterClass(es)")


def import_json(result: ImportResult) -> dict[str, Any]:
    plan = result.plan
    doc: dict[str, Any] = {
        "bundle": result.bundle.digest,
        "plan": [
            {"wave": s.wave, "action": s.action.value, "apiVersion": s.entry.api_version,
             "kind": s.target.kind, "namespace": s.target.namespace, "name": s.target.name}
            for s in plan.steps
        ],
        "namespacesToCreate": plan.namespaces_to_create,
        "warnings": plan.warnings,
    }
    if result.outcome is not None:
        per_kind: dict[str, dict[str, int]] = defaultdict(dict)
        for (kind, action), count in sorted(result.outcome.counts.items()):
            per_kind[kind][action] = count
        doc["summary"] = per_kind
        doc["resumed"] = [str(r) for r in result.outcome.resumed]
    return doc


# -- inspect ------------------------------------------------------------------------------------


def _children(entries: Iterable[ObjectEntry]) -> tuple[dict[ObjectRef, list[ObjectRef]],
                                                       list[ObjectRef]]:
    children: dict[ObjectRef, list[ObjectRef]] = defaultdict(list)
    roots = []
    for entry in sorted(entries, key=lambda e: (e.wave, e.ref)):
        parents = [o.ref for o in entry.owners] + list(entry.soft_owners)
        if not parents:
            roots.append(entry.ref)
        for parent in parents:
            children[parent].append(entry.ref)
    return children, roots


def inspect_tree(out: Console, bundle: Bundle) -> None:
    manifest = bundle.manifest
    entries = bundle.entries
    waves = max((e.wave for e in entries), default=-1) + 1
    out.print(f"bundle {bundle.digest}")
    out.print(f"from {manifest['source']['server']} at {manifest.get('createdAt', '?')}: "
              f"{len(entries)} objects in {waves} waves")
    out.print(_kind_counts(e.ref for e in entries))
    children, roots = _children(entries)
    tree = Tree("objects (owners -> dependents)")

    def add(branch: Tree, ref: ObjectRef, path: frozenset[ObjectRef]) -> None:
        node = branch.add(str(ref))
        for child in children.get(ref, []):
            if child not in path:
                add(node, child, path | {child})

    for root in roots:
        add(tree, root, frozenset({root}))
    out.print(tree)
    excluded = manifest.get("excluded") or []
    if excluded:
        out.print(f"{len(excluded)} object(s) left out:")
        for e in excluded:
            where = f"{e['namespace']}/" if e.get("namespace") else ""
            out.print(f"  {e['kind']}/{where}{e['name']}: {e['reason']}: {e['detail']}",
                      markup=False)


def inspect_json(out: Console, bundle: Bundle) -> None:
    out.print_json(json.dumps(bundle.manifest))


def _edges(bundle: Bundle) -> list[tuple[ObjectRef, ObjectRef, bool]]:
    edges = []
    for entry in bundle.entries:
        edges += [(o.ref, entry.ref, False) for o in entry.owners]
        edges += [(s, entry.ref, True) for s in entry.soft_owners]
    return sorted(edges)


def inspect_dot(out: Console, bundle: Bundle) -> None:
    lines = ["digraph bundle {", "  rankdir=LR;"]
    for entry in sorted(bundle.entries, key=lambda e: e.ref):
        lines.append(f'  "{entry.ref}" [label="{entry.ref.kind}\\n{entry.ref.name}"];')
    for owner, dependent, soft in _edges(bundle):
        style = " [style=dashed]" if soft else ""
        lines.append(f'  "{owner}" -> "{dependent}"{style};')
    lines.append("}")
    out.print("\n".join(lines), markup=False)


def inspect_mermaid(out: Console, bundle: Bundle) -> None:
    ids = {e.ref: f"n{i}" for i, e in enumerate(sorted(bundle.entries, key=lambda e: e.ref))}
    lines = ["graph LR"]
    for ref, node_id in ids.items():
        lines.append(f'  {node_id}["{ref.kind} {ref.name}"]')
    for owner, dependent, soft in _edges(bundle):
        if owner in ids and dependent in ids:
            arrow = "-.->" if soft else "-->"
            lines.append(f"  {ids[owner]} {arrow} {ids[dependent]}")
    out.print("\n".join(lines), markup=False)


def move_summary(out: Console, journal: Journal, retired: RetireResult | None) -> None:
    out.print(f"move {journal.phase}: journal {journal.path}")
    if journal.bundle_digest:
        out.print(f"bundle {journal.bundle_path} ({journal.bundle_digest})")
    if retired is not None:
        out.print(f"source: deleted {len(retired.deleted)}, already gone "
                  f"{len(retired.already_gone)}, kept {len(retired.kept)} (global or shared), "
                  f"left alone {len(retired.recreated)} (recreated since the export)")
