"""A directory written by ``clusterctl move --to-directory``, turned into a movekit bundle.

``clusterctl move --from-directory`` rebuilds its object graph from the uids and ownerReferences
in the files, with the kinds the target cluster serves, and creates the objects owners first.
Here the same objects go through :func:`movekit.graph.build` (every namespace) and come out as
an ordinary bundle: sanitized, in waves, each owner recorded with the source uid from the files.
The importer then verifies, plans, adopts on a re-run and rewrites owner UIDs exactly as for a
bundle movekit exported. Objects the graph leaves out are the manifest's ``excluded``.

The files cannot tell whether a Cluster was paused before the move: clusterctl pauses every
Cluster and ClusterClass before it writes them. So, as ``clusterctl move --from-directory``
does, the import resumes all of them (``--leave-paused`` keeps them paused).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from movekit.bundle import BundleWriter, Source
from movekit.bundle.clusterctl import clusterctl_file_name
from movekit.entries import entry_for
from movekit.errors import InvalidBundle, PrecheckFailed
from movekit.graph import Graph, build
from movekit.model import KindInfo, Selection
from movekit.pause import is_pausable, unpaused_copy
from movekit.refs import GroupKind, ObjectRef, split_api_version
from movekit.sanitize import sanitize

# A clusterctl directory does not record its source. The .invalid domain is reserved (RFC 2606)
# and never resolves, so this can not be mistaken for a real API server.
UNKNOWN_SOURCE = Source("https://unknown.invalid", "")
EVERY_NAMESPACE = Selection(namespace=None)


def bundle_from_clusterctl_objects(objects: Iterable[Mapping[str, Any]],
                                   kinds: Mapping[GroupKind, KindInfo], work_dir: Path | str,
                                   *, origin: Path) -> Path:
    """Objects read by :func:`read_clusterctl_directory`, written as a bundle under ``work_dir``;
    ``kinds`` are the target's, ``origin`` names the directory in errors."""
    by_ref = {ObjectRef.of(obj): obj for obj in objects}
    _check_scopes(by_ref, kinds, origin)
    graph = build(by_ref.values(), kinds, EVERY_NAMESPACE)
    if not graph.moved:
        reasons = "; ".join(f"{e.ref}: {e.reason}" for e in graph.excluded[:5])
        raise PrecheckFailed(f"{origin}: nothing to import: no object is a Cluster, "
                             f"ClusterClass, ClusterResourceSet or labelled for move, or "
                             f"owned by one ({reasons})")
    target = Path(work_dir) / "bundle"
    try:
        with BundleWriter(target, archive=False) as writer:
            for ref in graph.moved:
                obj = by_ref[ref]
                pausable = is_pausable(ref)
                if pausable:
                    # The pause in the file is clusterctl's own; the importer pauses anew.
                    obj = unpaused_copy(obj)
                writer.add_object(entry_for(graph.nodes[ref], paused_by_us=pausable),
                                  sanitize(obj))
            writer.close(source=UNKNOWN_SOURCE, selection=EVERY_NAMESPACE,
                         kinds=_kind_entries(graph, kinds), excluded=graph.excluded)
    except ValueError as err:
        # A name or value no bundle can hold (the manifest schema says which).
        raise InvalidBundle(f"{origin}: {err}") from None
    return target


def _check_scopes(by_ref: Mapping[ObjectRef, Mapping[str, Any]],
                  kinds: Mapping[GroupKind, KindInfo], origin: Path) -> None:
    for ref in by_ref:
        info = kinds.get(ref.group_kind)
        if info is not None and info.namespaced != bool(ref.namespace):
            scope = "namespaced" if info.namespaced else "cluster-scoped"
            raise InvalidBundle(f"{origin}: {clusterctl_file_name(ref)}: {ref.group_kind} is "
                                f"{scope} in the target, but the file says otherwise")


def _kind_entries(graph: Graph, kinds: Mapping[GroupKind, KindInfo]) -> list[KindInfo]:
    """One entry per moved kind, at the version the files carry (the source's storage version,
    which may differ from the target's). No CRDs: a clusterctl directory carries none."""
    versions: dict[GroupKind, str] = {}
    for ref in graph.moved:
        versions.setdefault(ref.group_kind, split_api_version(graph.nodes[ref].api_version)[1])
    entries = []
    for gk, version in sorted(versions.items()):
        info = kinds.get(gk)
        if info is not None:
            entries.append(KindInfo(gk.group, version, gk.kind, info.plural, info.namespaced,
                                    None))
            continue
        # A kind the target does not know: the plan reports it. The plural is only descriptive;
        # the importer finds resources by apiVersion and kind.
        namespaced = any(ref.namespace for ref in graph.moved if ref.group_kind == gk)
        entries.append(KindInfo(gk.group, version, gk.kind, gk.kind.lower() + "s", namespaced,
                                None))
    return entries
