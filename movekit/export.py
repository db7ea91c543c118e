"""Export: discover, check, pause, read a consistent copy, and write the bundle.

Order matters and is the point of this module:

1. read everything once and decide the move set (nothing is changed yet);
2. refuse unprovisioned Clusters and Machines, all of them listed at once (unless forced);
3. pause the selected Clusters and ClusterClasses and wait for block-move to clear;
4. read again — this is the copy that travels, taken while nothing reconciles;
5. write the bundle, storing every object as it was before movekit paused it (or, in
   clusterctl's layout, every object as read, paused, as ``clusterctl move --to-directory`` does);
6. restore the pause state exactly (unless the user asked to leave the source paused).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from movekit.bundle import (
    BundleWriter,
    Manifest,
    Source,
)
from movekit.bundle.clusterctl import check_clusterctl_target, write_clusterctl_directory
from movekit.bundle.encryption import SecretSealer, sealer_for
from movekit.bundle.staging import describe_leftovers
from movekit.bundle.writer import check_bundle_target
from movekit.contract import BLOCK_MOVE_ANNOTATION, CLUSTER
from movekit.discovery import Discovery, discover, namespace_exists, read_namespaces
from movekit.entries import entry_for
from movekit.errors import LocalFileError, PrecheckFailed, UsageError
from movekit.graph import Graph, build
from movekit.kube import KubeClient
from movekit.model import Exclusion, Layout, NamespaceEntry, Selection
from movekit.pause import (
    Pausable,
    is_pausable,
    pause_denials,
    paused_by_movekit,
    set_paused,
    unpaused_copy,
    wait_block_move,
)
from movekit.precheck import provisioning_problems
from movekit.progress import Advance, ProgressLike, Reporter, reporter_of
from movekit.refs import GroupKind, ObjectRef
from movekit.sanitize import drop_pause_mark, sanitize_crd, strip_server_fields


@dataclass(frozen=True)
class ExportOptions:
    selection: Selection
    target: Path | None
    archive: bool = False
    dry_run: bool = False
    force: bool = False
    pause: bool = True
    leave_paused: bool = False
    block_move_timeout: float = 300.0
    layout: Layout = Layout.BUNDLE
    # Clusters and ClusterClasses an interrupted move paused: they count as unpaused.
    paused_by_movekit: frozenset[ObjectRef] = frozenset()
    # age X25519 recipients (age1...) and/or a passphrase file: Secret values are encrypted.
    encrypt_to: tuple[str, ...] = ()
    passphrase_file: Path | None = None


@dataclass
class ExportResult:
    graph: Graph
    # What was read. Once a bundle is written it keeps the kinds, providers and whole objects,
    # not the views decisions were made from (the graph holds those decisions).
    discovery: Discovery
    selection: Selection
    to_pause: list[ObjectRef]
    warnings: list[str] = field(default_factory=list)
    manifest: Manifest | None = None
    left_paused: list[ObjectRef] = field(default_factory=list)

    @property
    def excluded(self) -> list[Exclusion]:
        """Selected objects that do not move, each with its reason."""
        return [e for e in self.graph.excluded if in_scope(e.ref, self.selection)]


def preview_export(
    client: KubeClient, options: ExportOptions, progress: ProgressLike | None = None
) -> ExportResult:
    """Steps 1 and 2 alone: read, decide the move set and run the pre-checks, changing nothing.

    This is a dry run's result; handed to :func:`export_bundle` as ``preview`` it spares the
    export its first read, and its kinds, CRDs and providers serve the second.
    """
    report = reporter_of(progress)
    _check_layout(options)
    report.step("discovering kinds and objects")
    # Only the read that is written needs whole objects: with pausing (or a dry run) that is
    # not this one.
    with report.phase("discovering kinds and objects") as counted:
        first = discover(client, options.selection,
                         whole=not options.pause and not options.dry_run, counted=counted)
    report.detail(f"read {len(first.objects)} objects of {len(first.kinds)} kinds "
                  f"in {sum(client.requests.values())} requests")
    graph = _build_checked(first, options.selection, lambda name: namespace_exists(client, name))
    warnings = _precheck(graph, first, options.force)
    # Paused by movekit (an interrupted move's journal, or the mark of a run that was killed):
    # not the user's pause, so it is restored to unpaused and recorded as such.
    to_pause = [ref for ref in graph.moved if is_pausable(ref)
                and (not graph.nodes[ref].paused or ref in options.paused_by_movekit
                     or paused_by_movekit(first.view(ref)))]
    if options.pause:
        _check_can_pause(client, [Pausable(ref, first.resources[ref.group_kind])
                                  for ref in to_pause])
    return ExportResult(graph=graph, discovery=first, selection=options.selection,
                        to_pause=to_pause, warnings=warnings)


def export_bundle(
    client: KubeClient, options: ExportOptions, progress: ProgressLike | None = None,
    *, preview: ExportResult | None = None,
) -> ExportResult:
    """Export the selection from ``client``'s cluster; see the module docstring for the order.

    ``preview``: what :func:`preview_export` found for the same options, moments ago; its
    objects are released once the consistent copy replaces them.
    """
    report = reporter_of(progress)
    say = report.step
    if options.target is None and not options.dry_run:
        raise UsageError("export needs --to-directory or --to-archive")
    _check_layout(options)
    sealer = sealer_for(options.encrypt_to, options.passphrase_file)
    if sealer is not None and options.layout == Layout.CLUSTERCTL:
        raise UsageError("clusterctl's layout has no encryption: drop --encrypt-to and "
                         "--passphrase-file, or write a movekit bundle")
    if preview is None:
        preview = preview_export(client, options, report)
    if options.dry_run:
        return preview
    assert options.target is not None
    # A target that cannot be written is refused before anything is paused.
    if options.layout == Layout.CLUSTERCTL:
        check_clusterctl_target(options.target)
    else:
        check_bundle_target(options.target, options.archive)
    first, graph, to_pause, warnings = (preview.discovery, preview.graph, preview.to_pause,
                                        list(preview.warnings))
    pausables = [Pausable(ref, first.resources[ref.group_kind]) for ref in to_pause]
    paused_here = options.pause and bool(pausables)
    blocked = {ref: first.resources[ref.group_kind] for ref in graph.moved
               if BLOCK_MOVE_ANNOTATION in _annotations(first.view(ref))}
    succeeded = False
    left_paused: list[ObjectRef] = []
    try:
        if paused_here:
            say(f"pausing {len(pausables)} Cluster(s) and ClusterClass(es)")
            set_paused(client, pausables, paused=True)
        if blocked:
            with report.task(f"waiting for {BLOCK_MOVE_ANNOTATION} to clear",
                             len(blocked)) as advance:
                wait_block_move(client, blocked, options.block_move_timeout,
                                on_progress=_advancer(advance))
        say("reading a consistent copy")
        if paused_here or blocked or not first.whole:
            # The first read and its graph are superseded: let them go before the second read
            # arrives, which then reuses their memory.
            del graph, preview
            first.forget_objects()
            with report.phase("reading a consistent copy") as counted:
                second = discover(client, options.selection, known=first, counted=counted)
            final = _build_checked(second, options.selection)
        else:
            second, final = first, graph
        # From here on only whole objects are read: the views have served their purpose.
        second.forget_views()
        manifest: Manifest | None = None
        try:
            if options.layout == Layout.CLUSTERCTL:
                leftovers = write_clusterctl_directory(
                    options.target, (drop_pause_mark(second.full(ref)) for ref in final.moved))
                if leftovers:
                    warnings.append(describe_leftovers(options.target, leftovers))
            else:
                namespaces = read_namespaces(client, {ref.namespace for ref in final.moved
                                                      if ref.namespace})
                manifest = _write(final, second, options, set(to_pause), namespaces, report,
                                  warnings, sealer)
        except OSError as err:  # a full disk, a quota: the bundle's name, not a staging file's
            raise LocalFileError(f"{options.target}: cannot be written "
                                 f"({err.strerror or err})") from None
        succeeded = True
    finally:
        if paused_here and not (options.leave_paused and succeeded):
            say("restoring the source's pause state")
            set_paused(client, pausables, paused=False)
        elif paused_here:
            left_paused = list(to_pause)
    return ExportResult(graph=final, discovery=second, selection=options.selection,
                        to_pause=to_pause, warnings=warnings, manifest=manifest,
                        left_paused=left_paused)


def _check_layout(options: ExportOptions) -> None:
    if options.layout not in tuple(Layout):
        raise UsageError(f"unknown layout {options.layout!r}; one of {', '.join(Layout)}")
    if options.layout == Layout.CLUSTERCTL and options.archive:
        raise UsageError("clusterctl's layout is a directory: use --to-directory")


def _build_checked(found: Discovery, selection: Selection,
                   exists: Callable[[str], bool] | None = None) -> Graph:
    """The graph of what was read, refused when the selection holds nothing to export.

    ``exists`` tells whether a namespace exists, so that a mistyped ``-n`` is told from an empty
    namespace; it is asked only when the selection came out empty.
    """
    graph = build(found.objects, found.kinds, selection)

    def refuse_missing_namespace() -> None:
        if selection.namespace and exists is not None and not exists(selection.namespace):
            raise PrecheckFailed(f"namespace {selection.namespace} does not exist")

    if selection.clusters:
        present = {ref.name for ref in graph.nodes
                   if ref.group_kind == CLUSTER and ref.namespace == selection.namespace}
        missing = sorted(selection.clusters - present)
        if missing:
            refuse_missing_namespace()
            where = f"namespace {selection.namespace}" if selection.namespace else "the cluster"
            raise PrecheckFailed(f"no Cluster named {', '.join(missing)} in {where}")
    # Global objects move with whatever selection (clusterctl moves every global identity), so
    # they alone do not make a namespace worth exporting.
    if not any(ref.namespace and in_scope(ref, selection) for ref in graph.moved):
        refuse_missing_namespace()
        where = (f"namespace {selection.namespace}" if selection.namespace
                 else "any namespace")
        raise PrecheckFailed(
            f"nothing to export: {where} holds no Cluster, ClusterClass, ClusterResourceSet or "
            "object labelled for move"
        )
    return graph


def _check_can_pause(client: KubeClient, pausables: list[Pausable]) -> None:
    """Refuse read-only credentials before anything is paused or written, naming what is missing."""
    denials = pause_denials(client, pausables)
    if denials:
        lines = "\n".join(f"  - {d}" for d in denials)
        raise PrecheckFailed(
            "these credentials may not pause the source (export with --no-pause to read "
            f"without pausing, or grant patch on what is listed):\n{lines}"
        )


def _precheck(graph: Graph, found: Discovery, force: bool) -> list[str]:
    problems = provisioning_problems(found.view(ref) for ref in graph.moved)
    if problems and not force:
        lines = "\n".join(f"  - {p}" for p in problems)
        raise PrecheckFailed(
            f"{len(problems)} object(s) are not ready to move (use --force to move anyway):\n"
            f"{lines}"
        )
    return [f"--force: moving anyway: {p}" for p in problems]


def _write(
    graph: Graph,
    found: Discovery,
    options: ExportOptions,
    paused_by_us: set[ObjectRef],
    namespaces: list[NamespaceEntry],
    report: Reporter,
    warnings: list[str],
    sealer: SecretSealer | None = None,
) -> Manifest:
    assert options.target is not None
    kinds_used: set[GroupKind] = set()
    with BundleWriter(options.target, archive=options.archive) as writer, \
            report.task(f"writing {options.target}", len(graph.moved)) as advance:
        if writer.leftovers:
            warnings.append(describe_leftovers(options.target, writer.leftovers))
        for ref in graph.moved:
            node = graph.nodes[ref]
            obj = found.full(ref)  # a fresh copy, decoded from JSON: ours to change
            if ref in paused_by_us:
                obj = unpaused_copy(obj)
            kinds_used.add(ref.group_kind)
            try:
                stored = strip_server_fields(obj)
                writer.add_object(entry_for(node, ref in paused_by_us),
                                  sealer.seal(stored) if sealer is not None else stored)
            except ValueError as error:
                # Too large or not representable: refuse the export, leave no partial bundle.
                raise PrecheckFailed(f"{ref} cannot be written to a bundle: {error}") from error
            advance()
        for gk in sorted(kinds_used):
            if gk in found.crds:
                writer.add_crd(sanitize_crd(found.crds[gk]))
        manifest = writer.close(
            # Recorded for the import, which refuses a bundle whose source still runs.
            source=Source(found.server, found.kubernetes_version, left_paused=not paused_by_us
                          or (options.pause and options.leave_paused)),
            selection=options.selection,
            kinds=[info for gk, info in found.kinds.items() if gk in kinds_used],
            providers=found.providers,
            namespaces=namespaces,
            excluded=[e for e in graph.excluded if in_scope(e.ref, options.selection)],
            encryption=sealer.manifest_record() if sealer is not None else None,
        )
    return manifest


def _advancer(advance: Advance) -> Callable[[int, int], None]:
    """Turn (done, total) reports into increments of a progress task."""
    shown = 0

    def update(done: int, _total: int) -> None:
        nonlocal shown
        if done > shown:
            advance(done - shown)
            shown = done

    return update


def in_scope(ref: ObjectRef, selection: Selection) -> bool:
    """Whether an object is one the user selected, rather than one read for context.

    Objects read in other namespaces (where a shared ClusterClass lives, or a provider keeps
    identity Secrets) are not the user's to account for unless they move.
    """
    return selection.namespace is None or ref.namespace in ("", selection.namespace)


def _annotations(obj: Mapping[str, Any]) -> Mapping[str, str]:
    return (obj.get("metadata") or {}).get("annotations") or {}
