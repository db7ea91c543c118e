"""The manifest entry of a moved graph node: where the graph meets the bundle format.

Both sides need it: export writes entries, and the importer of clusterctl's directories and the
move's target check make them from a graph of their own. :func:`clusters_of` reads the
membership back from entries alone.
"""

from __future__ import annotations

from collections.abc import Iterable

from movekit.bundle import ObjectEntry, Owner
from movekit.contract import CLUSTER
from movekit.graph import Node
from movekit.refs import ObjectRef


def entry_for(node: Node, paused_by_us: bool = False) -> ObjectEntry:
    """The manifest entry of a moved node."""
    # The pause state a Cluster had before movekit came is the one the target must get.
    was_paused = False if paused_by_us else node.paused
    return ObjectEntry(
        ref=node.ref,
        api_version=node.api_version,
        source_uid=node.uid,
        owners=[Owner(ref=o.ref, uid=o.uid, api_version=o.api_version, controller=o.controller,
                      block_owner_deletion=o.block_owner_deletion) for o in node.owners],
        soft_owners=list(node.soft_owners),
        wave=node.wave,
        is_global=node.is_global,
        keep_in_source=node.keep_in_source,
        was_paused=was_paused,
    )


def clusters_of(entries: Iterable[ObjectEntry]) -> dict[ObjectRef, tuple[ObjectRef, ...]]:
    """The Clusters each entry belongs to: itself if it is one, else those of its owners and
    soft owners, followed upwards through the entries (iteratively: a bundle is untrusted and
    its chains may be deep). None for what no Cluster holds (a ClusterClass, an identity)."""
    by_ref = {entry.ref: entry for entry in entries}
    found: dict[ObjectRef, tuple[ObjectRef, ...]] = {}
    for start in by_ref:
        stack, on_path = [start], set()
        while stack:
            ref = stack[-1]
            if ref in found:
                stack.pop()
                continue
            entry = by_ref[ref]
            parents = [o.ref for o in entry.owners] + list(entry.soft_owners)
            pending = [p for p in parents if p in by_ref and p not in found and p not in on_path]
            if ref.group_kind != CLUSTER and pending and ref not in on_path:
                on_path.add(ref)  # come back to it once its parents are known
                stack.extend(pending)
                continue
            clusters = {ref} if ref.group_kind == CLUSTER else {
                cluster for p in parents
                for cluster in ((p,) if p.group_kind == CLUSTER else found.get(p, ()))}
            found[ref] = tuple(sorted(clusters))
            on_path.discard(ref)
            stack.pop()
    return found
