"""clusterctl's directory layout: import what ``clusterctl move --to-directory`` wrote, write one.

The directories here are written by hand, file by file, exactly as clusterctl writes them: one
``<Kind>_<namespace>_<name>.yaml`` per object holding the live object as JSON (uid,
resourceVersion, ownerReferences, managedFields, status; Clusters paused).
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from kubesim.capi.topologies import TOPOLOGIES
from movekit.bundle.clusterctl import (
    go_json,
    is_clusterctl_directory,
    read_clusterctl_directory,
    write_clusterctl_directory,
)
from movekit.errors import InvalidBundle, UsageError
from movekit.export import ExportOptions, export_bundle
from movekit.importer import ImportOptions, ImportResult, import_from_path
from movekit.kube import KubeClient
from movekit.model import Layout, Selection
from movekit.refs import ObjectRef
from tests.lanes import Env
from tests.scenarios.checks import assert_target_holds_bundle, comparable

CLUSTER_UID = "5f0c5b2e-7c43-4a8e-9d6b-0b8e7b0c1a01"
DOCKER_CLUSTER_UID = "5f0c5b2e-7c43-4a8e-9d6b-0b8e7b0c1a02"
CONTROL_PLANE_UID = "5f0c5b2e-7c43-4a8e-9d6b-0b8e7b0c1a03"
MACHINE_UID = "5f0c5b2e-7c43-4a8e-9d6b-0b8e7b0c1a04"
CA_UID = "5f0c5b2e-7c43-4a8e-9d6b-0b8e7b0c1a05"
KUBECONFIG_UID = "5f0c5b2e-7c43-4a8e-9d6b-0b8e7b0c1a06"
SA_UID = "5f0c5b2e-7c43-4a8e-9d6b-0b8e7b0c1a07"
CA_KEY = "LS0tLS1CRUdJTiBSU0EgUFJJVkFURSBLRVktLS0tLQpzZWNyZXQtY2Eta2V5Ci0tLS0tRU5E"


def clusterctl_files(ns: str) -> dict[str, dict[str, Any]]:
    """A Cluster on Docker with a kubeadm control plane, one Machine and its Secrets, as
    ``clusterctl move --to-directory -n <ns>`` writes them (file name -> object)."""
    def condition(type_: str) -> dict[str, Any]:
        return {"type": type_, "status": "True", "reason": type_, "observedGeneration": 1,
                "lastTransitionTime": "2025-09-01T10:04:12Z"}

    def owner(api_version: str, kind: str, name: str, uid: str) -> dict[str, Any]:
        return {"apiVersion": api_version, "kind": kind, "name": name, "uid": uid,
                "controller": True, "blockOwnerDeletion": True}

    def managed(manager: str, api_version: str, fields: dict[str, Any]) -> list[dict[str, Any]]:
        return [{"manager": manager, "operation": "Update", "apiVersion": api_version,
                 "time": "2025-09-01T09:59:10Z", "fieldsType": "FieldsV1", "fieldsV1": fields}]

    cluster_owner = owner("cluster.x-k8s.io/v1beta2", "Cluster", "c1", CLUSTER_UID)
    kcp_owner = owner("controlplane.cluster.x-k8s.io/v1beta2", "KubeadmControlPlane",
                      "c1-control-plane", CONTROL_PLANE_UID)
    labels = {"cluster.x-k8s.io/cluster-name": "c1"}
    return {
        f"Cluster_{ns}_c1.yaml": {
            "apiVersion": "cluster.x-k8s.io/v1beta2", "kind": "Cluster",
            "metadata": {
                "name": "c1", "namespace": ns, "uid": CLUSTER_UID, "resourceVersion": "1843",
                "generation": 3, "creationTimestamp": "2025-09-01T09:58:40Z",
                "finalizers": ["cluster.cluster.x-k8s.io"],
                "managedFields": [{
                    "manager": "kubectl-client-side-apply", "operation": "Update",
                    "apiVersion": "cluster.x-k8s.io/v1beta2", "time": "2025-09-01T09:58:40Z",
                    "fieldsType": "FieldsV1",
                    "fieldsV1": {"f:spec": {"f:clusterNetwork": {}, "f:controlPlaneRef": {},
                                            "f:infrastructureRef": {}}}}],
            },
            "spec": {
                "clusterNetwork": {"pods": {"cidrBlocks": ["192.168.0.0/16"]},
                                   "services": {"cidrBlocks": ["10.128.0.0/12"]},
                                   "serviceDomain": "cluster.local"},
                "controlPlaneEndpoint": {"host": "172.18.0.3", "port": 6443},
                "controlPlaneRef": {"apiGroup": "controlplane.cluster.x-k8s.io",
                                    "kind": "KubeadmControlPlane", "name": "c1-control-plane"},
                "infrastructureRef": {"apiGroup": "infrastructure.cluster.x-k8s.io",
                                      "kind": "DockerCluster", "name": "c1"},
                "paused": True,  # clusterctl pauses every Cluster before it writes it
            },
            "status": {"initialization": {"infrastructureProvisioned": True,
                                          "controlPlaneInitialized": True},
                       "phase": "Provisioned", "observedGeneration": 3,
                       "conditions": [condition("ControlPlaneInitialized")]},
        },
        f"DockerCluster_{ns}_c1.yaml": {
            "apiVersion": "infrastructure.cluster.x-k8s.io/v1beta2", "kind": "DockerCluster",
            "metadata": {"name": "c1", "namespace": ns, "uid": DOCKER_CLUSTER_UID,
                         "resourceVersion": "1790", "generation": 1, "labels": labels,
                         "creationTimestamp": "2025-09-01T09:58:40Z",
                         "finalizers": ["dockercluster.infrastructure.cluster.x-k8s.io"],
                         "ownerReferences": [cluster_owner],
                         "managedFields": managed(
                             "manager", "infrastructure.cluster.x-k8s.io/v1beta2",
                             {"f:spec": {"f:controlPlaneEndpoint": {}}})},
            "spec": {"controlPlaneEndpoint": {"host": "172.18.0.3", "port": 6443},
                     "loadBalancer": {"imageRepository": "kindest",
                                      "imageTag": "v20230510-486859a6"}},
            "status": {"initialization": {"provisioned": True},
                       "conditions": [condition("Ready")]},
        },
        f"KubeadmControlPlane_{ns}_c1-control-plane.yaml": {
            "apiVersion": "controlplane.cluster.x-k8s.io/v1beta2",
            "kind": "KubeadmControlPlane",
            "metadata": {"name": "c1-control-plane", "namespace": ns, "uid": CONTROL_PLANE_UID,
                         "resourceVersion": "1802", "generation": 1, "labels": labels,
                         "creationTimestamp": "2025-09-01T09:58:40Z",
                         "finalizers": ["kubeadm.controlplane.cluster.x-k8s.io"],
                         "ownerReferences": [cluster_owner],
                         "managedFields": managed("kubectl-client-side-apply",
                                                  "controlplane.cluster.x-k8s.io/v1beta2",
                                                  {"f:spec": {"f:replicas": {}}})},
            "spec": {"replicas": 1, "version": "v1.33.1",
                     "machineTemplate": {"spec": {"infrastructureRef": {
                         "apiGroup": "infrastructure.cluster.x-k8s.io",
                         "kind": "DockerMachineTemplate", "name": "c1-control-plane"}}},
                     "kubeadmConfigSpec": {"clusterConfiguration": {
                         "apiServer": {"certSANs": ["localhost", "127.0.0.1"]}}}},
            "status": {"replicas": 1, "readyReplicas": 1, "version": "v1.33.1",
                       "initialization": {"controlPlaneInitialized": True}},
        },
        f"Machine_{ns}_c1-control-plane-7xk2p.yaml": {
            "apiVersion": "cluster.x-k8s.io/v1beta2", "kind": "Machine",
            "metadata": {"name": "c1-control-plane-7xk2p", "namespace": ns, "uid": MACHINE_UID,
                         "resourceVersion": "1830", "generation": 2,
                         "labels": {**labels, "cluster.x-k8s.io/control-plane": "",
                                    "cluster.x-k8s.io/control-plane-name": "c1-control-plane"},
                         "creationTimestamp": "2025-09-01T09:59:02Z",
                         "finalizers": ["machine.cluster.x-k8s.io"],
                         "ownerReferences": [kcp_owner],
                         "managedFields": managed("manager", "cluster.x-k8s.io/v1beta2",
                                                  {"f:spec": {"f:clusterName": {}}})},
            "spec": {"clusterName": "c1", "version": "v1.33.1",
                     "bootstrap": {"dataSecretName": "c1-control-plane-7xk2p"},
                     "infrastructureRef": {"apiGroup": "infrastructure.cluster.x-k8s.io",
                                           "kind": "DockerMachine",
                                           "name": "c1-control-plane-7xk2p"},
                     "providerID": "docker:////c1-control-plane-7xk2p"},
            "status": {"nodeRef": {"name": "c1-control-plane-7xk2p"}, "phase": "Running"},
        },
        f"Secret_{ns}_c1-ca.yaml": {
            "apiVersion": "v1", "kind": "Secret", "type": "cluster.x-k8s.io/secret",
            "metadata": {"name": "c1-ca", "namespace": ns, "uid": CA_UID,
                         "resourceVersion": "1795", "labels": labels,
                         "creationTimestamp": "2025-09-01T09:58:45Z",
                         "ownerReferences": [kcp_owner],
                         "managedFields": managed("manager", "v1", {"f:data": {}})},
            "data": {"tls.crt": "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0t", "tls.key": CA_KEY},
        },
        f"Secret_{ns}_c1-kubeconfig.yaml": {
            "apiVersion": "v1", "kind": "Secret", "type": "cluster.x-k8s.io/secret",
            "metadata": {"name": "c1-kubeconfig", "namespace": ns, "uid": KUBECONFIG_UID,
                         "resourceVersion": "1812", "labels": labels,
                         "creationTimestamp": "2025-09-01T09:59:10Z",
                         "ownerReferences": [kcp_owner],
                         "managedFields": managed("manager", "v1", {"f:data": {}})},
            "data": {"value": "YXBpVmVyc2lvbjogdjEKa2luZDogQ29uZmlnCg=="},
        },
        # No owner: it belongs to the Cluster by its name alone (soft ownership).
        f"Secret_{ns}_c1-sa.yaml": {
            "apiVersion": "v1", "kind": "Secret", "type": "cluster.x-k8s.io/secret",
            "metadata": {"name": "c1-sa", "namespace": ns, "uid": SA_UID,
                         "resourceVersion": "1771", "labels": labels,
                         "creationTimestamp": "2025-09-01T09:58:41Z",
                         "managedFields": managed("manager", "v1", {"f:data": {}})},
            "data": {"tls.crt": "c2EtcHVibGlj", "tls.key": "c2EtcHJpdmF0ZQ=="},
        },
    }


def write_files(directory: Path, files: dict[str, dict[str, Any]]) -> Path:
    """Each object as Go's json.Encoder writes it: compact, sorted keys, a final newline."""
    directory.mkdir(mode=0o700, exist_ok=True)
    for name, obj in files.items():
        (directory / name).write_text(
            json.dumps(obj, sort_keys=True, separators=(",", ":")) + "\n")
        os.chmod(directory / name, 0o600)
    return directory


def import_directory(env: Env, directory: Path, **options: Any) -> ImportResult:
    with env.client() as client:
        return import_from_path(client, directory, ImportOptions(**options))


def live(client: KubeClient, obj: dict[str, Any]) -> dict[str, Any] | None:
    res = client.resource(obj["apiVersion"], obj["kind"])
    assert res is not None
    meta = obj["metadata"]
    return client.get(res, meta.get("namespace", ""), meta["name"])


def test_a_clusterctl_directory_is_told_apart_from_a_bundle(namespace: str,
                                                            tmp_path: Path) -> None:
    directory = write_files(tmp_path / "d", clusterctl_files(namespace))
    assert is_clusterctl_directory(directory)
    (directory / "manifest.json").write_text("{}")
    assert not is_clusterctl_directory(directory)
    assert not is_clusterctl_directory(tmp_path / "absent")


def test_import_creates_every_object_with_owner_uids_of_the_target_and_resumes_clusters(
    dst: Env, namespace: str, tmp_path: Path
) -> None:
    files = clusterctl_files(namespace)
    result = import_directory(dst, write_files(tmp_path / "d", files))

    assert result.outcome is not None and not result.outcome.failures
    with dst.client() as client:
        target = {name: live(client, obj) for name, obj in files.items()}
        missing = [name for name, obj in target.items() if obj is None]
        assert not missing
        uid_of = {(o["kind"], o["metadata"]["name"]): o["metadata"]["uid"]
                  for o in target.values() if o is not None}
        for name, source in files.items():
            obj = target[name]
            assert obj is not None
            assert obj["metadata"]["uid"] != source["metadata"]["uid"], name
            owners = obj["metadata"].get("ownerReferences", [])
            assert [(o["kind"], o["name"], o.get("controller"), o.get("blockOwnerDeletion"))
                    for o in owners] == [
                (o["kind"], o["name"], o["controller"], o["blockOwnerDeletion"])
                for o in source["metadata"].get("ownerReferences", [])], name
            for written in owners:
                assert written["uid"] == uid_of[(written["kind"], written["name"])], name
            if source["kind"] == "Cluster":
                assert obj["spec"].get("paused") is None, "the Cluster was not resumed"
            else:
                assert comparable(obj) == comparable(source), f"{name} differs"
        assert_target_holds_bundle(client, result.bundle)
    assert {str(ref) for ref in result.outcome.resumed} == {
        f"Cluster.cluster.x-k8s.io/{namespace}/c1"}


def test_the_waves_follow_the_owners_in_the_files(dst: Env, namespace: str,
                                                  tmp_path: Path) -> None:
    result = import_directory(dst, write_files(tmp_path / "d", clusterctl_files(namespace)),
                              dry_run=True)

    waves = {f"{step.target.kind}/{step.target.name}": step.wave for step in result.plan.steps}
    assert waves == {"Cluster/c1": 0, "DockerCluster/c1": 1,
                     "KubeadmControlPlane/c1-control-plane": 1, "Secret/c1-sa": 1,
                     "Machine/c1-control-plane-7xk2p": 2, "Secret/c1-ca": 2,
                     "Secret/c1-kubeconfig": 2}
    assert {step.action.value for step in result.plan.steps} == {"create"}
    assert result.outcome is None


def test_importing_the_same_directory_again_adopts_everything(
    dst: Env, namespace: str, tmp_path: Path
) -> None:
    files = clusterctl_files(namespace)
    directory = write_files(tmp_path / "d", files)
    first = import_directory(dst, directory)
    with dst.client() as client:
        uids = {name: (live(client, obj) or {})["metadata"]["uid"] for name, obj in files.items()}

    again = import_directory(dst, directory)

    assert again.bundle.digest == first.bundle.digest
    assert again.outcome is not None
    assert {action for (_, action) in again.outcome.counts} == {"adopted"}
    with dst.client() as client:
        assert {name: (live(client, obj) or {})["metadata"]["uid"]
                for name, obj in files.items()} == uids


def test_an_object_the_graph_leaves_out_is_reported_and_not_created(
    dst: Env, namespace: str, tmp_path: Path
) -> None:
    files = clusterctl_files(namespace)
    files[f"Secret_{namespace}_stray.yaml"] = {
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "stray", "namespace": namespace, "uid": "stray-uid",
                     "resourceVersion": "12"},
        "data": {"token": "c3RyYXk="}}

    result = import_directory(dst, write_files(tmp_path / "d", files))

    assert [(str(e.ref), e.reason) for e in result.bundle.excluded] == [
        (f"Secret/{namespace}/stray", "orphan")]
    assert any(f"Secret/{namespace}/stray: not imported (orphan)" in w
               for w in result.plan.warnings)
    with dst.client() as client:
        assert live(client, files[f"Secret_{namespace}_stray.yaml"]) is None


ROUND_TRIP = ["kcp-with-machines", "machinedeployment", "clusterclass-other-namespace",
              "global-identity", "clusterresourceset"]


@pytest.mark.parametrize("name", ROUND_TRIP)
def test_export_in_clusterctl_layout_round_trips_through_import(
    name: str, src: Env, dst: Env, namespace: str, tmp_path: Path
) -> None:
    topology = TOPOLOGIES[name]
    src.seed(topology, namespace=namespace)
    directory = tmp_path / "move"
    with src.client() as client:
        exported = export_bundle(client, ExportOptions(
            selection=Selection(namespace=namespace, clusters=frozenset(topology.clusters)),
            target=directory, layout=Layout.CLUSTERCTL))
        source = {ref: live(client, {"apiVersion": exported.graph.nodes[ref].api_version,
                                     "kind": ref.kind, "metadata": {
                                         "namespace": ref.namespace, "name": ref.name}})
                  for ref in exported.graph.moved}

    assert exported.manifest is None
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    files = sorted(os.listdir(directory))
    assert files == sorted(f"{ref.kind}_{ref.namespace}_{ref.name}.yaml"
                           for ref in exported.graph.moved)
    for file in files:
        assert stat.S_IMODE((directory / file).stat().st_mode) == 0o600
        data = (directory / file).read_bytes()
        obj = json.loads(data)
        assert data == go_json(obj), f"{file} is not written as clusterctl writes it"
        assert obj["metadata"]["uid"], f"{file} lacks the source uid"
    if name == "global-identity":
        assert any(f.startswith("AWSClusterStaticIdentity__") for f in files)

    result = import_directory(dst, directory)

    assert result.outcome is not None and not result.outcome.failures
    assert not result.bundle.excluded
    with dst.client() as client:
        assert_target_holds_bundle(client, result.bundle)
        for ref, obj in source.items():
            assert obj is not None
            target = live(client, obj)
            assert target is not None, f"{ref} missing in the target"
            if ref.namespace:
                assert comparable(target) == comparable(obj), f"{ref} differs"


@pytest.mark.parametrize("layout", ["bundle", "clusterctl"])
def test_the_cli_exports_in_clusterctl_layout_and_imports_it(
    layout: str, src: Env, dst: Env, namespace: str, tmp_path: Path
) -> None:
    src.seed(TOPOLOGIES["two-machines"], namespace=namespace)
    directory = tmp_path / "move"
    flags = ["--clusterctl-layout"] if layout == "clusterctl" else []

    def movekit(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "movekit", *args], capture_output=True,
                              text=True, timeout=120, check=False)

    exported = movekit("export", "--kubeconfig", str(src.kubeconfig), "-n", namespace,
                       "--leave-paused", "--to-directory", str(directory), *flags)
    assert exported.returncode == 0, exported.stderr
    assert (directory / "manifest.json").exists() == (layout == "bundle")

    imported = movekit("import", "--kubeconfig", str(dst.kubeconfig), "--from-directory",
                       str(directory))

    assert imported.returncode == 0, imported.stderr
    assert "imported" in imported.stdout
    with dst.client() as client:
        assert live(client, {"apiVersion": "cluster.x-k8s.io/v1beta2", "kind": "Cluster",
                             "metadata": {"namespace": namespace, "name": "c1"}}) is not None


def _symlinked_secret(directory: Path, namespace: str) -> None:
    name = f"Secret_{namespace}_c1-ca.yaml"
    outside = directory.parent / "elsewhere.json"
    (directory / name).rename(outside)
    (directory / name).symlink_to(outside)


def _renamed_machine(directory: Path, namespace: str) -> None:
    (directory / f"Machine_{namespace}_c1-control-plane-7xk2p.yaml").rename(
        directory / f"Machine_{namespace}_c1-control-plane-other.yaml")


def _not_json(directory: Path, namespace: str) -> None:
    (directory / f"Secret_{namespace}_c1-ca.yaml").write_text(
        '{"apiVersion":"v1","kind":"Secret","data":{"tls.key":"' + CA_KEY + '"}')


def _alias_bomb(directory: Path, namespace: str) -> None:
    lines = ["apiVersion: v1", "kind: ConfigMap",
             f"metadata: {{name: c1-bomb, namespace: {namespace}, uid: bomb}}",
             'a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 10)]
    (directory / f"ConfigMap_{namespace}_c1-bomb.yaml").write_text("\n".join(lines) + "\n")


def _subdirectory(directory: Path, namespace: str) -> None:
    (directory / "nested").mkdir()


def _duplicate_uid(directory: Path, namespace: str) -> None:
    path = directory / f"Secret_{namespace}_c1-sa.yaml"
    obj = json.loads(path.read_text())
    obj["metadata"]["uid"] = CA_UID
    path.write_text(json.dumps(obj))


def _duplicate_key(directory: Path, namespace: str) -> None:
    path = directory / f"Secret_{namespace}_c1-ca.yaml"
    text = path.read_text()
    path.write_text(text.replace('{"apiVersion":"v1",', '{"apiVersion":"v1","kind":"Secret",', 1))


HOSTILE: dict[str, tuple[Callable[[Path, str], None], str]] = {
    "symlinked file": (_symlinked_secret, "is a symbolic link"),
    "file name not the object's identity": (_renamed_machine, "whose file clusterctl names"),
    "not JSON": (_not_json, "not valid JSON"),
    "YAML alias bomb": (_alias_bomb, "anchors are not allowed"),
    "subdirectory": (_subdirectory, "is a directory"),
    "two files with one uid": (_duplicate_uid, "same metadata.uid"),
    "duplicate JSON key": (_duplicate_key, "duplicate key 'kind'"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_a_hostile_directory_is_refused_before_any_request_to_the_target(
    case: str, dst: Env, namespace: str, tmp_path: Path
) -> None:
    tamper, message = HOSTILE[case]
    directory = write_files(tmp_path / "d", clusterctl_files(namespace))
    tamper(directory, namespace)

    with dst.client() as client:
        before = dst.sim.request_count() if dst.sim else 0
        with pytest.raises(InvalidBundle) as refused:
            import_from_path(client, directory, ImportOptions())
        if dst.sim is not None:
            assert dst.sim.request_count() == before

    assert message in str(refused.value)
    assert CA_KEY not in str(refused.value)


def test_writing_replaces_an_earlier_clusterctl_directory_whole_and_refuses_anything_else(
    namespace: str, tmp_path: Path
) -> None:
    files = clusterctl_files(namespace)
    directory = write_files(tmp_path / "d", files)
    (directory / f"Secret_{namespace}_stale.yaml").write_text("{}")

    write_clusterctl_directory(directory, files.values())

    assert sorted(os.listdir(directory)) == sorted(files)
    assert read_clusterctl_directory(directory) == [files[n] for n in sorted(files)]
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    with pytest.raises(UsageError, match="not empty"):
        write_clusterctl_directory(other, files.values())
    assert os.listdir(other) == ["notes.txt"]


def test_objects_are_encoded_as_go_encodes_them() -> None:
    obj = {"kind": "ConfigMap", "apiVersion": "v1",
           "data": {"script": "a < b && c > d", "name": "café"}}
    assert go_json(obj) == ('{"apiVersion":"v1","data":{"name":"café","script":'
                            '"a \\u003c b \\u0026\\u0026 c \\u003e d"},"kind":"ConfigMap"}\n'
                            ).encode()


def test_two_kinds_that_clusterctl_would_write_to_one_file_are_refused(tmp_path: Path) -> None:
    objects = [{"apiVersion": f"{group}/v1", "kind": "Widget",
                "metadata": {"name": "w", "namespace": "ns", "uid": group}}
               for group in ("a.example.com", "b.example.com")]
    with pytest.raises(UsageError, match="leave out the API group"):
        write_clusterctl_directory(tmp_path / "d", objects)
    assert not (tmp_path / "d").exists()
    assert ObjectRef.of(objects[0]) != ObjectRef.of(objects[1])
