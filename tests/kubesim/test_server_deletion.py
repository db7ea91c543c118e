"""Deletion: finalizers, deletionTimestamp, namespace termination, owner garbage collection."""

from __future__ import annotations

import time
from collections.abc import Callable

from kubernetes import client

from movekit.kubesim import KubeSim
from tests.kubesim.support import GROUP, error_of, raw, widget


def eventually(check: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.005)


def test_delete_without_finalizers_answers_a_success_status(
        sim: KubeSim, custom: client.CustomObjectsApi, widgets: str) -> None:
    created = custom.create_namespaced_custom_object(GROUP, "v1", "default", "widgets",
                                                     widget("w"))
    code, body, _ = raw(sim, "DELETE", f"/apis/{GROUP}/v1/namespaces/default/widgets/w")
    assert code == 200
    assert body == {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                    "details": {"name": "w", "group": GROUP, "kind": "widgets",
                                "uid": created["metadata"]["uid"]}}


def test_finalizers_keep_a_deleted_object_until_they_are_removed(
        sim: KubeSim, custom: client.CustomObjectsApi, widgets: str) -> None:
    body = widget("w")
    body["metadata"]["finalizers"] = ["example.com/cleanup"]
    custom.create_namespaced_custom_object(GROUP, "v1", "default", "widgets", body)
    code, deleting, _ = raw(sim, "DELETE", f"/apis/{GROUP}/v1/namespaces/default/widgets/w")
    assert code == 200
    assert deleting["metadata"]["deletionTimestamp"]
    assert deleting["metadata"]["deletionGracePeriodSeconds"] == 0
    assert deleting["metadata"]["generation"] == 2
    still = custom.get_namespaced_custom_object(GROUP, "v1", "default", "widgets", "w")
    assert still["metadata"]["deletionTimestamp"] == deleting["metadata"]["deletionTimestamp"]
    custom.patch_namespaced_custom_object(GROUP, "v1", "default", "widgets", "w",
                                          {"metadata": {"finalizers": None}})
    code, _, _ = error_of(lambda: custom.get_namespaced_custom_object(
        GROUP, "v1", "default", "widgets", "w"))
    assert code == 404


def test_no_finalizer_may_be_added_while_deleting(
        sim: KubeSim, custom: client.CustomObjectsApi, widgets: str) -> None:
    body = widget("w")
    body["metadata"]["finalizers"] = ["example.com/a"]
    custom.create_namespaced_custom_object(GROUP, "v1", "default", "widgets", body)
    raw(sim, "DELETE", f"/apis/{GROUP}/v1/namespaces/default/widgets/w")
    code, body, _ = error_of(lambda: custom.patch_namespaced_custom_object(
        GROUP, "v1", "default", "widgets", "w",
        {"metadata": {"finalizers": ["example.com/a", "example.com/b"]}}))
    assert code == 422
    assert "no new finalizers can be added if the object is being deleted" in body["message"]


def test_deleting_a_namespace_terminates_it_and_removes_its_objects(
        sim: KubeSim, core: client.CoreV1Api) -> None:
    core.create_namespace({"metadata": {"name": "prod"}})
    core.create_namespaced_secret("prod", {"metadata": {"name": "s"}})
    code, namespace, _ = raw(sim, "DELETE", "/api/v1/namespaces/prod")
    assert code == 200 and namespace["status"]["phase"] == "Terminating"
    eventually(lambda: raw(sim, "GET", "/api/v1/namespaces/prod")[0] == 404)
    assert sim.store.list("", "secrets", "prod") == []


def test_a_terminating_namespace_refuses_new_objects(
        sim: KubeSim, core: client.CoreV1Api, custom: client.CustomObjectsApi,
        widgets: str) -> None:
    core.create_namespace({"metadata": {"name": "prod"}})
    held = widget("held", namespace="prod")
    held["metadata"]["finalizers"] = ["example.com/hold"]
    custom.create_namespaced_custom_object(GROUP, "v1", "prod", "widgets", held)
    core.delete_namespace("prod")
    code, body, _ = error_of(lambda: core.create_namespaced_config_map(
        "prod", {"metadata": {"name": "late"}}))
    assert (code, body["reason"]) == (403, "Forbidden")
    assert body["message"] == ('configmaps "late" is forbidden: unable to create new content in '
                               "namespace prod because it is being terminated")
    assert body["details"]["causes"][0]["reason"] == "NamespaceTerminating"
    sim.wait_idle()
    assert core.read_namespace("prod").status.phase == "Terminating"
    custom.patch_namespaced_custom_object(GROUP, "v1", "prod", "widgets", "held",
                                          {"metadata": {"finalizers": None}})
    eventually(lambda: raw(sim, "GET", "/api/v1/namespaces/prod")[0] == 404)


def test_new_namespaces_get_the_root_ca_config_map_and_default_service_account(
        sim: KubeSim, core: client.CoreV1Api) -> None:
    core.create_namespace({"metadata": {"name": "team"}})
    sim.wait_idle()
    assert core.read_namespaced_config_map("kube-root-ca.crt", "team").data["ca.crt"].startswith(
        "-----BEGIN CERTIFICATE-----")
    assert core.read_namespaced_service_account("default", "team").metadata.name == "default"
    assert core.read_namespace("team").metadata.labels == {"kubernetes.io/metadata.name": "team"}
    assert core.read_namespace("team").spec.finalizers == ["kubernetes"]


def _owned(name: str, owners: list[dict[str, object]]) -> dict[str, object]:
    return {"metadata": {"name": name, "ownerReferences": owners}}


def test_garbage_collection_deletes_objects_whose_owners_are_all_gone(
        sim: KubeSim, core: client.CoreV1Api) -> None:
    sim.gc = True
    a = core.create_namespaced_config_map("default", {"metadata": {"name": "a"}}).metadata
    b = core.create_namespaced_config_map("default", {"metadata": {"name": "b"}}).metadata
    ref_a = {"apiVersion": "v1", "kind": "ConfigMap", "name": "a", "uid": a.uid}
    ref_b = {"apiVersion": "v1", "kind": "ConfigMap", "name": "b", "uid": b.uid}
    core.create_namespaced_secret("default", _owned("both", [ref_a, ref_b]))
    core.create_namespaced_secret("default", _owned("only-a", [ref_a]))
    core.delete_namespaced_config_map("a", "default")
    sim.wait_idle()
    assert sim.store.get("", "secrets", "default", "only-a") is None
    survivor = core.read_namespaced_secret("both", "default")
    assert [r.uid for r in survivor.metadata.owner_references] == [b.uid]


def test_garbage_collection_deletes_dependents_of_an_owner_that_never_existed(
        sim: KubeSim, core: client.CoreV1Api) -> None:
    sim.gc = True
    core.create_namespaced_secret("default", _owned("orphan", [
        {"apiVersion": "v1", "kind": "ConfigMap", "name": "x", "uid": "no-such-uid"}]))
    sim.wait_idle()
    assert sim.store.get("", "secrets", "default", "orphan") is None


def test_without_garbage_collection_dependents_stay(sim: KubeSim, core: client.CoreV1Api) -> None:
    owner = core.create_namespaced_config_map("default", {"metadata": {"name": "a"}}).metadata
    core.create_namespaced_secret("default", _owned("dep", [
        {"apiVersion": "v1", "kind": "ConfigMap", "name": "a", "uid": owner.uid}]))
    core.delete_namespaced_config_map("a", "default")
    sim.wait_idle()
    assert sim.store.get("", "secrets", "default", "dep") is not None


def test_orphan_propagation_keeps_dependents_without_the_owner_reference(
        sim: KubeSim, core: client.CoreV1Api) -> None:
    sim.gc = True
    owner = core.create_namespaced_config_map("default", {"metadata": {"name": "a"}}).metadata
    core.create_namespaced_secret("default", _owned("dep", [
        {"apiVersion": "v1", "kind": "ConfigMap", "name": "a", "uid": owner.uid}]))
    core.delete_namespaced_config_map("a", "default", propagation_policy="Orphan")
    sim.wait_idle()
    assert sim.store.get("", "configmaps", "default", "a") is None
    dependent = core.read_namespaced_secret("dep", "default")
    assert not dependent.metadata.owner_references


def test_foreground_deletion_removes_dependents_before_the_owner(
        sim: KubeSim, core: client.CoreV1Api) -> None:
    sim.gc = True
    owner = core.create_namespaced_config_map("default", {"metadata": {"name": "a"}}).metadata
    core.create_namespaced_secret("default", _owned("dep", [
        {"apiVersion": "v1", "kind": "ConfigMap", "name": "a", "uid": owner.uid,
         "blockOwnerDeletion": True}]))
    code, body, _ = raw(sim, "DELETE", "/api/v1/namespaces/default/configmaps/a",
                        {"propagationPolicy": "Foreground"})
    assert code == 200 and body["metadata"]["finalizers"] == ["foregroundDeletion"]
    sim.wait_idle()
    assert sim.store.get("", "secrets", "default", "dep") is None
    assert sim.store.get("", "configmaps", "default", "a") is None
