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

``verify`` and ``inspect`` read the same rebuilt bundle (:func:`rebuilt_bundle`) with no target
to ask: each kind is taken at the scope its files show (:func:`kinds_in_files`).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from movekit.bundle import Bundle, BundleWriter, Source, read_bundle
from movekit.bundle.clusterctl import clusterctl_file_name, read_clusterctl_directory
from movekit.contract import CLUSTER_API
from movekit.entries import entry_for
from movekit.errors import InvalidBundle, PrecheckFailed
from movekit.graph import Graph, build
from movekit.model import Exclusion, KindInfo, Reason, Selection
from movekit.pause import is_pausable, unpaused_copy
from movekit.refs import GroupKind, ObjectRef, split_api_version
from movekit.sanitize import sanitize

# A clusterctl directory does not record its source. The .invalid domain is reserved (RFC 2606)
# and never resolves, so this can not be mistaken for a real API server.
UNKNOWN_SOURCE = Source("https://unknown.invalid", "")
EVERY_NAMESPACE = Selection(namespace=None)
Kinds = Mapping[GroupKind, KindInfo]
# Why an object is left out when one of its ownerReferences names nothing in the directory.
DANGLING = (Reason.OWNER_MISSING, Reason.OWNER_KIND_UNKNOWN, Reason.OWNERSHIP_CYCLE)


@contextmanager
def rebuilt_bundle(path: Path, kinds_of: Callable[[], Kinds] | None = None) -> Iterator[Path]:
    """The clusterctl directory at ``path`` as a bundle in a private temporary directory, for
    as long as the ``with`` lasts, with the kinds ``kinds_of`` returns (the target's; without
    one, :func:`kinds_in_files`). Every file is read and checked before ``kinds_of`` is
    called: a hostile directory is refused before any request to the target."""
    objects = read_clusterctl_directory(path)
    kinds = kinds_of() if kinds_of is not None else kinds_in_files(objects, path)
    with tempfile.TemporaryDirectory(prefix="movekit-clusterctl-") as work:
        yield bundle_from_clusterctl_objects(objects, kinds, Path(work), origin=path)


@contextmanager
def clusterctl_view(path: Path) -> Iterator[Bundle]:
    """What ``verify`` and ``inspect`` show of a clusterctl directory: the bundle import would
    build from it (with the kinds of the files, as no target is asked), read back."""
    with rebuilt_bundle(path) as rebuilt:
        yield read_bundle(rebuilt)


def check_owners_resolve(bundle: Bundle, origin: Path) -> None:
    """InvalidBundle unless every ownerReference in the directory names an object in it (with
    the uid it records), without a cycle: what a directory clusterctl wrote always holds."""
    dangling: list[Exclusion] = [e for e in bundle.excluded if e.reason in DANGLING]
    if not dangling:
        return
    first = dangling[0]
    more = f" (and {len(dangling) - 1} more object(s) like it)" if len(dangling) > 1 else ""
    raise InvalidBundle(f"{origin}: {clusterctl_file_name(first.ref)}: {first.detail}{more}; "
                        "import would leave it out")


def kinds_in_files(objects: Sequence[Mapping[str, Any]], origin: Path
                   ) -> dict[GroupKind, KindInfo]:
    """With no target to ask: every kind a target could serve for a move (a CRD's kind, taken
    as labelled for clusterctl, and Secrets and ConfigMaps) that a file holds or an
    ownerReference names, at the version and scope the files show; InvalidBundle when two
    files disagree on a kind's scope. An owner of a kind no file holds is then reported as
    missing from the directory, not as of a kind that does not move.

    The files do not show a CRD's labels. clusterctl writes a cluster-scoped object only when
    its CRD is labelled move-hierarchy (a global identity), so a cluster-scoped kind is taken
    as so labelled."""
    kinds: dict[GroupKind, KindInfo] = {}
    for obj in objects:
        ref = ObjectRef.of(obj)
        info = _movable_kind(str(obj["apiVersion"]), ref.kind, bool(ref.namespace))
        if info is None:
            continue
        known = kinds.setdefault(ref.group_kind, info)
        if known.namespaced != info.namespaced:
            raise InvalidBundle(f"{origin}: {clusterctl_file_name(ref)}: {ref.group_kind} is "
                                "namespaced in some files and cluster-scoped in others")
    for obj in objects:
        namespaced = bool(ObjectRef.of(obj).namespace)
        for owner in obj["metadata"].get("ownerReferences") or ():
            info = _movable_kind(owner["apiVersion"], owner["kind"], namespaced)
            if info is not None:
                kinds.setdefault(info.group_kind, info)
    return kinds


def _movable_kind(api_version: str, kind: str, namespaced: bool) -> KindInfo | None:
    """A kind as :func:`kinds_in_files` assumes it is served; None for a built-in kind that
    no target serves as movable (import would find it so too)."""
    group, version = split_api_version(api_version)
    # Built-in groups have no dot ("", "apps", "batch"), as the graph tells them apart too.
    if "." not in group and GroupKind(group, kind) not in CLUSTER_API.always_moved:
        return None
    return KindInfo(group, version, kind, kind.lower() + "s", namespaced, None,
                    move_hierarchy=not namespaced)


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
