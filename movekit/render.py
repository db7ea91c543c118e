"""What commands show people: summaries, plans, trees and graphs. Formatting only.

Every line of text goes out as a rich ``Text`` built by :func:`line` (never a markup string),
so what a bundle or a cluster says is shown literally and through :func:`printable`; JSON and
YAML are written with every non-ASCII character escaped.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import yaml
from rich.console import Console
from rich.text import Text

from movekit.bundle import Bundle, ObjectEntry
from movekit.bundle.clusterctl import clusterctl_file_name
from movekit.bundle.encryption import describe
from movekit.contract import CLUSTER
from movekit.entries import clusters_of
from movekit.export import ExportResult
from movekit.graph import Graph, Node, waves_text
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


# A column is padded to its widest cell up to this many characters (a kind and its group fit); a
# longer cell (a 253-character name) makes its own row longer instead of every row, never cut.
_COLUMN_WIDTH = 64


def table(out: Console, headers: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
    """``rows`` under ``headers`` in aligned columns, one line per row however wide: a terminal
    wraps a long line, a pipe gets it whole. Nothing is cut to fit a width."""
    cells = [[printable(c) for c in headers], *([printable(c) for c in row] for row in rows)]
    widths = [min(max(len(row[i]) for row in cells), _COLUMN_WIDTH)
              for i in range(len(headers))]
    for number, row in enumerate(cells):
        text = "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        _whole(out, Text(text.rstrip(), style="bold" if number == 0 else ""))


def _whole(out: Console, text: Text) -> None:
    # soft_wrap: the line goes out as it is, whatever the console's width (no crop, no fold).
    out.print(text, soft_wrap=True)


def _kind_counts(out: Console, refs: Iterable[ObjectRef]) -> None:
    table(out, ("kind", "objects"),
          sorted(Counter(str(r.group_kind) for r in refs).items()))


# A dry run of more than this prints counts per kind, Cluster and namespace; -v the whole tree.
SUMMARY_OBJECTS = 50
SUMMARY_CLUSTERS = 3
NO_CLUSTER = "(no Cluster)"


def export_summary(out: Console, result: ExportResult, *, dry_run: bool, verbose: int = 0,
                   quiet: bool = False) -> None:
    """What an export did or would do; the last line is the result (all that ``quiet`` shows)."""
    if not quiet:
        _export_details(out, result, dry_run=dry_run, verbose=verbose)
    _whole(out, line(export_line(result, dry_run=dry_run)))


def export_line(result: ExportResult, *, dry_run: bool) -> str:
    graph = result.graph
    moved = f"{len(graph.moved)} objects in {waves_text(len(graph.waves()))}"
    if dry_run:
        return f"dry run: would export {moved}; nothing was written"
    digest = result.manifest.digest if result.manifest is not None else ""
    return f"exported {moved}; bundle digest: {digest}"


def _export_details(out: Console, result: ExportResult, *, dry_run: bool, verbose: int) -> None:
    graph = result.graph
    _kind_counts(out, graph.moved)
    clusters = {c for ref in graph.moved for c in graph.nodes[ref].clusters}
    summary = dry_run and not verbose and (len(graph.moved) > SUMMARY_OBJECTS
                                           or len(clusters) > SUMMARY_CLUSTERS)
    if summary:
        _fleet_summary(out, graph)
    elif dry_run:
        _print_tree(out, object_tree("objects (owners -> dependents)", graph_nodes(graph)))
    if summary and result.to_pause:
        _whole(out, line(f"would pause {len(result.to_pause)} Cluster(s) and ClusterClass(es)"))
    elif dry_run and result.to_pause:
        _whole(out, line(f"would pause: {', '.join(str(r) for r in result.to_pause)}"))
    excluded = result.excluded
    if excluded:
        reasons = Counter(e.reason for e in excluded)
        _whole(out, line(f"{len(excluded)} object(s) not exported", "yellow") + line(
            " (" + ", ".join(f"{n} {reason}" for reason, n in sorted(reasons.items())) + "):"))
        for e in excluded:
            _whole(out, line(f"  {e.ref}: {e.reason}: {e.detail}"))
    if result.left_paused:
        _whole(out, line("left paused in the source: "
                         + ", ".join(str(r) for r in result.left_paused)))
    if result.manifest is not None and result.manifest.encryption:
        _whole(out, line(f"{describe(result.manifest.encryption)} (the digest differs on every "
                         "encrypted export)"))


def _fleet_summary(out: Console, graph: Graph) -> None:
    """Objects per Cluster and per namespace: a fleet's dry run in a screenful."""
    per_cluster: Counter[str] = Counter()
    for ref in graph.moved:
        tenancy = graph.nodes[ref].clusters or {None}
        for cluster in tenancy:
            per_cluster[f"{cluster.namespace}/{cluster.name}" if cluster else NO_CLUSTER] += 1
    table(out, ("cluster", "objects"), sorted(per_cluster.items()))
    per_namespace = Counter(ref.namespace or "(cluster-scoped)" for ref in graph.moved)
    table(out, ("namespace", "objects"), sorted(per_namespace.items()))
    _whole(out, line(f"{len(graph.moved)} objects: a summary; -v shows every object"))


def import_summary(out: Console, result: ImportResult, *, dry_run: bool,
                   quiet: bool = False) -> None:
    """The plan (dry run) or what the import did; the last line is the result (all that
    ``quiet`` shows)."""
    if not quiet:
        _import_details(out, result, dry_run=dry_run)
    _whole(out, line(import_line(result)))


IMPORT_OUTCOMES = ("created", "adopted", "updated", "skipped")


def import_totals(result: ImportResult) -> dict[str, int]:
    """What the import did, each outcome counted apart: an object already there is adopted or
    skipped, never counted as created."""
    outcome = result.outcome
    assert outcome is not None
    totals = dict.fromkeys(IMPORT_OUTCOMES, 0)
    for (_, action), count in outcome.counts.items():
        if action in totals:
            totals[action] += count
    return {**totals, "resumed": len(outcome.resumed)}


def import_line(result: ImportResult) -> str:
    if result.outcome is None:
        counts = result.plan.counts()
        would = ", ".join(f"{action.value} {counts[action.value]}" for action in Action)
        return f"dry run: would {would}; nothing was written"
    totals = import_totals(result)
    done = ", ".join(f"{name} {totals[name]}" for name in IMPORT_OUTCOMES)
    return (f"imported from bundle {result.bundle.digest}: {done}; resumed {totals['resumed']} "
            "Cluster(s)/ClusterClass(es)")


def _import_details(out: Console, result: ImportResult, *, dry_run: bool) -> None:
    plan = result.plan
    if dry_run:
        count = max((s.wave for s in plan.steps), default=-1) + 1
        notes = {s.entry.ref: f"-> {s.action.value} (wave {s.wave})"
                 + (f": {s.detail}" if s.detail else "") for s in plan.steps}
        _print_tree(out, object_tree(
            f"plan for {result.bundle.digest}: {len(plan.steps)} objects in {waves_text(count)}",
            _entry_nodes((s.entry for s in plan.steps), notes)))
        for ns in plan.namespaces_to_create:
            _whole(out, line(f"namespace {ns}: create"))
        _skipped_lines(out, "would skip", _skipped(result))
        return
    outcome = result.outcome
    assert outcome is not None
    kinds = sorted({kind for kind, _ in outcome.counts})
    table(out, ("kind", *IMPORT_OUTCOMES),
          ([kind, *(outcome.counts[(kind, a)] for a in IMPORT_OUTCOMES)] for kind in kinds))
    _skipped_lines(out, "skipped", _skipped(result))


def _skipped(result: ImportResult) -> dict[ObjectRef, str]:
    """What the import left as the target has it, and why: done, or planned in a dry run."""
    if result.outcome is not None:
        return dict(sorted(result.outcome.skipped.items()))
    return {s.target: s.detail for s in sorted(result.plan.steps, key=lambda s: s.target)
            if s.action is Action.SKIP}


def _skipped_lines(out: Console, verb: str, skipped: Mapping[ObjectRef, str]) -> None:
    if skipped:
        _whole(out, line(f"{verb} {len(skipped)} object(s):"))
        for ref, why in skipped.items():
            _whole(out, line(f"  {ref}: {why}"))


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
        totals=import_totals(result) if result.outcome is not None else None,
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


def object_tree(title: str, nodes: Iterable[TreeNode]) -> list[Text]:
    """Owners -> dependents, one tree per Cluster (and per shared root such as a ClusterClass),
    one line per object, each line whole (see :func:`_print_tree`).

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
    lines = [line(title)]
    drawn: set[ObjectRef] = set()

    def add(node: TreeNode, parent_namespace: str | None, indent: str, last: bool) -> None:
        label = f"{node.ref.kind}/{node.ref.name}"
        if node.ref.namespace != parent_namespace:
            label += f" in {node.ref.namespace}" if node.ref.namespace else " (cluster-scoped)"
        guide = indent + ("└── " if last else "├── ")
        if node.ref in drawn:
            lines.append(line(guide) + line(f"{label} (shown above)", "dim"))
            return
        drawn.add(node.ref)
        lines.append(line(guide + label + (f"  {node.note}" if node.note else "")))
        below = children.get(node.ref, [])
        for number, child in enumerate(below):
            add(child, node.ref.namespace, indent + ("    " if last else "│   "),
                number == len(below) - 1)

    clusters_first = sorted(roots, key=lambda n: (n.ref.group_kind != CLUSTER, n.ref))
    for number, root in enumerate(clusters_first):
        add(root, None, "", number == len(clusters_first) - 1)
    return lines


# The tree's guides where the output cannot encode them (LANG=C, a legacy console).
_ASCII_GUIDES = str.maketrans({"├": "+", "└": "`", "│": "|", "─": "-"})


def _print_tree(out: Console, lines: Iterable[Text]) -> None:
    """One object a line, never cut or folded to the console's width: piped, the lines are
    whole for grep; on a narrow terminal the terminal wraps a long one."""
    for text in lines:
        if out.options.ascii_only:
            text = Text(text.plain.translate(_ASCII_GUIDES), style=text.style)
        _whole(out, text)


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
        _whole(out, line(f"{clusterctl}: written by clusterctl move --to-directory (no digest "
                         f"or checksums): {len(entries)} objects in {waves_text(waves)}",
                         message=True))
    else:
        _whole(out, line(f"bundle {bundle.digest}"))
        _whole(out, line(f"from {bundle.source.server} at {bundle.parsed_manifest.created_at}: "
                         f"{len(entries)} objects in {waves_text(waves)}"))
    if bundle.parsed_manifest.encryption:
        _whole(out, line(describe(bundle.parsed_manifest.encryption)))
    _kind_counts(out, (e.ref for e in entries))
    _print_tree(out, object_tree("objects (owners -> dependents)",
                                 _entry_nodes(entries, {e.ref: f"(wave {e.wave})"
                                                        for e in entries})))
    excluded = bundle.excluded
    if excluded:
        _whole(out, line(f"{len(excluded)} object(s) left out:"))
        for e in excluded:
            where = f"{e.ref.namespace}/" if e.ref.namespace else ""
            _whole(out, line(f"  {e.ref.kind}/{where}{e.ref.name}: {e.reason}: {e.detail}"))


def inspect_document(bundle: Bundle) -> dict[str, Any]:
    """The manifest as it is, its fields at the top, in the envelope of every other document."""
    return _document("Bundle", **bundle.manifest)


def inspect_json(out: Console, bundle: Bundle) -> None:
    print_json(out, inspect_document(bundle))


def inspect_yaml(out: Console, bundle: Bundle) -> None:
    print_yaml(out, inspect_document(bundle))


def clusterctl_manifest(bundle: Bundle) -> dict[str, Any]:
    """The manifest of a bundle rebuilt from a clusterctl directory, as the directory can back
    it: no digest, checksums, source or creation time (it records none); each object's file
    is clusterctl's."""
    doc = {**bundle.manifest, "formatVersion": None, "createdAt": None, "source": None,
           "digest": None, "layout": "clusterctl"}
    doc["objects"] = [{**item, "file": clusterctl_file_name(entry.ref), "sha256": None}
                      for item, entry in zip(doc["objects"], bundle.entries, strict=True)]
    return _document("Bundle", **doc)


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


def move_preview(out: Console, preview: ExportResult, *, verbose: int = 0,
                 quiet: bool = False) -> None:
    """A move's dry run: what would move; the last line is the result."""
    if not quiet:
        _export_details(out, preview, dry_run=True, verbose=verbose)
    graph = preview.graph
    _whole(out, line(f"dry run: the target can take this move of {len(graph.moved)} objects in "
                     f"{waves_text(len(graph.waves()))}; nothing was changed"))


def move_summary(out: Console, journal: Journal, retired: RetireResult | None, *,
                 imported: ImportResult | None = None, quiet: bool = False) -> None:
    if not quiet and journal.bundle_digest:
        _whole(out, line(f"bundle {journal.bundle_path} ({journal.bundle_digest})"))
    if not quiet and imported is not None and imported.outcome is not None:
        totals = import_totals(imported)
        _whole(out, line("target: " + ", ".join(f"{name} {totals[name]}"
                                                for name in IMPORT_OUTCOMES)))
    if not quiet and retired is not None:
        _whole(out, line(_retired_counts(retired)))
    _whole(out, line(f"move {journal.phase}: journal {journal.path}"))


def _retired_counts(retired: RetireResult) -> str:
    return (f"source: deleted {len(retired.deleted)}, already gone {len(retired.already_gone)}, "
            f"kept {len(retired.kept)} (global or shared), left alone {len(retired.recreated)} "
            "(recreated since the export)")


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
    _whole(out, line(f"{path}: valid clusterctl move directory, {document['objects']} objects "
                     f"of {document['clusters']} Cluster(s) in {waves_text(document['waves'])}",
                     message=True))
    for excluded in bundle.excluded:
        _whole(out, line(f"  left out by import: {excluded.ref}: {excluded.reason}: "
                         f"{excluded.detail}", message=True))
    _whole(out, line("structure only: clusterctl writes no checksums or digest, so nothing "
                     "shows whether a file was changed since"))


def retire_summary(out: Console, result: RetireResult, *, quiet: bool = False) -> None:
    if result.dry_run:
        if not quiet:
            for verb, refs in (("would delete", result.deleted),
                               ("already gone", result.already_gone),
                               ("would leave alone (recreated since the export)",
                                result.recreated)):
                for ref in refs:
                    _whole(out, line(f"{verb}: {ref}"))
            for ref in result.kept:
                _whole(out, line(f"would keep: {ref} ({result.why_kept.get(ref, 'kept')})"))
        _whole(out, line(f"dry run: would delete {len(result.deleted)}, already gone "
                         f"{len(result.already_gone)}, kept {len(result.kept)}, left alone "
                         f"{len(result.recreated)}; nothing was changed"))
        return
    if not quiet:
        for ref, why in sorted(result.why_kept.items()):
            if why not in (KEPT_GLOBAL, KEPT_SHARED):
                _whole(out, line(f"kept {ref}: {why}"))
    _whole(out, line(f"deleted {len(result.deleted)}, already gone {len(result.already_gone)}, "
                     f"kept {len(result.kept)} (global or shared), left alone "
                     f"{len(result.recreated)} (recreated since the export)"))


def retire_confirmation(out: Console, preview: RetireResult, entries: Iterable[ObjectEntry],
                        source: str) -> None:
    """What retire is about to delete, per Cluster and kind, every name in full (lines wrap,
    never cut), then what it leaves."""
    membership = clusters_of(entries)
    groups: dict[tuple[ObjectRef, ...], dict[str, list[ObjectRef]]] = defaultdict(
        lambda: defaultdict(list))
    for ref in preview.deleted:
        groups[membership.get(ref, ())][str(ref.group_kind)].append(ref)
    _whole(out, line(f"retire will delete {len(preview.deleted)} object(s) from the source "
                     f"{source}:", message=True))
    for clusters, kinds in sorted(groups.items(), key=lambda g: (not g[0], g[0])):
        count = sum(len(refs) for refs in kinds.values())
        if not clusters:
            title = "of no Cluster"
        else:
            title = ("Cluster " if len(clusters) == 1 else "shared by Clusters ") + ", ".join(
                f"{c.namespace}/{c.name}" for c in clusters)
        _whole(out, line(f"  {title} ({count}):"))
        for kind, refs in sorted(kinds.items()):
            names = ", ".join(r.name if clusters and r.namespace == clusters[0].namespace
                              else f"{r.namespace}/{r.name}" if r.namespace else r.name
                              for r in sorted(refs))
            _whole(out, line(f"    {kind} ({len(refs)}): {names}"))
    _whole(out, line(f"kept {len(preview.kept)} (global or shared), already gone "
                     f"{len(preview.already_gone)}, left alone {len(preview.recreated)} "
                     "(recreated since the export)"))


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
              preview: ExportResult | None = None,
              imported: ImportResult | None = None) -> dict[str, Any]:
    return _document(
        "MoveResult",
        dryRun=journal is None,
        phase=str(journal.phase) if journal else None,
        journal=str(journal.path) if journal else None,
        bundle={"path": journal.bundle_path, "digest": journal.bundle_digest} if journal else None,
        objects=len(preview.graph.moved) if preview is not None else None,
        imported=({name: count for name, count in import_totals(imported).items()
                   if name != "resumed"}
                  if imported is not None and imported.outcome is not None else None),
        retired=retire_json(result=retired) if retired is not None else None,
    )


def resumed_summary(out: Console, result: SourceResumed) -> None:
    for ref in result.recreated:
        _whole(out, line(f"left alone {ref}: recreated since the export (another UID), not "
                         "the bundle's"))
    _whole(out, line(f"resumed {len(result.resumed)} Cluster(s)/ClusterClass(es) in the source"))


def resumed_json(result: SourceResumed) -> dict[str, Any]:
    return _document("ResumeSourceResult", resumed=[ref_json(r) for r in result.resumed],
                     recreated=[ref_json(r) for r in result.recreated])


def version_json(version: str) -> dict[str, Any]:
    return _document("Version", version=version)


def error_json(message: str, exit_code: int) -> dict[str, Any]:
    return _document("Error", message=message, exitCode=exit_code)
