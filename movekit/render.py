"""What commands show people: summaries, plans, trees and graphs. Formatting only."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import yaml
from rich.console import Console
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from movekit.bundle import Bundle, ObjectEntry
from movekit.bundle.encryption import describe
from movekit.contract import CLUSTER
from movekit.export import ExportResult
from movekit.graph import Graph, Node
from movekit.importer import ImportResult
from movekit.journal import Journal
from movekit.mover import KEPT_GLOBAL, KEPT_SHARED, RetireResult, SourceResumed
from movekit.plan import Action
from movekit.refs import ObjectRef


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
    if dry_run:
        out.print(object_tree("objects (owners -> dependents)", graph_nodes(graph)))
    if dry_run and result.to_pause:
        out.print(f"would pause: {', '.join(str(r) for r in result.to_pause)}")
    excluded = result.excluded
    if excluded:
        reasons = Counter(e.reason for e in excluded)
        out.print(f"[yellow]{len(excluded)} object(s) not exported[/yellow] ("
                  + ", ".join(f"{n} {reason}" for reason, n in sorted(reasons.items())) + "):")
        for e in excluded:
            out.print(f"  {e.ref}: {e.reason}: {e.detail}", markup=False)
    if result.left_paused:
        out.print("left paused in the source: " + ", ".join(str(r) for r in result.left_paused))
    if result.manifest is not None and result.manifest.encryption:
        out.print(f"{describe(result.manifest.encryption)} (the digest differs on every "
                  "encrypted export)", markup=False)
    if result.manifest is not None:
        out.print(f"bundle digest: {result.manifest.digest}")


def import_summary(out: Console, result: ImportResult, *, dry_run: bool) -> None:
    plan = result.plan
    if dry_run:
        notes = {s.entry.ref: f"-> {s.action.value} (wave {s.wave})"
                 + (f": {s.detail}" if s.detail else "") for s in plan.steps}
        out.print(object_tree(f"plan for {result.bundle.digest}",
                              _entry_nodes((s.entry for s in plan.steps), notes)))
        for ns in plan.namespaces_to_create:
            out.print(f"namespace {ns}: create")
        counts = plan.counts()
        out.print("plan: " + ", ".join(f"{n} {a}" for a, n in sorted(counts.items())))
        _skipped_lines(out, "would skip", _skipped(result))
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
    _skipped_lines(out, "skipped", _skipped(result))


def _skipped(result: ImportResult) -> dict[ObjectRef, str]:
    """What the import left as the target has it, and why: done, or planned in a dry run."""
    if result.outcome is not None:
        return dict(sorted(result.outcome.skipped.items()))
    return {s.target: s.detail for s in sorted(result.plan.steps, key=lambda s: s.target)
            if s.action is Action.SKIP}


def _skipped_lines(out: Console, verb: str, skipped: Mapping[ObjectRef, str]) -> None:
    if skipped:
        out.print(f"{verb} {len(skipped)} object(s):")
        for ref, why in skipped.items():
            out.print(f"  {ref}: {why}", markup=False)


def import_json(result: ImportResult) -> dict[str, Any]:
    plan = result.plan
    summary: dict[str, dict[str, int]] = defaultdict(dict)
    resumed: list[dict[str, str]] = []
    if result.outcome is not None:
        for (kind, action), count in sorted(result.outcome.counts.items()):
            summary[kind][action] = count
        resumed = [ref_json(r) for r in result.outcome.resumed]
    return _document(
        "ImportResult",
        dryRun=result.outcome is None,
        bundle=result.bundle.digest,
        plan=[{"wave": s.wave, "action": s.action.value, "apiVersion": s.entry.api_version,
               **ref_json(s.target), **({"reason": s.detail} if s.detail else {})}
              for s in plan.steps],
        namespacesToCreate=plan.namespaces_to_create,
        warnings=plan.warnings,
        summary=dict(summary),
        resumed=resumed,
        skipped=[{**ref_json(ref), "reason": why} for ref, why in _skipped(result).items()],
    )


# -- inspect ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TreeNode:
    """One object of a tree: its parents (owners and soft owners) and what to say about it."""

    ref: ObjectRef
    parents: tuple[ObjectRef, ...]
    note: str = ""


def object_tree(title: str, nodes: Iterable[TreeNode]) -> Tree:
    """Owners -> dependents, one tree per Cluster (and per shared root such as a ClusterClass).

    A Cluster is drawn as a root even though it depends on its ClusterClass, so that each
    workload cluster reads as one tree; an object with several owners is drawn in full under
    the first and referred to under the others.
    """
    listed = list(nodes)
    children: dict[ObjectRef, list[TreeNode]] = defaultdict(list)
    roots = []
    for node in listed:
        parents = () if node.ref.group_kind == CLUSTER else node.parents
        if not parents:
            roots.append(node)
        for parent in parents:
            children[parent].append(node)
    tree = Tree(title)
    drawn: set[ObjectRef] = set()

    def add(branch: Tree, node: TreeNode, parent_namespace: str | None) -> None:
        label = f"{node.ref.kind}/{node.ref.name}"
        if node.ref.namespace != parent_namespace:
            label += f" in {node.ref.namespace}" if node.ref.namespace else " (cluster-scoped)"
        if node.ref in drawn:
            branch.add(Text(f"{label} (shown above)", style="dim"))
            return
        drawn.add(node.ref)
        sub = branch.add(Text(label + (f"  {node.note}" if node.note else "")))
        for child in children.get(node.ref, []):
            add(sub, child, node.ref.namespace)

    clusters_first = sorted(roots, key=lambda n: (n.ref.group_kind != CLUSTER, n.ref))
    for root in clusters_first:
        add(tree, root, None)
    return tree


def _entry_nodes(entries: Iterable[ObjectEntry], notes: Mapping[ObjectRef, str] | None = None
                 ) -> list[TreeNode]:
    return [TreeNode(e.ref, tuple(o.ref for o in e.owners) + tuple(e.soft_owners),
                     (notes or {}).get(e.ref, ""))
            for e in sorted(entries, key=lambda e: (e.wave, e.ref))]


def graph_nodes(graph: Graph) -> list[TreeNode]:
    return [TreeNode(ref, tuple(o.ref for o in graph.nodes[ref].owners)
                     + graph.nodes[ref].soft_owners, _flags(graph.nodes[ref]))
            for ref in graph.moved]


def _flags(node: Node) -> str:
    flags = [name for name, on in (("global", node.is_global),
                                   ("kept in source", node.keep_in_source and not node.is_global),
                                   ("paused", bool(node.paused))) if on]
    return f"({', '.join(flags)})" if flags else ""


def inspect_tree(out: Console, bundle: Bundle) -> None:
    entries = bundle.entries
    waves = max((e.wave for e in entries), default=-1) + 1
    out.print(f"bundle {bundle.digest}")
    out.print(f"from {bundle.source.server} at {bundle.parsed_manifest.created_at}: "
              f"{len(entries)} objects in {waves} waves")
    if bundle.parsed_manifest.encryption:
        out.print(describe(bundle.parsed_manifest.encryption), markup=False)
    out.print(_kind_counts(e.ref for e in entries))
    out.print(object_tree("objects (owners -> dependents)", _entry_nodes(entries)))
    excluded = bundle.excluded
    if excluded:
        out.print(f"{len(excluded)} object(s) left out:")
        for e in excluded:
            where = f"{e.ref.namespace}/" if e.ref.namespace else ""
            out.print(f"  {e.ref.kind}/{where}{e.ref.name}: {e.reason}: {e.detail}",
                      markup=False)


def inspect_json(out: Console, bundle: Bundle) -> None:
    out.print_json(json.dumps(bundle.manifest))


def inspect_yaml(out: Console, bundle: Bundle) -> None:
    out.print(yaml.safe_dump(bundle.manifest, sort_keys=False), markup=False, end="")


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


# -- machine-readable documents (shapes in schemas/output-*.v1.json) -----------------------------

OUTPUT_API_VERSION = "movekit.io/v1"


def ref_json(ref: ObjectRef) -> dict[str, str]:
    return {"group": ref.group, "kind": ref.kind, "namespace": ref.namespace, "name": ref.name}


def _document(kind: str, **fields: Any) -> dict[str, Any]:
    return {"apiVersion": OUTPUT_API_VERSION, "kind": kind, **fields}


def export_json(result: ExportResult, *, dry_run: bool) -> dict[str, Any]:
    graph = result.graph
    manifest = result.manifest
    return _document(
        "ExportResult",
        dryRun=dry_run,
        objects=len(graph.moved),
        waves=len(graph.waves()),
        kinds=dict(sorted(Counter(str(r.group_kind) for r in graph.moved).items())),
        excluded=[{**ref_json(e.ref), "apiVersion": e.api_version, "reason": str(e.reason),
                   "detail": e.detail} for e in result.excluded],
        paused=[ref_json(r) for r in result.to_pause],
        leftPaused=[ref_json(r) for r in result.left_paused],
        digest=manifest.digest if manifest is not None else None,
        warnings=list(result.warnings),
    )


def verify_json(path: str, bundle: Bundle) -> dict[str, Any]:
    encryption = bundle.parsed_manifest.encryption
    return _document("VerifyResult", path=path, formatVersion=bundle.format_version,
                     objects=len(bundle.entries), digest=bundle.digest,
                     encryption={"scheme": encryption["scheme"],
                                 "recipients": list(encryption["recipients"]),
                                 "passphrase": encryption["passphrase"]} if encryption else None)


def retire_summary(out: Console, result: RetireResult) -> None:
    if result.dry_run:
        for verb, refs in (("would delete", result.deleted),
                           ("already gone", result.already_gone),
                           ("would leave alone (recreated since the export)", result.recreated)):
            for ref in refs:
                out.print(f"{verb}: {ref}", markup=False)
        for ref in result.kept:
            out.print(f"would keep: {ref} ({result.why_kept.get(ref, 'kept')})", markup=False)
        out.print(f"dry run: would delete {len(result.deleted)}, already gone "
                  f"{len(result.already_gone)}, kept {len(result.kept)}, left alone "
                  f"{len(result.recreated)}; nothing was changed")
        return
    out.print(f"deleted {len(result.deleted)}, already gone {len(result.already_gone)}, "
              f"kept {len(result.kept)} (global or shared), left alone {len(result.recreated)} "
              "(recreated since the export)")
    for ref, why in sorted(result.why_kept.items()):
        if why not in (KEPT_GLOBAL, KEPT_SHARED):
            out.print(f"kept {ref}: {why}", markup=False)


def retire_json(result: RetireResult) -> dict[str, Any]:
    return _document(
        "RetireResult",
        dryRun=result.dry_run,
        deleted=[ref_json(r) for r in result.deleted],
        alreadyGone=[ref_json(r) for r in result.already_gone],
        recreated=[ref_json(r) for r in result.recreated],
        kept=[{**ref_json(r), "reason": result.why_kept.get(r, "")} for r in result.kept],
    )


def move_json(journal: Journal | None, retired: RetireResult | None,
              preview: ExportResult | None = None) -> dict[str, Any]:
    return _document(
        "MoveResult",
        dryRun=journal is None,
        phase=str(journal.phase) if journal else None,
        journal=str(journal.path) if journal else None,
        bundle={"path": journal.bundle_path, "digest": journal.bundle_digest} if journal else None,
        objects=len(preview.graph.moved) if preview is not None else None,
        retired=retire_json(result=retired) if retired is not None else None,
    )


def resumed_summary(out: Console, result: SourceResumed) -> None:
    out.print(f"resumed {len(result.resumed)} Cluster(s)/ClusterClass(es) in the source")
    for ref in result.recreated:
        out.print(f"left alone {ref}: recreated since the export (another UID), not the "
                  "bundle's", markup=False)


def resumed_json(result: SourceResumed) -> dict[str, Any]:
    return _document("ResumeSourceResult", resumed=[ref_json(r) for r in result.resumed],
                     recreated=[ref_json(r) for r in result.recreated])


def error_json(message: str, exit_code: int) -> dict[str, Any]:
    return _document("Error", message=message, exitCode=exit_code)
