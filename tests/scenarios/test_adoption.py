"""Adoption: an object in the target is this bundle's own work only when it holds the bundle's
content. The ``movekit.io/bundle`` annotation anyone can write proves nothing by itself."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from kubesim.capi.topologies import TOPOLOGIES
from movekit.bundle import Bundle, ObjectEntry, read_bundle
from movekit.bundle.encryption import SecretKeys
from movekit.errors import PrecheckFailed
from movekit.export import ExportOptions, export_bundle
from movekit.importer import ImportOptions, ImportResult, import_bundle
from movekit.model import ConflictPolicy, Selection
from movekit.mover import remove_imported
from movekit.plan import BUNDLE_ANNOTATION, PlanOptions
from movekit.refs import ObjectRef
from tests.lanes import Env
from tests.scenarios.checks import assert_target_holds_bundle, target_objects


def _exported(src: Env, namespace: str, path: Path, **options: Any) -> Bundle:
    topology = TOPOLOGIES["cluster-alone"]
    src.seed(topology, namespace=namespace)
    with src.client() as client:
        export_bundle(client, ExportOptions(
            selection=Selection(namespace=namespace, clusters=frozenset(topology.clusters)),
            target=path, **options))
    return read_bundle(path)


def _import(dst: Env, path: Path, conflict: ConflictPolicy = ConflictPolicy.FAIL,
            keys: SecretKeys | None = None) -> ImportResult:
    with dst.client() as client:
        return import_bundle(client, path, ImportOptions(
            plan=PlanOptions(conflict=conflict), keys=keys or SecretKeys(),
            allow_active_source=True))


def _entry(bundle: Bundle, kind: str) -> ObjectEntry:
    """An entry of ``kind`` without owners, so the object can stand alone in the target."""
    return next(e for e in bundle.entries if e.ref.kind == kind and not e.owners)


# Ways to make an object with the bundle's annotation that is not what the bundle creates.
def _other_secret_value(obj: dict[str, Any]) -> None:
    key = sorted(obj["data"])[0]
    obj["data"][key] = "Zm9yZ2Vk"  # "forged"


def _other_cluster_network(obj: dict[str, Any]) -> None:
    obj["spec"]["clusterNetwork"] = {"pods": {"cidrBlocks": ["10.99.0.0/16"]}}


def _other_secret_type(obj: dict[str, Any]) -> None:
    obj["type"] = "Opaque" if obj.get("type") != "Opaque" else "kubernetes.io/basic-auth"


def _one_more_pod_cidr(obj: dict[str, Any]) -> None:
    obj["spec"]["clusterNetwork"]["pods"]["cidrBlocks"].append("10.99.0.0/16")


def _other_endpoint_port(obj: dict[str, Any]) -> None:
    obj["spec"]["controlPlaneEndpoint"]["port"] += 1


FORGERIES: dict[str, tuple[str, Callable[[dict[str, Any]], None]]] = {
    "secret-value": ("Secret", _other_secret_value),
    "secret-type": ("Secret", _other_secret_type),
    "cluster-network": ("Cluster", _other_cluster_network),
    "cluster-pod-cidrs": ("Cluster", _one_more_pod_cidr),
    "cluster-endpoint": ("Cluster", _other_endpoint_port),
}


def _plant(dst: Env, bundle: Bundle, entry: ObjectEntry,
           change: Callable[[dict[str, Any]], None] | None) -> dict[str, Any]:
    """Create in the target, under ``entry``'s identity, the bundle's object carrying the
    bundle's annotation, changed by ``change``; returns it as the target holds it."""
    body = copy.deepcopy(bundle.load(entry))
    body["metadata"].pop("managedFields", None)
    body["metadata"].setdefault("annotations", {})[BUNDLE_ANNOTATION] = bundle.digest
    if change is not None:
        change(body)
    with dst.client() as client:
        res = client.resource(entry.api_version, entry.ref.kind)
        assert res is not None
        ns_res = client.resource("v1", "Namespace")
        assert ns_res is not None
        if client.get(ns_res, "", entry.ref.namespace) is None:
            client.create(ns_res, {"apiVersion": "v1", "kind": "Namespace",
                                   "metadata": {"name": entry.ref.namespace}})
        return client.create(res, body)


def _forged(src: Env, dst: Env, namespace: str, path: Path, forgery: str
            ) -> tuple[Bundle, ObjectEntry, dict[str, Any]]:
    """An exported bundle, and in the target one object forged as the ``forgery`` says."""
    bundle = _exported(src, namespace, path)
    kind, change = FORGERIES[forgery]
    entry = _entry(bundle, kind)
    return bundle, entry, _plant(dst, bundle, entry, change)


def _live(dst: Env, bundle: Bundle) -> dict[ObjectRef, dict[str, Any]]:
    with dst.client() as client:
        return target_objects(client, bundle)


@pytest.mark.parametrize("forgery", FORGERIES)
def test_a_forged_annotation_with_other_content_fails_the_plan_and_writes_nothing(
    forgery: str, src: Env, dst: Env, namespace: str, tmp_path: Path
) -> None:
    bundle, entry, planted = _forged(src, dst, namespace, tmp_path / "b", forgery)

    with pytest.raises(PrecheckFailed) as refused:
        _import(dst, tmp_path / "b")

    assert (f"{entry.ref}: carries this bundle's {BUNDLE_ANNOTATION} annotation but differs "
            "from the bundle's object") in str(refused.value)
    assert "nothing was written" in str(refused.value)
    live = _live(dst, bundle)
    assert set(live) == {entry.ref}
    assert live[entry.ref]["metadata"]["resourceVersion"] == planted["metadata"]["resourceVersion"]


@pytest.mark.parametrize("forgery", FORGERIES)
def test_a_forged_annotation_with_other_content_is_skipped_under_conflict_skip(
    forgery: str, src: Env, dst: Env, namespace: str, tmp_path: Path
) -> None:
    bundle, entry, planted = _forged(src, dst, namespace, tmp_path / "b", forgery)

    result = _import(dst, tmp_path / "b", ConflictPolicy.SKIP)

    assert result.outcome is not None
    assert entry.ref in result.outcome.skipped
    assert (entry.ref.kind, "adopted") not in result.outcome.counts
    live = _live(dst, bundle)[entry.ref]
    assert live["metadata"]["uid"] == planted["metadata"]["uid"]
    assert live["metadata"]["resourceVersion"] == planted["metadata"]["resourceVersion"]


# A Secret's type is immutable: no update replaces it, forged or not.
@pytest.mark.parametrize("forgery", [f for f in FORGERIES if f != "secret-type"])
def test_a_forged_annotation_with_other_content_is_replaced_under_conflict_update(
    forgery: str, src: Env, dst: Env, namespace: str, tmp_path: Path
) -> None:
    bundle, entry, planted = _forged(src, dst, namespace, tmp_path / "b", forgery)

    result = _import(dst, tmp_path / "b", ConflictPolicy.UPDATE)

    assert result.outcome is not None
    assert result.outcome.counts[(entry.ref.kind, "updated")] == 1
    assert (entry.ref.kind, "adopted") not in result.outcome.counts
    assert _live(dst, bundle)[entry.ref]["metadata"]["uid"] == planted["metadata"]["uid"]
    with dst.client() as client:
        assert_target_holds_bundle(client, bundle)


@pytest.mark.parametrize("kind", ["Secret", "Cluster"])
def test_an_object_holding_the_bundle_content_and_annotation_is_adopted(
    kind: str, src: Env, dst: Env, namespace: str, tmp_path: Path
) -> None:
    bundle = _exported(src, namespace, tmp_path / "b")
    entry = _entry(bundle, kind)
    planted = _plant(dst, bundle, entry, None)

    result = _import(dst, tmp_path / "b")

    assert result.outcome is not None
    assert result.outcome.counts[(kind, "adopted")] == 1
    assert result.outcome.done[entry.ref] == planted["metadata"]["uid"]
    with dst.client() as client:
        assert_target_holds_bundle(client, bundle)


@pytest.mark.parametrize("forgery", FORGERIES)
def test_rollback_deletes_what_the_import_created_and_leaves_a_forged_object_alone(
    forgery: str, src: Env, dst: Env, namespace: str, tmp_path: Path
) -> None:
    bundle, entry, planted = _forged(src, dst, namespace, tmp_path / "b", forgery)
    _import(dst, tmp_path / "b", ConflictPolicy.SKIP)

    with dst.client() as client:
        removed = remove_imported(client, bundle)

    live = _live(dst, bundle)
    assert set(live) == {entry.ref}
    assert live[entry.ref]["metadata"]["uid"] == planted["metadata"]["uid"]
    assert removed == len(bundle.entries) - 1


def test_a_rerun_adopts_its_own_secrets_from_an_encrypted_bundle(
    src: Env, dst: Env, namespace: str, tmp_path: Path
) -> None:
    passphrase = tmp_path / "pass"
    passphrase.write_text("correct horse battery staple\n")
    bundle = _exported(src, namespace, tmp_path / "b", passphrase_file=passphrase)
    keys = SecretKeys(passphrase_file=passphrase)
    _import(dst, tmp_path / "b", keys=keys)
    uids = {ref: o["metadata"]["uid"] for ref, o in _live(dst, bundle).items()}

    again = _import(dst, tmp_path / "b", keys=keys)

    assert again.outcome is not None
    assert {action for (_, action) in again.outcome.counts} == {"adopted"}
    assert again.outcome.counts[("Secret", "adopted")] == sum(
        1 for e in bundle.entries if e.ref.kind == "Secret")
    assert {ref: o["metadata"]["uid"] for ref, o in _live(dst, bundle).items()} == uids
