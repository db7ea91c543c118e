"""Deletion: finalizers, deletionTimestamp, namespace termination, owner garbage collection.

The differential tests (``kube``: with a garbage collector; ``no_gc``: without one) send the
same requests to kubesim and to a real control plane and assert the same outcome. What they
hold was read off kube-apiserver v1.36: an Orphan or Foreground DELETE answers 200 with the
object, now carrying ``deletionTimestamp`` and the ``orphan`` or ``foregroundDeletion``
finalizer, whether or not a garbage collector runs; only the collector (in
kube-controller-manager) finishes it.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from kubernetes import client

from kubesim import KubeSim
from kubesim.envtest import ControlPlane
from tests.conftest import KUBESIM, REAL, Kube
from tests.conftest import eventually as eventually_on_both
from tests.support import GROUP, error_of, raw, widget


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
    core.create_namespaced_secret("default", _owned("orphan", [
        {"apiVersion": "v1", "kind": "ConfigMap", "name": "x", "uid": "no-such-uid"}]))
    sim.wait_idle()
    assert sim.store.get("", "secrets", "default", "orphan") is None


def test_without_garbage_collection_dependents_stay(sim: KubeSim, core: client.CoreV1Api) -> None:
    sim.gc = False
    owner = core.create_namespaced_config_map("default", {"metadata": {"name": "a"}}).metadata
    core.create_namespaced_secret("default", _owned("dep", [
        {"apiVersion": "v1", "kind": "ConfigMap", "name": "a", "uid": owner.uid}]))
    core.delete_namespaced_config_map("a", "default")
    sim.wait_idle()
    assert sim.store.get("", "secrets", "default", "dep") is not None


def test_turning_the_garbage_collector_on_finishes_the_deletes_that_waited_for_it(
        sim: KubeSim, core: client.CoreV1Api) -> None:
    sim.gc = False
    owner = core.create_namespaced_config_map("default", {"metadata": {"name": "a"}}).metadata
    core.create_namespaced_secret("default", _owned("dep", [
        {"apiVersion": "v1", "kind": "ConfigMap", "name": "a", "uid": owner.uid}]))
    core.delete_namespaced_config_map("a", "default", propagation_policy="Orphan")
    sim.wait_idle()
    assert core.read_namespaced_config_map("a", "default").metadata.finalizers == ["orphan"]

    sim.gc = True

    sim.wait_idle()
    assert sim.store.get("", "configmaps", "default", "a") is None
    assert not core.read_namespaced_secret("dep", "default").metadata.owner_references


# --------------------------------------------------------------------------- both servers


@pytest.fixture(params=[KUBESIM, REAL])
def no_gc(request: pytest.FixtureRequest) -> Iterator[Kube]:
    """An API server that no garbage collector watches: kubesim with ``gc=False``, or a real
    kube-apiserver without a controller manager."""
    ns = f"t-{uuid.uuid4().hex[:10]}"
    if request.param == KUBESIM:
        with KubeSim(tls=True, gc=False) as sim, sim.api_client() as api:
            client.CoreV1Api(api).create_namespace({"metadata": {"name": ns}})
            yield Kube(KUBESIM, sim, api, ns, sim, set())
        return
    plane: ControlPlane = request.getfixturevalue("bare_plane")
    assert not plane.gc
    with plane.api_client() as api:
        client.CoreV1Api(api).create_namespace({"metadata": {"name": ns}})
        yield Kube(REAL, plane, api, ns, None, set())


def _config_map(kube: Kube, name: str, owners: list[Any] | None = None,
                finalizers: list[str] | None = None) -> Any:
    """Create a ConfigMap in the test's namespace (owned by ``owners``); its metadata."""
    meta: dict[str, Any] = {"name": name}
    if owners:
        meta["ownerReferences"] = [
            {"apiVersion": "v1", "kind": "ConfigMap", "name": o.name, "uid": o.uid, **extra}
            for o, extra in owners]
    if finalizers:
        meta["finalizers"] = finalizers
    return kube.core.create_namespaced_config_map(kube.ns, {"metadata": meta}).metadata


def _delete(kube: Kube, name: str, options: dict[str, Any] | None = None,
            query: str = "") -> tuple[int, Any]:
    code, body, _ = kube.raw("DELETE", f"/api/v1/namespaces/{kube.ns}/configmaps/{name}{query}",
                             options)
    return code, body


def _live(kube: Kube, name: str) -> dict[str, Any] | None:
    """The ConfigMap's metadata as the server holds it now, or None once it is gone."""
    code, body, _ = kube.raw("GET", f"/api/v1/namespaces/{kube.ns}/configmaps/{name}")
    return None if code == 404 else dict(body["metadata"])


def _owner_uids(kube: Kube, name: str) -> list[str]:
    meta = _live(kube, name)
    assert meta is not None, f"{name} is gone"
    return [r["uid"] for r in meta.get("ownerReferences") or []]


@pytest.mark.parametrize(("options", "finalizer"), [
    ({"propagationPolicy": "Orphan"}, "orphan"),
    ({"orphanDependents": True}, "orphan"),
    ({"propagationPolicy": "Foreground"}, "foregroundDeletion"),
])
def test_an_orphan_or_foreground_delete_answers_the_object_marked_for_deletion(
        no_gc: Kube, options: dict[str, Any], finalizer: str) -> None:
    _config_map(no_gc, "a")

    code, body = _delete(no_gc, "a", options)

    assert (code, body["kind"]) == (200, "ConfigMap")
    assert body["metadata"]["finalizers"] == [finalizer]
    assert body["metadata"]["deletionTimestamp"]
    assert body["metadata"]["deletionGracePeriodSeconds"] == 0
    assert _live(no_gc, "a") == body["metadata"]


@pytest.mark.parametrize(("policy", "finalizer"), [
    ("Orphan", "orphan"), ("Foreground", "foregroundDeletion")])
def test_without_a_garbage_collector_an_orphan_or_foreground_delete_never_finishes(
        no_gc: Kube, policy: str, finalizer: str) -> None:
    owner = _config_map(no_gc, "owner")
    _config_map(no_gc, "dependent", [(owner, {"blockOwnerDeletion": True})])

    _delete(no_gc, "owner", {"propagationPolicy": policy})

    if no_gc.sim is not None:
        no_gc.sim.wait_idle()  # a bare apiserver has nothing that could still be working
    still = _live(no_gc, "owner")
    assert still is not None and still["finalizers"] == [finalizer]
    assert _owner_uids(no_gc, "dependent") == [owner.uid]


def test_a_garbage_collector_finishes_an_orphan_delete_after_unowning_the_dependents(
        kube: Kube) -> None:
    owner = _config_map(kube, "owner")
    other = _config_map(kube, "other")
    _config_map(kube, "only-owner", [(owner, {"blockOwnerDeletion": True})])
    _config_map(kube, "both", [(owner, {}), (other, {})])

    code, body = _delete(kube, "owner", {"propagationPolicy": "Orphan"})

    assert (code, body["metadata"]["finalizers"]) == (200, ["orphan"])
    assert eventually_on_both(lambda: _live(kube, "owner") is None)
    assert _owner_uids(kube, "only-owner") == []
    assert _owner_uids(kube, "both") == [other.uid]


def test_a_garbage_collector_finishes_a_foreground_delete_after_the_dependents(
        kube: Kube) -> None:
    owner = _config_map(kube, "owner")
    other = _config_map(kube, "other")
    _config_map(kube, "blocking", [(owner, {"blockOwnerDeletion": True})])
    _config_map(kube, "not-blocking", [(owner, {})])
    _config_map(kube, "shared", [(owner, {"blockOwnerDeletion": True}), (other, {})])

    code, body = _delete(kube, "owner", {"propagationPolicy": "Foreground"})

    assert (code, body["metadata"]["finalizers"]) == (200, ["foregroundDeletion"])
    assert eventually_on_both(lambda: _live(kube, "owner") is None)
    assert eventually_on_both(lambda: _live(kube, "not-blocking") is None)
    assert _live(kube, "blocking") is None
    assert _owner_uids(kube, "shared") == [other.uid]


def test_a_custom_resource_is_deleted_at_once_by_default_and_marked_by_an_orphan_delete(
        no_gc: Kube) -> None:
    no_gc.widgets()
    for name in ("now", "later"):
        no_gc.custom.create_namespaced_custom_object(GROUP, "v1", no_gc.ns, "widgets",
                                                     widget(name, namespace=no_gc.ns))

    gone = no_gc.raw("DELETE", f"{no_gc.path()}/now")
    marked = no_gc.raw("DELETE", f"{no_gc.path()}/later", {"propagationPolicy": "Orphan"})
    again = no_gc.raw("DELETE", f"{no_gc.path()}/later", {"propagationPolicy": "Orphan"})

    assert (gone[0], gone[1]["kind"], gone[1]["status"]) == (200, "Status", "Success")
    assert (marked[0], marked[1]["kind"]) == (200, "Widget")
    assert marked[1]["metadata"]["finalizers"] == ["orphan"]
    assert marked[1]["metadata"]["generation"] == 2  # markAsDeleting bumps it, once
    assert again[:2] == marked[:2]


def test_a_later_delete_swaps_or_drops_the_garbage_collector_finalizer(no_gc: Kube) -> None:
    _config_map(no_gc, "held", finalizers=["example.com/hold"])
    seen = []
    for options in (None, {"propagationPolicy": "Orphan"}, {"propagationPolicy": "Foreground"},
                    {"orphanDependents": True}, {}, {"propagationPolicy": "Background"}):
        code, body = _delete(no_gc, "held", options)
        seen.append((code, body["metadata"]["finalizers"]))

    assert seen == [(200, ["example.com/hold"]),
                    (200, ["example.com/hold", "orphan"]),
                    (200, ["example.com/hold", "foregroundDeletion"]),
                    (200, ["example.com/hold", "orphan"]),
                    (200, ["example.com/hold", "orphan"]),  # no policy: the finalizer stays
                    (200, ["example.com/hold"])]


def test_a_background_delete_of_an_object_awaiting_orphaning_removes_it_at_once(
        no_gc: Kube) -> None:
    owner = _config_map(no_gc, "owner")
    _config_map(no_gc, "dependent", [(owner, {})])
    _delete(no_gc, "owner", {"propagationPolicy": "Orphan"})

    code, body = _delete(no_gc, "owner", {"propagationPolicy": "Background"})

    assert (code, body["kind"], body["status"]) == (200, "Status", "Success")
    assert _live(no_gc, "owner") is None
    # Never un-owned: a garbage collector would now take the dependent along.
    assert _owner_uids(no_gc, "dependent") == [owner.uid]


def test_orphan_dependents_false_answers_202_only_while_the_object_stays(no_gc: Kube) -> None:
    _config_map(no_gc, "held", finalizers=["example.com/hold"])
    _config_map(no_gc, "free")

    held = _delete(no_gc, "held", {"orphanDependents": False})
    free = _delete(no_gc, "free", {"orphanDependents": False})

    assert (held[0], held[1]["kind"], held[1]["metadata"]["finalizers"]) == (
        202, "ConfigMap", ["example.com/hold"])
    assert (free[0], free[1]["kind"]) == (200, "Status")


def test_orphan_dependents_and_a_propagation_policy_together_are_invalid(no_gc: Kube) -> None:
    _config_map(no_gc, "a")

    code, body = _delete(no_gc, "a", {"orphanDependents": True, "propagationPolicy": "Orphan"})

    assert (code, body["reason"]) == (422, "Invalid")
    assert body["message"] == (
        'DeleteOptions.meta.k8s.io "" is invalid: propagationPolicy: Invalid value: "Orphan": '
        "orphanDependents and deletionPropagation cannot be both set")
    assert _live(no_gc, "a") is not None


def test_the_query_sets_delete_options_only_when_the_request_has_no_body(no_gc: Kube) -> None:
    _config_map(no_gc, "with-body")
    _config_map(no_gc, "without-body")

    ignored = _delete(no_gc, "with-body", {}, query="?propagationPolicy=Orphan")
    used = _delete(no_gc, "without-body", None, query="?propagationPolicy=Orphan")

    assert (ignored[0], ignored[1]["kind"]) == (200, "Status")
    assert (used[0], used[1]["metadata"]["finalizers"]) == (200, ["orphan"])
