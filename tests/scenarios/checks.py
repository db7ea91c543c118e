"""What a user checks after an import: the target holds the bundle, exactly, and nothing else."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from movekit.bundle import Bundle
from movekit.kube import KubeClient
from movekit.plan import BUNDLE_ANNOTATION, remap_ref
from movekit.refs import ObjectRef
from movekit.remap import remap_object


def comparable(obj: Mapping[str, Any]) -> dict[str, Any]:
    """The parts of an object a move must carry over unchanged."""
    meta = obj.get("metadata") or {}
    annotations = {k: v for k, v in (meta.get("annotations") or {}).items()
                   if k != BUNDLE_ANNOTATION}
    body = {k: v for k, v in obj.items() if k not in ("metadata", "status", "apiVersion", "kind")}
    spec = body.get("spec")
    if isinstance(spec, dict) and obj.get("kind") == "Cluster":
        body["spec"] = {k: v for k, v in spec.items() if k != "paused"}
    return {
        "name": meta.get("name"),
        "namespace": meta.get("namespace", ""),
        "labels": meta.get("labels") or {},
        "annotations": annotations,
        "finalizers": meta.get("finalizers") or [],
        "body": body,
    }


def target_objects(
    client: KubeClient, bundle: Bundle, namespace_map: Mapping[str, str] | None = None
) -> dict[ObjectRef, dict[str, Any]]:
    """Every object in the target under the bundle's identities (after namespace mapping)."""
    mapping = namespace_map or {}
    found: dict[ObjectRef, dict[str, Any]] = {}
    for entry in bundle.entries:
        res = client.resource(entry.api_version, entry.ref.kind)
        assert res is not None, f"{entry.api_version} {entry.ref.kind} not served"
        ref = remap_ref(entry.ref, mapping)
        obj = client.get(res, ref.namespace, ref.name)
        if obj is not None:
            found[ref] = obj
    return found


def assert_target_holds_bundle(client: KubeClient, bundle: Bundle, *, paused: bool = False,
                               namespace_map: Mapping[str, str] | None = None) -> None:
    """Every object with the bundle's content, owners pointing at the target's UIDs, the
    pause state the source had (or paused when the import left them so), no movekit manager."""
    mapping = namespace_map or {}
    live = target_objects(client, bundle, mapping)
    missing = [str(e.ref) for e in bundle.entries if remap_ref(e.ref, mapping) not in live]
    assert not missing, f"missing in target: {missing}"
    uid_of = {ref: obj["metadata"]["uid"] for ref, obj in live.items()}
    for entry in bundle.entries:
        ref = remap_ref(entry.ref, mapping)
        obj = live[ref]
        if not entry.is_global:
            expected = remap_object(bundle.load(entry), mapping)
            assert comparable(obj) == comparable(expected), f"{ref} differs"
        owners = {(o["kind"], o["name"]): o for o in obj["metadata"].get("ownerReferences", [])}
        for owner in entry.owners:
            owner_ref = remap_ref(owner.ref, mapping)
            written = owners[(owner.ref.kind, owner.ref.name)]
            assert written["uid"] == uid_of[owner_ref], f"{ref}: owner {owner_ref} uid"
            assert written.get("controller") == owner.controller
            assert written.get("blockOwnerDeletion") == owner.block_owner_deletion
        managers = {m.get("manager") for m in obj["metadata"].get("managedFields") or []}
        assert "movekit" not in managers, f"{ref}: movekit left as a field manager"
        if entry.ref.kind == "Cluster" and entry.ref.group == "cluster.x-k8s.io":
            want = True if (paused or entry.was_paused) else None
            assert obj["spec"].get("paused") == want, f"{ref}: paused"
