"""The in-process store API: the same semantics as HTTP, without a socket."""

from __future__ import annotations

from typing import Any

import pytest
from kubernetes import client

from kubesim import ApiError, KubeSim
from tests.support import GROUP, widget


def test_created_objects_are_visible_over_http(sim: KubeSim, core: client.CoreV1Api) -> None:
    created = sim.store.create({"apiVersion": "v1", "kind": "Secret",
                                "metadata": {"name": "s", "namespace": "default"},
                                "stringData": {"k": "v"}})
    assert created["metadata"]["uid"] and created["data"] == {"k": "dg=="}
    assert created["metadata"]["managedFields"][0]["manager"] == "seed"
    assert core.read_namespaced_secret("s", "default").metadata.uid == created["metadata"]["uid"]


def test_store_create_refuses_what_post_refuses(sim: KubeSim) -> None:
    with pytest.raises(ApiError) as caught:
        sim.store.create({"apiVersion": "v1", "kind": "Secret",
                          "metadata": {"name": "s", "namespace": "absent"}})
    assert caught.value.code == 404


def test_reads_are_copies(sim: KubeSim) -> None:
    sim.store.create({"apiVersion": "v1", "kind": "ConfigMap",
                      "metadata": {"name": "c", "namespace": "default"}, "data": {"a": "1"}})
    copy = sim.store.get("", "configmaps", "default", "c")
    assert copy is not None
    copy["data"]["a"] = "changed"
    assert sim.store.get("", "configmaps", "default", "c")["data"] == {"a": "1"}  # type: ignore[index]


def test_mutate_is_an_update_with_generation_and_finalizer_rules(
        sim: KubeSim, widgets: str) -> None:
    sim.store.create(widget("w"))

    def grow(obj: dict[str, Any]) -> dict[str, Any]:
        obj["spec"]["size"] = 4
        obj["metadata"]["finalizers"] = ["example.com/x"]
        return obj

    updated = sim.store.mutate(GROUP, "widgets", "default", "w", grow, manager="controller")
    assert updated is not None
    assert updated["metadata"]["generation"] == 2
    assert ("controller", "Update") in [(e["manager"], e["operation"])
                                        for e in updated["metadata"]["managedFields"]]
    assert sim.store.mutate(GROUP, "widgets", "default", "w", lambda o: None) is None
    sim.store.delete(GROUP, "widgets", "default", "w")
    deleting = sim.store.get(GROUP, "widgets", "default", "w")
    assert deleting is not None and deleting["metadata"]["deletionTimestamp"]

    def release(obj: dict[str, Any]) -> dict[str, Any]:
        obj["metadata"]["finalizers"] = []
        return obj

    sim.store.mutate(GROUP, "widgets", "default", "w", release)
    assert sim.store.get(GROUP, "widgets", "default", "w") is None


def test_list_filters_by_namespace(sim: KubeSim) -> None:
    sim.store.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "a"}})
    for namespace in ("a", "default"):
        sim.store.create({"apiVersion": "v1", "kind": "Secret",
                          "metadata": {"name": "s", "namespace": namespace}})
    assert [o["metadata"]["namespace"] for o in sim.store.list("", "secrets")] == ["a", "default"]
    assert len(sim.store.list("", "secrets", "a")) == 1
