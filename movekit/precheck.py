"""Checks made before anything is paused or written: is every moved Cluster provisioned?

A Cluster moved before its infrastructure and control plane are up, or with a Machine that
has no Node yet, comes up in the target half-built and its controllers redo work that the
source's controllers were in the middle of. clusterctl refuses that; so do we, listing every
offending object at once.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from movekit.refs import GroupKind, ObjectRef

CLUSTER = GroupKind("cluster.x-k8s.io", "Cluster")
MACHINE = GroupKind("cluster.x-k8s.io", "Machine")


def provisioning_problems(objects: Iterable[Mapping[str, Any]]) -> list[str]:
    """One line per moved Cluster or Machine whose provisioning has not completed."""
    problems = []
    for obj in objects:
        ref = ObjectRef.of(obj)
        status = obj.get("status") or {}
        if ref.group_kind == CLUSTER:
            if not _infrastructure_provisioned(status):
                problems.append(f"{ref}: infrastructure is not provisioned yet")
            has_control_plane = bool((obj.get("spec") or {}).get("controlPlaneRef"))
            if has_control_plane and not _control_plane_initialized(status):
                problems.append(f"{ref}: control plane is not initialized yet "
                                "(condition ControlPlaneInitialized is not True)")
        elif ref.group_kind == MACHINE and not status.get("nodeRef"):
            problems.append(f"{ref}: has no nodeRef yet (its Node has not joined)")
    return sorted(problems)


def _infrastructure_provisioned(status: Mapping[str, Any]) -> bool:
    initialization = status.get("initialization") or {}
    # v1beta2 reports initialization.infrastructureProvisioned; v1beta1 infrastructureReady.
    return bool(initialization.get("infrastructureProvisioned")
                or status.get("infrastructureReady"))


def _control_plane_initialized(status: Mapping[str, Any]) -> bool:
    initialization = status.get("initialization") or {}
    if initialization.get("controlPlaneInitialized"):
        return True
    conditions = list(status.get("conditions") or [])
    # v1beta1 objects read at v1beta2 keep their old conditions under status.deprecated.v1beta1.
    conditions += ((status.get("deprecated") or {}).get("v1beta1") or {}).get("conditions") or []
    return any(c.get("type") == "ControlPlaneInitialized" and c.get("status") == "True"
               for c in conditions)
