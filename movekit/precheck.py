"""Checks made before anything is paused or written: is every moved Cluster provisioned?

A Cluster moved before its infrastructure and control plane are up, or with a Machine that
has no Node yet, comes up in the target half-built and its controllers redo work that the
source's controllers were in the middle of. clusterctl refuses that; so do we, listing every
offending object at once.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from movekit.contract import CLUSTER_API, Contract, Readiness, field_value
from movekit.refs import ObjectRef


def provisioning_problems(objects: Iterable[Mapping[str, Any]],
                          contract: Contract = CLUSTER_API) -> list[str]:
    """One line per failed readiness check of a moved object (a Cluster, a Machine ...)."""
    problems = []
    for obj in objects:
        ref = ObjectRef.of(obj)
        for check in contract.readiness.get(ref.group_kind, ()):
            if not _passes(obj, check):
                problems.append(f"{ref}: {check.message}")
    return sorted(problems)


def _passes(obj: Mapping[str, Any], check: Readiness) -> bool:
    if check.when is not None and not field_value(obj, check.when):
        return True
    if any(field_value(obj, path) for path in check.any_set):
        return True
    for path in check.conditions:
        conditions = field_value(obj, path)
        if any(isinstance(c, Mapping) and c.get("type") == check.condition_type
               and c.get("status") == "True" for c in conditions or ()):
            return True
    return False
