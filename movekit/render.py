"""What commands show people: summaries, plans, trees and graphs. Formatting only.

Every line of text goes out as a rich ``Text`` built by :func:`line` (never a markup string),
so what a bundle or a cluster says is shown literally and through :func:`printable`; JSON and
YAML are written with every non-ASCII character escaped.
"""

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
from movekit.bundle.clusterctl import clusterctl_file_name
from movekit.bundle.encryption import describe
from movekit.contract import CLUSTER
from movekit.entries import clusters_of
from movekit.export import ExportResult
from movekit.graph import Graph, Node
from movekit.importer import ImportResult
from movekit.journal import Journal
from movekit.mover import KEPT_GLOBAL, KEPT_SHARED, RetireResult, SourceResumed
from movekit.plan import Action
from movekit.printable import printable
from movekit.refs import ObjectRef


def line(text: object, style: str = "", *, message: bool = False) -> Text:
    """``text`` as one literal, printable line (a ``message`` may span several, see
    :func:`printable`): no markup, no emoji codes, no control characters."""
    return Text(printable(text, message=message), style=style)


def print_json(out: Console, document: Any) -> None:
    # rich re-encodes with ensure_ascii off by default, which would pass C1 and bidi controls.
    out.print_json(json.dumps(document), ensure_ascii=True)


def print_yaml(out: Console, document: Any) -> None:
    # Without allow_unicode, every character outside printable ASCII is a double-quoted escape.
    out.print(Text(yaml.safe_dump(document, sort_keys=False, allow_unicode=False)), end="")


def _kind_counts(refs: Iterable[ObjectRef]) -> Table:
    table = Table("kind", "objects", box=None, pad_edge=False)
    for kind, count in sorted(Counter(str(r.group_kind) for r in refs).items()):
        table.add_row(line(kind), str(count))
    return table


def export_summary(out: Console, result: ExportResult, *, dry_run: bool) -> None:
    graph = result.graph
    verb = "would export" if dry_run else "exported"
    waves = graph.waves()
    out.print(line(f"{verb} {len(graph.moved)} objects in {len(waves)} waves"))
    out.print(_kind_counts(graph.moved))
    if dry_run:
        out.print(object_tree("objects (owners -> dependents)", graph_nodes(graph)))
    if dry_run and result.to_pause:
        out.print(line(f"would pause: {', '.join(str(r) for r in result.to_pause)}"))
    excluded = result.excluded
    if excluded:
        reasons = Counter(e.reason for e in excluded)
        out.print(line(f"{len(excluded)} object(s) not exported", "yellow") + line(
            " (" + ", ".join(f"{n} {reason}" for reason, n in sorted(reasons.items())) + "):"))
        for e in excluded:
            out.print(line(f"  {e.ref}: {e.reason}: {e.detail}"))
    if result.left_paused:
        out.print(line("left paused in the source: "
                       + ", ".join(str(r) for r in result.left_paused)))
    if result.manifest is not None and result.manifest.encryption:
        out.print(line(f"{describe(result.manifest.encryption)} (the digest differs on every "
                       "encrypted export)"))
    if result.manifest is not None:
        out.print(line(f"bundle digest: {result.manifest.digest}"))


def import_summary(out: Console, result: ImportResult, *, dry_run: bool) -> None:
    plan = result.plan
    if dry_run:
        notes = {s.entry.ref: f"-> {s.action.value} (wave {s.wave})"
                 + (f": {s.detail}" if s.detail else "") for s in plan.steps}
        out.print(object_tree(f"plan for {result.bundle.digest}",
                              _entry_nodes((s.entry for s in plan.steps), notes)))
        for ns in plan.namespaces_to_create:
            out.print(line(f"namespace {ns}: create"))
        counts = plan.counts()
        out.print(line("plan: " + ", ".join(f"{n} {a}" for a, n in sorted(counts.items()))))
        _skipped_lines(out, "would skip", _skipped(result))
        return
    outcome = result.outcome
    assert outcome is not None
    table = Table("kind", "created", "adopted", "updated", "skipped", box=None, pad_edge=False)
    kinds = sorted({kind for kind, _ in outcome.counts})
    for kind in kinds:
        table.add_row(line(kind), *(str(outcome.counts[(kind, a)])
                              for a in ("created", "adopted", "updated", "skipped")))
    out.print(table)
    out.print(line(f"imported {len(outcome.done)} objects from bundle {result.bundle.digest}; "
                   f"resumed {len(outcome.resumed)} Cluster(s)/ClusterClass(es)"))
    _skipped_lines(out, "skipped", _skipped(result))


def _skipped(result: ImportResult) -> dict[ObjectRef, str]:
    """What the import left as the target has it, and why: done, or planned in a dry run."""
    if result.outcome is not None:
        return dict(sorted(result.outcome.skipped.items()))
    return {s.target: s.detail for s in sorted(result.plan.steps, key=lambda s: s.target)
            if s.action is Action.SKIP}


def _skipped_lines(out: Console, verb: str, skipped: Mapping[ObjectRef, str]) -> None:
    if skipped:
        out.print(line(f"{verb} {len(skipped)} object(s):"))
        for ref, why in skipped.items():
            out.print(line(f"  {ref}: {why}"))


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
    tree = Tree(line(title))
    drawn: set[ObjectRef] = set()

    def add(branch: Tree, node: TreeNode, parent_namespace: str | None) -> None:
        label = f"{node.ref.kind}/{node.ref.name}"
        if node.ref.namespace != parent_namespace:
            label += f" in {node.ref.namespace}" if node.ref.namespace else " (cluster-scoped)"
        if node.ref in drawn:
            branch.add(line(f"{label} (shown above)", "dim"))
            return
        drawn.add(node.ref)
        sub = branch.add(line(label + (f"  {node.note}" if node.note else "")))
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


def inspect_tree(out: Console, bundle: Bundle, *, clusterctl: str | None = None) -> None:
    """The bundle's summary and tree; ``clusterctl`` names the clusterctl directory ``bundle``
    was rebuilt from, which records no digest, source or time."""
    entries = bundle.entries
    waves = max((e.wave for e in entries), default=-1) + 1
    if clusterctl is not None:
        out.print(line(f"{clusterctl}: written by clusterctl move --to-directory (no digest "
                       f"or checksums): {len(entries)} objects in {waves} waves", message=True))
    else:
        out.print(line(f"bundle {bundle.digest}"))
        out.print(line(f"from {bundle.source.server} at {bundle.parsed_manifest.created_at}: "
                       f"{len(entries)} objects in {waves} waves"))
    if bundle.parsed_manifest.encryption:
        out.print(line(describe(bundle.parsed_manifest.encryption)))
    out.print(_kind_counts(e.ref for e in entries))
    out.print(object_tree("objects (owners -> dependents)", _entry_nodes(entries)))
    excluded = bundle.excluded
    if excluded:
        out.print(line(f"{len(excluded)} object(s) left out:"))
        for e in excluded:
            where = f"{e.ref.namespace}/" if e.ref.namespace else ""
            out.print(line(f"  {e.ref.kind}/{where}{e.ref.name}: {e.reason}: {e.detail}"))


def inspect_json(out: Console, bundle: Bundle) -> None:
    print_json(out, bundle.manifest)


def inspect_yaml(out: Console, bundle: Bundle) -> None:
    print_yaml(out, bundle.manifest)


def clusterctl_manifest(bundle: Bundle) -> dict[str, Any]:
    """The manifest of a bundle rebuilt from a clusterctl directory, as the directory can back
    it: no digest, checksums, source or creation time (it records none); each object's file
    is clusterctl's."""
    doc = {**bundle.manifest, "formatVersion": None, "createdAt": None, "source": None,
           "digest": None, "layout": "clusterctl"}
    doc["objects"] = [{**item, "file": clusterctl_file_name(entry.ref), "sha256": None}
                      for item, entry in zip(doc["objects"], bundle.entries, strict=True)]
    return doc


def _edges(bundle: Bundle) -> list[tuple[ObjectRef, ObjectRef, bool]]:
    edges = []
    for entry in bundle.entries:
        edges += [(o.ref, entry.ref, False) for o in entry.owners]
        edges += [(s, entry.ref, True) for s in entry.soft_owners]
    return sorted(edges)


def _dot(text: object) -> str:
    """The inside of a DOT quoted string: printable, its backslashes and quotes escaped."""
    return printable(text).replace("\\", "\\\\").replace('"', '\\"')


def inspect_dot(out: Console, bundle: Bundle) -> None:
    lines = ["digraph bundle {", "  rankdir=LR;"]
    for entry in sorted(bundle.entries, key=lambda e: e.ref):
        ref = entry.ref
        lines.append(f'  "{_dot(ref)}" [label="{_dot(ref.kind)}\\n{_dot(ref.name)}"];')
    for owner, dependent, soft in _edges(bundle):
        style = " [style=dashed]" if soft else ""
        lines.append(f'  "{_dot(owner)}" -> "{_dot(dependent)}"{style};')
    lines.append("}")
    out.print(Text("\n".join(lines)))


# Mermaid's entity codes for what would end a quoted label or read as markup in it.
_MERMAID_ENTITIES = str.maketrans({"#": "#35;", '"': "#quot;", "<": "#lt;", ">": "#gt;",
                                   "&": "#amp;"})


def inspect_mermaid(out: Console, bundle: Bundle) -> None:
    ids = {e.ref: f"n{i}" for i, e in enumerate(sorted(bundle.entries, key=lambda e: e.ref))}
    lines = ["graph LR"]
    for ref, node_id in ids.items():
        label = printable(f"{ref.kind} {ref.name}").translate(_MERMAID_ENTITIES)
        lines.append(f'  {node_id}["{label}"]')
    for owner, dependent, soft in _edges(bundle):
        if owner in ids and dependent in ids:
            arrow = "-.->" if soft else "-->"
            lines.append(f"  {ids[owner]} {arrow} {ids[dependent]}")
    out.print(Text("\n".join(lines)))


def move_summary(out: Console, journal: Journal, retired: RetireResult | None) -> None:
    out.print(line(f"move {journal.phase}: journal {journal.path}"))
    if journal.bundle_digest:
        out.print(line(f"bundle {journal.bundle_path} ({journal.bundle_digest})"))
    if retired is not None:
        out.print(line(f"source: deleted {len(retired.deleted)}, already gone "
                       f"{len(retired.already_gone)}, kept {len(retired.kept)} (global or "
                       f"shared), left alone {len(retired.recreated)} (recreated since the "
                       "export)"))


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
    return _document("VerifyResult", path=path, layout="bundle",
                     formatVersion=bundle.format_version, objects=len(bundle.entries),
                     digest=bundle.digest,
                     encryption={"scheme": encryption["scheme"],
                                 "recipients": list(encryption["recipients"]),
                                 "passphrase": encryption["passphrase"]} if encryption else None)


def verify_clusterctl_json(path: str, bundle: Bundle) -> dict[str, Any]:
    """``verify -o json`` of a clusterctl directory: its structure only, so no digest."""
    return _document("VerifyResult", path=path, layout="clusterctl", formatVersion=None,
                     objects=len(bundle.entries),
                     clusters=sum(1 for e in bundle.entries if e.ref.group_kind == CLUSTER),
                     waves=max((e.wave for e in bundle.entries), default=-1) + 1,
                     digest=None, encryption=None,
                     excluded=[{**ref_json(e.ref), "reason": str(e.reason), "detail": e.detail}
                               for e in bundle.excluded])


def verify_clusterctl_summary(out: Console, path: str, bundle: Bundle) -> None:
    document = verify_clusterctl_json(path, bundle)
    out.print(line(f"{path}: valid clusterctl move directory, {document['objects']} objects "
                   f"of {document['clusters']} Cluster(s) in {document['waves']} waves",
                   message=True))
    for excluded in bundle.excluded:
        out.print(line(f"  left out by import: {excluded.ref}: {excluded.reason}: "
                       f"{excluded.detail}", message=True))
    out.print(line("structure only: clusterctl writes no checksums or digest, so nothing "
                   "shows whether a file was changed since"))


def retire_summary(out: Console, result: RetireResult) -> None:
    if result.dry_run:
        for verb, refs in (("would delete", result.deleted),
                           ("already gone", result.already_gone),
                           ("would leave alone (recreated since the export)", result.recreated)):
            for ref in refs:
                out.print(line(f"{verb}: {ref}"))
        for ref in result.kept:
            out.print(line(f"would keep: {ref} ({result.why_kept.get(ref, 'kept')})"))
        out.print(line(f"dry run: would delete {len(result.deleted)}, already gone "
                       f"{len(result.already_gone)}, kept {len(result.kept)}, left alone "
                       f"{len(result.recreated)}; nothing was changed"))
        return
    out.print(line(f"deleted {len(result.deleted)}, already gone {len(result.already_gone)}, "
                   f"kept {len(result.kept)} (global or shared), left alone "
                   f"{len(result.recreated)} (recreated since the export)"))
    for ref, why in sorted(result.why_kept.items()):
        if why not in (KEPT_GLOBAL, KEPT_SHARED):
            out.print(line(f"kept {ref}: {why}"))


def retire_confirmation(out: Console, preview: RetireResult, entries: Iterable[ObjectEntry],
                        source: str) -> None:
    """What retire is about to delete, per Cluster and kind, every name in full (lines wrap,
    never cut), then what it leaves."""
    membership = clusters_of(entries)
    groups: dict[tuple[ObjectRef, ...], dict[str, list[ObjectRef]]] = defaultdict(
        lambda: defaultdict(list))
    for ref in preview.deleted:
        groups[membership.get(ref, ())][str(ref.group_kind)].append(ref)
    out.print(line(f"retire will delete {len(preview.deleted)} object(s) from the source "
                   f"{source}:", message=True))
    for clusters, kinds in sorted(groups.items(), key=lambda g: (not g[0], g[0])):
        count = sum(len(refs) for refs in kinds.values())
        if not clusters:
            title = "of no Cluster"
        else:
            title = ("Cluster " if len(clusters) == 1 else "shared by Clusters ") + ", ".join(
                f"{c.namespace}/{c.name}" for c in clusters)
        out.print(line(f"  {title} ({count}):"))
        for kind, refs in sorted(kinds.items()):
            names = ", ".join(r.name if clusters and r.namespace == clusters[0].namespace
                              else f"{r.namespace}/{r.name}" if r.namespace else r.name
                              for r in sorted(refs))
            out.print(line(f"    {kind} ({len(refs)}): {names}"))
    out.print(line(f"kept {len(preview.kept)} (global or shared), already gone "
                   f"{len(preview.already_gone)}, left alone {len(preview.recreated)} (recreated "
                   "since the export)"))


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
    out.print(line(f"resumed {len(result.resumed)} Cluster(s)/ClusterClass(es) in the source"))
    for ref in result.recreated:
        out.print(line(f"left alone {ref}: recreated since the export (another UID), not "
                       "the bundle's"))


def resumed_json(result: SourceResumed) -> dict[str, Any]:
    return _document("ResumeSourceResult", resumed=[ref_json(r) for r in result.resumed],
                     recreated=[ref_json(r) for r in result.recreated])


def error_json(message: str, exit_code: int) -> dict[str, Any]:
    return _document("Error", message=message, exitCode=exit_code)
