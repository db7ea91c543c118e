"""The manifest entry of a moved graph node: where the graph meets the bundle format.

Both sides need it: export writes entries, and the importer of clusterctl's directories and the
move's target check make them from a graph of their own.
"""

from __future__ import annotations

from movekit.bundle import ObjectEntry, Owner
from movekit.graph import Node


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
