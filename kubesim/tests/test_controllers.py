"""The simulated Cluster API controllers add finalizers, honour pause, delete, hold block-move."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from kubernetes import client

from kubesim import KubeSim
from kubesim.capi.install import ensure_namespace, install_crds
from kubesim.controllers import BLOCK_MOVE_ANNOTATION, CapiControllers
from kubesim.refs import ObjectRef

CAPI = "cluster.x-k8s.io"
INFRA = "infrastructure.cluster.x-k8s.io"
PLURALS = {"Cluster": "clusters", "Machine": "machines", "DockerCluster": "dockerclusters"}
GROUPS = {"Cluster": CAPI, "Machine": CAPI, "DockerCluster": INFRA}
_namespaces = itertools.count()


@pytest.fixture(scope="module")
def sim() -> Iterator[KubeSim]:
    with KubeSim(capi_controllers=True) as server:
        install_crds(server.api_client(), kinds=list(PLURALS))
        yield server


@pytest.fixture
def controllers(sim: KubeSim) -> Iterator[CapiControllers]:
    ctrl: CapiControllers = sim.controllers
    yield ctrl
    ctrl.add_finalizers = ctrl.remove_finalizers = True
    ctrl.provision = False
    ctrl.release_block_move()
    ctrl.infra_deleted.clear()


@pytest.fixture
def namespace(sim: KubeSim) -> str:
    name = f"ns-{next(_namespaces)}"
    ensure_namespace(sim.api_client(), name)
    return name


def manifest(
    kind: str,
    name: str,
    *,
    cluster: str | None = None,
    paused: bool = False,
    annotations: dict[str, str] | None = None,
) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name}
    if cluster:
        metadata["labels"] = {"cluster.x-k8s.io/cluster-name": cluster}
    if annotations:
        metadata["annotations"] = annotations
    spec: dict[str, Any] = {"controlPlaneEndpoint": {"host": "172.18.0.3", "port": 6443}}
    if kind == "Cluster" and paused:
        spec["paused"] = True
    if kind == "Machine":
        spec = {
            "clusterName": cluster or "c1",
            "bootstrap": {"dataSecretName": name},
            "infrastructureRef": {"apiGroup": INFRA, "kind": "DockerMachine", "name": name},
        }
    return {
        "apiVersion": f"{GROUPS[kind]}/v1beta2",
        "kind": kind,
        "metadata": metadata,
        "spec": spec,
    }


def create(sim: KubeSim, namespace: str, body: dict[str, Any]) -> None:
    kind = body["kind"]
    client.CustomObjectsApi(sim.api_client()).create_namespaced_custom_object(
        GROUPS[kind], "v1beta2", namespace, PLURALS[kind], body
    )


def read(sim: KubeSim, namespace: str, kind: str, name: str) -> dict[str, Any] | None:
    try:
        obj: dict[str, Any] = client.CustomObjectsApi(
            sim.api_client()
        ).get_namespaced_custom_object(GROUPS[kind], "v1beta2", namespace, PLURALS[kind], name)
    except client.ApiException as err:
        if err.status == 404:
            return None
        raise
    return obj


def eventually(check: Callable[[], bool], timeout: float = 3.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.02)
    return check()


def finalizers(sim: KubeSim, namespace: str, kind: str, name: str) -> list[str]:
    obj = read(sim, namespace, kind, name) or {}
    return list((obj.get("metadata") or {}).get("finalizers") or [])


FINALIZER_CASES = [
    ("Cluster", "cluster.cluster.x-k8s.io"),
    ("Machine", "machine.cluster.x-k8s.io"),
    ("DockerCluster", "dockercluster.infrastructure.cluster.x-k8s.io"),
]


@pytest.mark.parametrize(
    ("kind", "finalizer"), FINALIZER_CASES, ids=[c[0] for c in FINALIZER_CASES]
)
def test_controllers_add_their_finalizer(
    sim: KubeSim, controllers: CapiControllers, namespace: str, kind: str, finalizer: str
) -> None:
    create(sim, namespace, manifest(kind, "obj", cluster="c1"))
    assert eventually(lambda: finalizers(sim, namespace, kind, "obj") == [finalizer])


PAUSE_CASES: list[tuple[str, list[dict[str, Any]], tuple[str, str]]] = [
    ("a Cluster with spec.paused", [manifest("Cluster", "c1", paused=True)], ("Cluster", "c1")),
    (
        "an object annotated paused",
        [manifest("DockerCluster", "d1", annotations={"cluster.x-k8s.io/paused": ""})],
        ("DockerCluster", "d1"),
    ),
    (
        "a Machine of a paused Cluster",
        [manifest("Cluster", "c1", paused=True), manifest("Machine", "m1", cluster="c1")],
        ("Machine", "m1"),
    ),
]


@pytest.mark.parametrize(
    ("objects", "watched"), [c[1:] for c in PAUSE_CASES], ids=[c[0] for c in PAUSE_CASES]
)
def test_paused_objects_are_never_touched(
    sim: KubeSim,
    controllers: CapiControllers,
    namespace: str,
    objects: list[dict[str, Any]],
    watched: tuple[str, str],
) -> None:
    for body in objects:
        create(sim, namespace, body)
    controllers.tick()
    controllers.tick()
    kind, name = watched
    assert finalizers(sim, namespace, kind, name) == []


def test_switching_finalizers_off_leaves_objects_alone(
    sim: KubeSim, controllers: CapiControllers, namespace: str
) -> None:
    controllers.add_finalizers = False
    create(sim, namespace, manifest("Cluster", "c1"))
    controllers.tick()
    assert finalizers(sim, namespace, "Cluster", "c1") == []


def _delete(sim: KubeSim, namespace: str, kind: str, name: str) -> None:
    client.CustomObjectsApi(sim.api_client()).delete_namespaced_custom_object(
        GROUPS[kind], "v1beta2", namespace, PLURALS[kind], name
    )


DELETE_CASES = [
    ("a provider deletes infrastructure", {}, True),
    (
        "delete-for-move lets go without deleting infrastructure",
        {"clusterctl.cluster.x-k8s.io/delete-for-move": ""},
        False,
    ),
]


@pytest.mark.parametrize(
    ("annotations", "counted"), [c[1:] for c in DELETE_CASES], ids=[c[0] for c in DELETE_CASES]
)
def test_deleting_an_object_removes_the_finalizer(
    sim: KubeSim,
    controllers: CapiControllers,
    namespace: str,
    annotations: dict[str, str],
    counted: bool,
) -> None:
    create(sim, namespace, manifest("Machine", "m1", cluster="c1", annotations=annotations))
    assert eventually(lambda: finalizers(sim, namespace, "Machine", "m1") != [])
    _delete(sim, namespace, "Machine", "m1")
    assert eventually(lambda: read(sim, namespace, "Machine", "m1") is None)
    ref = str(ObjectRef(CAPI, "Machine", namespace, "m1"))
    assert (ref in controllers.infra_deleted) is counted


def test_a_paused_object_being_deleted_keeps_its_finalizer(
    sim: KubeSim, controllers: CapiControllers, namespace: str
) -> None:
    create(sim, namespace, manifest("Cluster", "c1"))
    assert eventually(lambda: finalizers(sim, namespace, "Cluster", "c1") != [])
    client.CustomObjectsApi(sim.api_client()).patch_namespaced_custom_object(
        CAPI, "v1beta2", namespace, "clusters", "c1", {"spec": {"paused": True}}
    )
    _delete(sim, namespace, "Cluster", "c1")
    controllers.tick()
    controllers.tick()
    live = read(sim, namespace, "Cluster", "c1")
    assert live is not None and live["metadata"].get("deletionTimestamp")
    assert controllers.infra_deleted == []


def annotations_of(sim: KubeSim, namespace: str, kind: str, name: str) -> dict[str, str]:
    obj = read(sim, namespace, kind, name) or {}
    return dict((obj.get("metadata") or {}).get("annotations") or {})


def test_block_move_is_held_for_the_given_time(
    sim: KubeSim, controllers: CapiControllers, namespace: str
) -> None:
    create(sim, namespace, manifest("Cluster", "c1"))
    controllers.hold_block_move(ObjectRef(CAPI, "Cluster", namespace, "c1"), 0.3)
    assert BLOCK_MOVE_ANNOTATION in annotations_of(sim, namespace, "Cluster", "c1")
    assert eventually(
        lambda: BLOCK_MOVE_ANNOTATION not in annotations_of(sim, namespace, "Cluster", "c1")
    )


def test_block_move_without_a_time_is_held_until_released(
    sim: KubeSim, controllers: CapiControllers, namespace: str
) -> None:
    create(sim, namespace, manifest("Cluster", "c1"))
    create(sim, namespace, manifest("Cluster", "c2"))
    controllers.hold_block_move(lambda obj: obj["metadata"]["name"] == "c2", None)
    time.sleep(0.15)
    assert BLOCK_MOVE_ANNOTATION in annotations_of(sim, namespace, "Cluster", "c2")
    assert BLOCK_MOVE_ANNOTATION not in annotations_of(sim, namespace, "Cluster", "c1")
    controllers.release_block_move()
    assert BLOCK_MOVE_ANNOTATION not in annotations_of(sim, namespace, "Cluster", "c2")


def test_provisioning_fills_missing_status(
    sim: KubeSim, controllers: CapiControllers, namespace: str
) -> None:
    controllers.provision = True
    create(sim, namespace, manifest("Cluster", "c1"))
    create(sim, namespace, manifest("Machine", "m1", cluster="c1"))

    def provisioned() -> bool:
        cluster = (read(sim, namespace, "Cluster", "c1") or {}).get("status") or {}
        machine = (read(sim, namespace, "Machine", "m1") or {}).get("status") or {}
        return (
            (cluster.get("initialization") or {}).get("infrastructureProvisioned") is True
            and any(
                c["type"] == "ControlPlaneInitialized" and c["status"] == "True"
                for c in cluster.get("conditions") or []
            )
            and machine.get("nodeRef") == {"name": "m1"}
        )

    assert eventually(provisioned)
