"""An import creates only what the move contract allows (Secrets, ConfigMaps, Namespaces and the
kinds of labelled CRDs): a bundle that smuggles anything else is refused at plan time, naming
the object, with nothing written, unless ``--allow-kind`` names the kind.

Each smuggling bundle is written by movekit's own BundleWriter, kinds entries included, so that
it verifies: only the plan stands between it and the target.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from movekit import cli
from movekit.bundle import BundleWriter, ObjectEntry, Source
from movekit.errors import PrecheckFailed
from movekit.kube import KubeClient
from movekit.model import KindInfo, NamespaceEntry, Selection
from movekit.refs import ObjectRef
from tests.lanes import Env


def config_map(namespace: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "cluster-settings", "namespace": namespace},
            "data": {"region": "eu-west-1"}}


def cluster_role_binding(namespace: str) -> dict[str, Any]:
    return {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
            "metadata": {"name": f"{namespace}-admin"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                        "name": "cluster-admin"},
            "subjects": [{"kind": "ServiceAccount", "name": "default", "namespace": namespace}]}


def pod(namespace: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "miner", "namespace": namespace},
            "spec": {"containers": [{"name": "miner", "image": "example.invalid/miner:1"}]}}


def namespace_object(namespace: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": namespace, "labels": {"team": "platform"}}}


KINDS = {
    "ConfigMap": KindInfo("", "v1", "ConfigMap", "configmaps", True, None),
    "ClusterRoleBinding": KindInfo("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding",
                                   "clusterrolebindings", False, None),
    "Pod": KindInfo("", "v1", "Pod", "pods", True, None),
    "Namespace": KindInfo("", "v1", "Namespace", "namespaces", False, None),
}


def write_bundle(path: Path, objects: list[dict[str, Any]], namespace: str,
                 manifest_namespaces: bool = True) -> None:
    with BundleWriter(path) as writer:
        for number, obj in enumerate(objects):
            ref = ObjectRef.of(obj)
            writer.add_object(ObjectEntry(ref, obj["apiVersion"], f"uid-{number}", [], [], 0,
                                          not ref.namespace, False, None), obj)
        writer.close(
            source=Source("https://source.example:6443", "v1.31.2"),
            selection=Selection(namespace=namespace),
            kinds=[KINDS[obj["kind"]] for obj in objects],
            namespaces=[NamespaceEntry(namespace)] if manifest_namespaces else [],
        )


def movekit(*args: str, monkeypatch: pytest.MonkeyPatch,
            capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """Run the movekit command in-process; its exit code and stderr."""
    monkeypatch.setattr(sys, "argv", ["movekit", *args])
    monkeypatch.setattr(cli, "_mount_subcommands", lambda args: None)
    capsys.readouterr()
    with pytest.raises(SystemExit) as exited:
        cli.main()
    return int(exited.value.code or 0), capsys.readouterr().err


def present(dst: Env, obj: dict[str, Any]) -> bool:
    with KubeClient(dst.kubeconfig) as client:
        res = client.resource(obj["apiVersion"], obj["kind"])
        assert res is not None
        meta = obj["metadata"]
        return client.get(res, meta.get("namespace", ""), meta["name"]) is not None


@dataclass(frozen=True)
class Smuggled:
    id: str
    make: Any  # namespace -> the object
    shown: str  # how the plan names it, {ns} for the namespace
    allow: str  # the --allow-kind value that lets it in


SMUGGLED = [
    Smuggled("cluster-role-binding", cluster_role_binding,
             "ClusterRoleBinding.rbac.authorization.k8s.io/{ns}-admin",
             "ClusterRoleBinding.rbac.authorization.k8s.io"),
    Smuggled("pod", pod, "Pod/{ns}/miner", "Pod"),
]


@pytest.mark.parametrize("smuggled", SMUGGLED, ids=[s.id for s in SMUGGLED])
def test_a_smuggled_kind_is_refused_at_plan_time_naming_it_and_nothing_is_written(
        smuggled: Smuggled, dst: Env, namespace: str, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    payload = smuggled.make(namespace)
    write_bundle(tmp_path / "b", [config_map(namespace), payload], namespace)
    writes = dst.sim.request_count(write=True) if dst.sim else 0

    code, stderr = movekit("import", "--kubeconfig", str(dst.kubeconfig),
                           "--from-directory", str(tmp_path / "b"),
                           monkeypatch=monkeypatch, capsys=capsys)

    assert code == PrecheckFailed.exit_code, stderr
    named = smuggled.shown.format(ns=namespace)
    assert f"{named}: kind {smuggled.allow} is not one movekit imports" in stderr
    assert f"--allow-kind {smuggled.allow} permits it" in stderr
    assert "nothing was written" in stderr
    if dst.sim:
        assert dst.sim.request_count(write=True) == writes
    assert not present(dst, payload) and not present(dst, config_map(namespace))


@pytest.mark.parametrize("smuggled", SMUGGLED, ids=[s.id for s in SMUGGLED])
def test_allow_kind_lets_the_named_kind_in(
        smuggled: Smuggled, dst: Env, namespace: str, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    payload = smuggled.make(namespace)
    write_bundle(tmp_path / "b", [config_map(namespace), payload], namespace)

    code, stderr = movekit("import", "--kubeconfig", str(dst.kubeconfig),
                           "--from-directory", str(tmp_path / "b"),
                           "--allow-kind", smuggled.allow,
                           monkeypatch=monkeypatch, capsys=capsys)

    assert code == 0, stderr
    assert present(dst, payload) and present(dst, config_map(namespace))


def test_a_namespace_in_the_bundle_is_allowed_and_created_before_what_it_holds(
        dst: Env, namespace: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    # The Namespace is an object of the same wave as the ConfigMap inside it, and the manifest
    # does not list it: the importer still creates it first, with the object's labels.
    write_bundle(tmp_path / "b", [namespace_object(namespace), config_map(namespace)], namespace,
                 manifest_namespaces=False)

    code, stderr = movekit("import", "--kubeconfig", str(dst.kubeconfig),
                           "--from-directory", str(tmp_path / "b"),
                           monkeypatch=monkeypatch, capsys=capsys)

    assert code == 0, stderr
    assert present(dst, config_map(namespace))
    with KubeClient(dst.kubeconfig) as client:
        res = client.resource("v1", "Namespace")
        assert res is not None
        created = client.get(res, "", namespace)
    assert created is not None and created["metadata"]["labels"]["team"] == "platform"
