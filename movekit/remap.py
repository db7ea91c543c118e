"""Namespace remapping: move objects to other namespaces and rewrite what refers to them.

Cluster API objects point at each other with ``*Ref`` fields (``infrastructureRef``,
``controlPlaneRef``, ``spec.topology.classRef`` ...) that may carry a ``namespace``. For kinds
of the Cluster API groups those are rewritten; other kinds are moved as they are and
reported, because movekit cannot know which of their fields name a namespace.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from movekit.contract import CLUSTER_API, Contract, field_value
from movekit.refs import split_api_version


def knows_references(api_version: str, kind: str, contract: Contract = CLUSTER_API) -> bool:
    """Whether every namespace reference in this kind is found by :func:`remap_object`."""
    group, _ = split_api_version(api_version)
    return contract.knows_references(group, kind)


def remap_object(obj: Mapping[str, Any], namespace_map: Mapping[str, str],
                 contract: Contract = CLUSTER_API) -> dict[str, Any]:
    """A copy of ``obj`` with its namespace and its known namespace references remapped."""
    result = copy.deepcopy(dict(obj))
    if not namespace_map:
        return result
    meta = result.setdefault("metadata", {})
    if meta.get("namespace") in namespace_map:
        meta["namespace"] = namespace_map[meta["namespace"]]
    if knows_references(str(result.get("apiVersion", "")), str(result.get("kind", "")),
                        contract):
        spec = result.get("spec")
        if isinstance(spec, dict):
            _remap_refs(spec, namespace_map, contract.reference_key_suffixes)
        for *parents, last in contract.namespace_fields:
            holder = field_value(result, tuple(parents))
            if isinstance(holder, dict) and holder.get(last) in namespace_map:
                holder[last] = namespace_map[holder[last]]
    return result


def _remap_refs(node: Any, namespace_map: Mapping[str, str], suffixes: tuple[str, ...],
                key: str = "") -> None:
    if isinstance(node, dict):
        if key.endswith(suffixes) and node.get("namespace") in namespace_map:
            node["namespace"] = namespace_map[node["namespace"]]
        for child_key, child in node.items():
            _remap_refs(child, namespace_map, suffixes, child_key)
    elif isinstance(node, list):
        for item in node:
            _remap_refs(item, namespace_map, suffixes, key)
