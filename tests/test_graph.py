"""The move graph: what moves, in which wave, with which flags, and why everything else stays."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

import pytest

from movekit.graph import (
    MOVE_HIERARCHY_LABEL,
    MOVE_LABEL,
    PAUSED_ANNOTATION,
    Graph,
    OwnerEdge,
    Selection,
    build,
)
from movekit.model import KindInfo, Reason
from movekit.refs import ObjectRef

CAPI = "cluster.x-k8s.io"
INFRA = "infrastructure.cluster.x-k8s.io"
BOOTSTRAP = "bootstrap.cluster.x-k8s.io"
CONTROL_PLANE = "controlplane.cluster.x-k8s.io"
ADDONS = "addons.cluster.x-k8s.io"
IPAM = "ipam.cluster.x-k8s.io"


def kind(group: str, name: str, *, namespaced: bool = True, move: bool = False,
         hierarchy: bool = False) -> KindInfo:
    version = "v1beta2" if group else "v1"
    crd = f"{name.lower()}s.{group}" if group else None
    return KindInfo(group, version, name, name.lower() + "s", namespaced, crd, move, hierarchy)


KIND_LIST = [
    kind(CAPI, "Cluster"), kind(CAPI, "ClusterClass"), kind(CAPI, "MachineDeployment"),
    kind(CAPI, "MachineSet"), kind(CAPI, "Machine"),
    kind(CONTROL_PLANE, "KubeadmControlPlane"),
    kind(BOOTSTRAP, "KubeadmConfig"), kind(BOOTSTRAP, "KubeadmConfigTemplate"),
    kind(INFRA, "DockerCluster"), kind(INFRA, "DockerClusterTemplate"),
    kind(INFRA, "DockerMachine"), kind(INFRA, "DockerMachineTemplate"),
    kind(INFRA, "AWSClusterStaticIdentity", namespaced=False, hierarchy=True),
    kind(INFRA, "AzureClusterIdentity", hierarchy=True),
    kind(IPAM, "InClusterIPPool", move=True),
    kind(IPAM, "GlobalInClusterIPPool", namespaced=False),
    kind(ADDONS, "ClusterResourceSet"), kind(ADDONS, "ClusterResourceSetBinding"),
    kind("", "Secret"), kind("", "ConfigMap"),
]
KINDS = {info.group_kind: info for info in KIND_LIST}
BY_NAME = {info.kind: info for info in KIND_LIST}


def api_version(info: KindInfo) -> str:
    return f"{info.group}/{info.version}" if info.group else info.version


def uid(kind_name: str, namespace: str, name: str) -> str:
    return f"{kind_name}:{namespace}/{name}"


def owner_ref(spec: str | dict[str, Any], namespace: str) -> dict[str, Any]:
    """``"Machine/m1"`` -> the ownerReference to that object (same namespace if namespaced)."""
    if isinstance(spec, dict):
        return spec
    kind_name, name = spec.split("/")
    info = BY_NAME[kind_name]
    return {"apiVersion": api_version(info), "kind": kind_name, "name": name,
            "uid": uid(kind_name, namespace if info.namespaced else "", name),
            "controller": True, "blockOwnerDeletion": True}


def obj(kind_name: str, name: str, ns: str = "prod", *, owners: tuple[str | dict[str, Any], ...]
        = (), labels: dict[str, str] | None = None, annotations: dict[str, str] | None = None,
        spec: dict[str, Any] | None = None) -> dict[str, Any]:
    info = BY_NAME[kind_name]
    namespace = ns if info.namespaced else ""
    metadata: dict[str, Any] = {"name": name, "uid": uid(kind_name, namespace, name),
                                "resourceVersion": "1"}
    if namespace:
        metadata["namespace"] = namespace
    if owners:
        metadata["ownerReferences"] = [owner_ref(o, namespace) for o in owners]
    if labels:
        metadata["labels"] = labels
    if annotations:
        metadata["annotations"] = annotations
    result: dict[str, Any] = {"apiVersion": api_version(info), "kind": kind_name,
                              "metadata": metadata}
    if spec is not None:
        result["spec"] = spec
    return result


def cluster(name: str, ns: str = "prod", *, cls: str | None = None, cls_ns: str | None = None,
            paused: bool | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {}
    if cls is not None:
        spec["topology"] = {"classRef": {"name": cls, **({"namespace": cls_ns} if cls_ns else {})}}
    if paused is not None:
        spec["paused"] = paused
    return obj("Cluster", name, ns, spec=spec)


def binding(cluster_name: str, *sets: str, ns: str = "prod") -> dict[str, Any]:
    return obj("ClusterResourceSetBinding", cluster_name, ns,
               owners=tuple(f"ClusterResourceSet/{s}" for s in sets),
               spec={"clusterName": cluster_name,
                     "bindings": [{"clusterResourceSetName": s, "resources": []} for s in sets]})


def raw_owner(api: str, kind_name: str, name: str, owner_uid: str) -> dict[str, Any]:
    return {"apiVersion": api, "kind": kind_name, "name": name, "uid": owner_uid}


def short(ref: ObjectRef) -> str:
    return f"{ref.kind}/{ref.namespace}/{ref.name}" if ref.namespace else f"{ref.kind}/{ref.name}"


@dataclass(frozen=True)
class Scenario:
    name: str
    objects: list[dict[str, Any]]
    moved: dict[str, int]  # short ref -> wave
    excluded: dict[str, Reason] = field(default_factory=dict)
    selection: Selection = field(default_factory=lambda: Selection("prod"))
    flags: dict[str, set[str]] = field(default_factory=dict)  # moved objects; unlisted: none
    details: dict[str, str] = field(default_factory=dict)  # short ref -> part of the detail


SCENARIOS = [
    Scenario(
        "a cluster alone takes its infrastructure and conventionally named secrets",
        [cluster("c1"), obj("DockerCluster", "c1", owners=("Cluster/c1",)),
         obj("Secret", "c1-kubeconfig"), obj("Secret", "c1-ca"),
         obj("Secret", "c1-apiserver-etcd-client"), obj("Secret", "unrelated"),
         obj("Secret", "c9-ca")],
        moved={"Cluster/prod/c1": 0, "DockerCluster/prod/c1": 1, "Secret/prod/c1-kubeconfig": 1,
               "Secret/prod/c1-ca": 1, "Secret/prod/c1-apiserver-etcd-client": 1},
        excluded={"Secret/prod/unrelated": Reason.ORPHAN, "Secret/prod/c9-ca": Reason.ORPHAN},
        details={"Secret/prod/c9-ca": "no such Cluster exists in namespace prod",
                 "Secret/prod/unrelated": "no path from a root"},
    ),
    Scenario(
        "a machine deployment chain moves one wave per level",
        [cluster("c1"),
         obj("DockerMachineTemplate", "md-0", owners=("Cluster/c1",)),
         obj("KubeadmConfigTemplate", "md-0", owners=("Cluster/c1",)),
         obj("MachineDeployment", "md-0", owners=("Cluster/c1",)),
         obj("MachineSet", "md-0-x", owners=("MachineDeployment/md-0",)),
         obj("Machine", "m1", owners=("MachineSet/md-0-x",)),
         obj("Machine", "m2", owners=("MachineSet/md-0-x",)),
         obj("DockerMachine", "m1", owners=("Machine/m1",)),
         obj("DockerMachine", "m2", owners=("Machine/m2",)),
         obj("KubeadmConfig", "m1", owners=("Machine/m1",)),
         obj("Secret", "m1", owners=("KubeadmConfig/m1",))],
        moved={"Cluster/prod/c1": 0, "DockerMachineTemplate/prod/md-0": 1,
               "KubeadmConfigTemplate/prod/md-0": 1, "MachineDeployment/prod/md-0": 1,
               "MachineSet/prod/md-0-x": 2, "Machine/prod/m1": 3, "Machine/prod/m2": 3,
               "DockerMachine/prod/m1": 4, "DockerMachine/prod/m2": 4,
               "KubeadmConfig/prod/m1": 4, "Secret/prod/m1": 5},
    ),
    Scenario(
        "a kubeadm control plane owns its machines and the cluster secrets",
        [cluster("c1"), obj("KubeadmControlPlane", "c1-cp", owners=("Cluster/c1",)),
         obj("DockerMachineTemplate", "c1-cp", owners=("Cluster/c1",)),
         obj("Machine", "cp-1", owners=("KubeadmControlPlane/c1-cp",)),
         obj("DockerMachine", "cp-1", owners=("Machine/cp-1",)),
         obj("Secret", "c1-ca", owners=("KubeadmControlPlane/c1-cp",)),
         obj("Secret", "c1-etcd", owners=("KubeadmControlPlane/c1-cp",)),
         obj("Secret", "c1-kubeconfig", owners=("KubeadmControlPlane/c1-cp",))],
        moved={"Cluster/prod/c1": 0, "KubeadmControlPlane/prod/c1-cp": 1,
               "DockerMachineTemplate/prod/c1-cp": 1, "Machine/prod/cp-1": 2,
               "Secret/prod/c1-ca": 2, "Secret/prod/c1-etcd": 2, "Secret/prod/c1-kubeconfig": 2,
               "DockerMachine/prod/cp-1": 3},
    ),
    Scenario(
        "two clusters in a namespace both move",
        [cluster("c1"), cluster("c2"), obj("DockerCluster", "c1", owners=("Cluster/c1",)),
         obj("DockerCluster", "c2", owners=("Cluster/c2",)), obj("Secret", "c2-kubeconfig")],
        moved={"Cluster/prod/c1": 0, "Cluster/prod/c2": 0, "DockerCluster/prod/c1": 1,
               "DockerCluster/prod/c2": 1, "Secret/prod/c2-kubeconfig": 1},
    ),
    Scenario(
        "a template owned by two clusters moves once, after both",
        [cluster("c1"), cluster("c2", cls="cc"), obj("ClusterClass", "cc"),
         obj("DockerMachineTemplate", "shared", owners=("Cluster/c1", "Cluster/c2"))],
        moved={"Cluster/prod/c1": 0, "ClusterClass/prod/cc": 0, "Cluster/prod/c2": 1,
               "DockerMachineTemplate/prod/shared": 2},
    ),
    Scenario(
        "a cluster resource set moves with its resources and its binding",
        [cluster("c1"), obj("ClusterResourceSet", "cni"),
         obj("ConfigMap", "cni", owners=("ClusterResourceSet/cni",)), binding("c1", "cni")],
        moved={"Cluster/prod/c1": 0, "ClusterResourceSet/prod/cni": 0, "ConfigMap/prod/cni": 1,
               "ClusterResourceSetBinding/prod/c1": 1},
    ),
    Scenario(
        "a cluster class in the namespace moves before its clusters, with its templates",
        [obj("ClusterClass", "cc"), obj("DockerClusterTemplate", "cc", owners=("ClusterClass/cc",)),
         obj("KubeadmConfigTemplate", "cc-md", owners=("ClusterClass/cc",)),
         cluster("c1", cls="cc"), obj("DockerCluster", "c1-x", owners=("Cluster/c1",)),
         obj("ClusterClass", "unused")],
        moved={"ClusterClass/prod/cc": 0, "ClusterClass/prod/unused": 0,
               "DockerClusterTemplate/prod/cc": 1, "KubeadmConfigTemplate/prod/cc-md": 1,
               "Cluster/prod/c1": 1, "DockerCluster/prod/c1-x": 2},
    ),
    Scenario(
        "a cluster class in another namespace is pulled in and kept in the source",
        [obj("ClusterClass", "cc", "shared"),
         obj("DockerClusterTemplate", "cc", "shared", owners=("ClusterClass/cc",)),
         obj("ClusterClass", "other", "shared"), obj("Secret", "random", "shared"),
         obj("Cluster", "c1", spec={"topology": {"class": "cc", "classNamespace": "shared"}})],
        moved={"ClusterClass/shared/cc": 0, "DockerClusterTemplate/shared/cc": 1,
               "Cluster/prod/c1": 1},
        excluded={"ClusterClass/shared/other": Reason.OUTSIDE_SELECTION,
                  "Secret/shared/random": Reason.OUTSIDE_SELECTION},
        flags={"ClusterClass/shared/cc": {"keep"}, "DockerClusterTemplate/shared/cc": {"keep"}},
        details={"Secret/shared/random": "namespace shared is not selected"},
    ),
    Scenario(
        "a cluster class also used by a cluster left behind is kept in the source",
        [obj("ClusterClass", "cc"), obj("DockerClusterTemplate", "cc", owners=("ClusterClass/cc",)),
         cluster("c1", cls="cc"), cluster("c2", cls="cc"),
         obj("DockerCluster", "c2", owners=("Cluster/c2",))],
        selection=Selection("prod", frozenset({"c1"})),
        moved={"ClusterClass/prod/cc": 0, "DockerClusterTemplate/prod/cc": 1, "Cluster/prod/c1": 1},
        excluded={"Cluster/prod/c2": Reason.OUTSIDE_SELECTION,
                  "DockerCluster/prod/c2": Reason.OUTSIDE_SELECTION},
        flags={"ClusterClass/prod/cc": {"keep"}, "DockerClusterTemplate/prod/cc": {"keep"}},
        details={"Cluster/prod/c2": "not among the selected Clusters",
                 "DockerCluster/prod/c2": "belongs to Cluster Cluster.cluster.x-k8s.io/prod/c2"},
    ),
    Scenario(
        "a cluster class used from another namespace is kept in the source",
        [obj("ClusterClass", "cc"), cluster("d1", "dev", cls="cc", cls_ns="prod")],
        moved={"ClusterClass/prod/cc": 0},
        excluded={"Cluster/dev/d1": Reason.OUTSIDE_SELECTION},
        flags={"ClusterClass/prod/cc": {"keep"}},
        details={"Cluster/dev/d1": "namespace dev is not selected"},
    ),
    Scenario(
        "naming clusters narrows the move to their closure",
        [cluster("c1", cls="cc"), cluster("c2"), obj("ClusterClass", "cc"),
         obj("ClusterClass", "cc-other"),
         obj("DockerCluster", "c1", owners=("Cluster/c1",)),
         obj("DockerCluster", "c2", owners=("Cluster/c2",)), obj("Secret", "c2-kubeconfig"),
         obj("ClusterResourceSet", "crs-a"), obj("ClusterResourceSet", "crs-b"),
         obj("ConfigMap", "a", owners=("ClusterResourceSet/crs-a",)),
         obj("ConfigMap", "b", owners=("ClusterResourceSet/crs-b",)),
         binding("c1", "crs-a"), binding("c2", "crs-a", "crs-b"),
         obj("AWSClusterStaticIdentity", "ident"),
         obj("Secret", "ident-creds", "capa-system", owners=("AWSClusterStaticIdentity/ident",)),
         obj("ConfigMap", "labelled", labels={MOVE_LABEL: ""}), obj("Secret", "stray"),
         obj("AzureClusterIdentity", "az"),
         obj("Secret", "az", owners=("AzureClusterIdentity/az",))],
        selection=Selection("prod", frozenset({"c1"})),
        moved={"ClusterClass/prod/cc": 0, "ClusterResourceSet/prod/crs-a": 0,
               "AWSClusterStaticIdentity/ident": 0, "Cluster/prod/c1": 1,
               "ConfigMap/prod/a": 1, "Secret/capa-system/ident-creds": 1,
               "DockerCluster/prod/c1": 2, "ClusterResourceSetBinding/prod/c1": 2,
               "ConfigMap/prod/labelled": 0, "AzureClusterIdentity/prod/az": 0,
               "Secret/prod/az": 1},
        excluded={"Cluster/prod/c2": Reason.OUTSIDE_SELECTION,
                  "DockerCluster/prod/c2": Reason.OUTSIDE_SELECTION,
                  "Secret/prod/c2-kubeconfig": Reason.OUTSIDE_SELECTION,
                  "ClusterResourceSetBinding/prod/c2": Reason.OUTSIDE_SELECTION,
                  "ClusterClass/prod/cc-other": Reason.OUTSIDE_SELECTION,
                  "ClusterResourceSet/prod/crs-b": Reason.OUTSIDE_SELECTION,
                  "ConfigMap/prod/b": Reason.OUTSIDE_SELECTION,
                  "Secret/prod/stray": Reason.ORPHAN},
        flags={"ClusterResourceSet/prod/crs-a": {"keep"}, "ConfigMap/prod/a": {"keep"},
               "AWSClusterStaticIdentity/ident": {"global", "keep"},
               "Secret/capa-system/ident-creds": {"keep"}, "ConfigMap/prod/labelled": {"keep"},
               "AzureClusterIdentity/prod/az": {"keep"}, "Secret/prod/az": {"keep"}},
        details={"ClusterClass/prod/cc-other": "not used by the selected Clusters"},
    ),
    Scenario(
        "the move label moves an object alone, namespaced or cluster-scoped",
        [obj("ConfigMap", "settings", labels={MOVE_LABEL: ""}),
         obj("Secret", "settings-child", owners=("ConfigMap/settings",)),
         obj("GlobalInClusterIPPool", "pool", labels={MOVE_LABEL: "true"}),
         obj("GlobalInClusterIPPool", "unlabelled"),
         obj("ConfigMap", "elsewhere", "dev", labels={MOVE_LABEL: ""})],
        moved={"ConfigMap/prod/settings": 0, "GlobalInClusterIPPool/pool": 0},
        excluded={"Secret/prod/settings-child": Reason.ORPHAN,
                  "GlobalInClusterIPPool/unlabelled": Reason.ORPHAN,
                  "ConfigMap/dev/elsewhere": Reason.OUTSIDE_SELECTION},
        flags={"GlobalInClusterIPPool/pool": {"global", "keep"}},
        details={"Secret/prod/settings-child": "does not carry dependents"},
    ),
    Scenario(
        "move and move-hierarchy on kinds and on objects",
        [obj("InClusterIPPool", "pool"),
         obj("AzureClusterIdentity", "id"),
         obj("Secret", "id", owners=("AzureClusterIdentity/id",)),
         obj("ConfigMap", "root", labels={MOVE_HIERARCHY_LABEL: ""}),
         obj("Secret", "root-child", owners=("ConfigMap/root",))],
        moved={"InClusterIPPool/prod/pool": 0, "AzureClusterIdentity/prod/id": 0,
               "Secret/prod/id": 1, "ConfigMap/prod/root": 0, "Secret/prod/root-child": 1},
    ),
    Scenario(
        "a global identity takes the secret it owns in a provider namespace",
        [cluster("c1"), obj("AWSClusterStaticIdentity", "ident"),
         obj("Secret", "ident-creds", "capa-system", owners=("AWSClusterStaticIdentity/ident",)),
         obj("Secret", "webhook-cert", "capa-system")],
        moved={"Cluster/prod/c1": 0, "AWSClusterStaticIdentity/ident": 0,
               "Secret/capa-system/ident-creds": 1},
        excluded={"Secret/capa-system/webhook-cert": Reason.OUTSIDE_SELECTION},
        flags={"AWSClusterStaticIdentity/ident": {"global", "keep"},
               "Secret/capa-system/ident-creds": {"keep"}},
    ),
    Scenario(
        "an ownership cycle excludes its members and what hangs below them",
        [cluster("c1"), obj("DockerMachine", "a", owners=("Cluster/c1", "DockerMachine/b")),
         obj("DockerMachine", "b", owners=("DockerMachine/a",)),
         obj("Secret", "s", owners=("DockerMachine/a",)),
         obj("DockerMachine", "self", owners=("DockerMachine/self",))],
        moved={"Cluster/prod/c1": 0},
        excluded={"DockerMachine/prod/a": Reason.OWNERSHIP_CYCLE,
                  "DockerMachine/prod/b": Reason.OWNERSHIP_CYCLE,
                  "Secret/prod/s": Reason.OWNERSHIP_CYCLE,
                  "DockerMachine/prod/self": Reason.OWNERSHIP_CYCLE},
        details={"DockerMachine/prod/a": "cycle through DockerMachine.infrastructure.cluster."
                                         "x-k8s.io/prod/a, DockerMachine.infrastructure.cluster."
                                         "x-k8s.io/prod/b",
                 "DockerMachine/prod/self": "cycle through",
                 "Secret/prod/s": "caught in an ownership cycle"},
    ),
    Scenario(
        "an owner of a kind movekit does not move keeps the object and its dependents",
        [cluster("c1"), obj("Machine", "m1", owners=("Cluster/c1",)),
         obj("DockerMachine", "m1", owners=(
             "Machine/m1", raw_owner("example.com/v1", "Widget", "w1", "widget-uid"))),
         obj("Secret", "m1-data", owners=("DockerMachine/m1",)),
         obj("ConfigMap", "m1-config", owners=(raw_owner("apps/v1", "Deployment", "d", "d-uid"),))],
        moved={"Cluster/prod/c1": 0, "Machine/prod/m1": 1},
        excluded={"DockerMachine/prod/m1": Reason.OWNER_KIND_UNKNOWN,
                  "Secret/prod/m1-data": Reason.OWNER_NOT_MOVED,
                  "ConfigMap/prod/m1-config": Reason.OWNER_KIND_UNKNOWN},
        details={"DockerMachine/prod/m1": "owner Widget.example.com/prod/w1 is of a kind movekit "
                                          "does not move (its CRD is not labelled "
                                          "clusterctl.cluster.x-k8s.io)",
                 "Secret/prod/m1-data": "owner DockerMachine.infrastructure.cluster.x-k8s.io/"
                                        "prod/m1 is not moved (owner-kind-unknown)",
                 "ConfigMap/prod/m1-config": "built-in kind"},
    ),
    Scenario(
        "an owner that is gone or was recreated keeps the object",
        [cluster("c1"), obj("Machine", "m1", owners=("Cluster/c1",)),
         obj("DockerMachine", "m1",
             owners=(raw_owner(f"{CAPI}/v1beta1", "Machine", "m1", "stale"),)),
         obj("DockerMachine", "m2", owners=("Machine/m2",))],
        moved={"Cluster/prod/c1": 0, "Machine/prod/m1": 1},
        excluded={"DockerMachine/prod/m1": Reason.OWNER_MISSING,
                  "DockerMachine/prod/m2": Reason.OWNER_MISSING},
        details={"DockerMachine/prod/m1": "the ownerReference expects stale",
                 "DockerMachine/prod/m2": "does not exist"},
    ),
    Scenario(
        "an excluded owner keeps its whole subtree",
        [cluster("c1"),
         obj("MachineDeployment", "md",
             owners=(raw_owner(f"{CAPI}/v1beta2", "Cluster", "c1", "x"),)),
         obj("MachineSet", "ms", owners=("MachineDeployment/md",)),
         obj("Machine", "m", owners=("MachineSet/ms",))],
        moved={"Cluster/prod/c1": 0},
        excluded={"MachineDeployment/prod/md": Reason.OWNER_MISSING,
                  "MachineSet/prod/ms": Reason.OWNER_NOT_MOVED,
                  "Machine/prod/m": Reason.OWNER_NOT_MOVED},
        details={"MachineSet/prod/ms": "owner MachineDeployment.cluster.x-k8s.io/prod/md is not "
                                       "moved (owner-missing)"},
    ),
    Scenario(
        "objects no root reaches are orphans",
        [obj("DockerMachineTemplate", "loose"),
         obj("Machine", "m", owners=("DockerMachineTemplate/loose",))],
        moved={},
        excluded={"DockerMachineTemplate/prod/loose": Reason.ORPHAN,
                  "Machine/prod/m": Reason.ORPHAN},
        details={"Machine/prod/m": "owner DockerMachineTemplate.infrastructure.cluster.x-k8s.io/"
                                   "prod/loose is not moved (orphan)"},
    ),
    Scenario(
        "paused clusters and cluster classes are flagged",
        [cluster("c1", paused=True, cls="cc"), cluster("c2", paused=False), cluster("c3"),
         obj("ClusterClass", "cc", annotations={PAUSED_ANNOTATION: ""})],
        moved={"ClusterClass/prod/cc": 0, "Cluster/prod/c1": 1, "Cluster/prod/c2": 0,
               "Cluster/prod/c3": 0},
        flags={"Cluster/prod/c1": {"paused"}, "ClusterClass/prod/cc": {"paused"}},
    ),
    Scenario(
        "an owner in another namespace counts as missing",
        [cluster("c-dev", "dev"),
         obj("Secret", "s", owners=(raw_owner(f"{CAPI}/v1beta2", "Cluster", "c-dev",
                                               uid("Cluster", "dev", "c-dev")),))],
        moved={},
        excluded={"Cluster/dev/c-dev": Reason.OUTSIDE_SELECTION,
                  "Secret/prod/s": Reason.OWNER_MISSING},
        details={"Secret/prod/s": "outside the object's namespace"},
    ),
]


def flags_of(graph: Graph, ref: ObjectRef) -> set[str]:
    node = graph.node(ref)
    return ({"global"} if node.is_global else set()) | (
        {"keep"} if node.keep_in_source else set()) | ({"paused"} if node.paused else set())


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.name)
def test_scenario(scenario: Scenario) -> None:
    graph = build(scenario.objects, KINDS, scenario.selection)

    assert {short(ref): graph.node(ref).wave for ref in graph.moved} == scenario.moved
    assert {short(e.ref): e.reason for e in graph.excluded} == scenario.excluded
    assert {short(ref): flags_of(graph, ref) for ref in graph.moved} == {
        name: scenario.flags.get(name, set()) for name in scenario.moved}
    details = {short(e.ref): e.detail for e in graph.excluded}
    for name, part in scenario.details.items():
        assert part in details[name]


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.name)
def test_every_discovered_object_is_moved_or_excluded_once(scenario: Scenario) -> None:
    graph = build(scenario.objects, KINDS, scenario.selection)

    reported = [*graph.moved, *(e.ref for e in graph.excluded)]
    discovered = sorted(ObjectRef.of(o) for o in scenario.objects)
    assert sorted(reported) == sorted(graph.nodes) == discovered
    for ref in graph.moved:
        node = graph.node(ref)
        assert all(graph.node(o).wave < node.wave for o in (*node.soft_owners,
                                                              *(e.ref for e in node.owners)))


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.name)
def test_input_order_does_not_change_the_graph(scenario: Scenario) -> None:
    shuffled = list(scenario.objects)
    random.Random(7).shuffle(shuffled)

    assert build(shuffled, KINDS, scenario.selection) == build(scenario.objects, KINDS,
                                                               scenario.selection)
    assert build(reversed(scenario.objects), KINDS, scenario.selection).excluded == build(
        scenario.objects, KINDS, scenario.selection).excluded


def ref(kind_name: str, name: str, ns: str = "prod") -> ObjectRef:
    info = BY_NAME[kind_name]
    return ObjectRef(info.group, kind_name, ns if info.namespaced else "", name)


def test_owner_edges_keep_controller_and_block_owner_deletion_as_written() -> None:
    flags_given = raw_owner(f"{CAPI}/v1beta1", "Cluster", "c1", uid("Cluster", "prod", "c1"))
    flags_given.update(controller=False, blockOwnerDeletion=True)
    graph = build([cluster("c1"), obj("DockerCluster", "c1", owners=(flags_given,)),
                   obj("Secret", "plain", owners=(
                       raw_owner(f"{CAPI}/v1beta2", "Cluster", "c1", uid("Cluster", "prod", "c1")),
                   ))], KINDS, Selection("prod"))

    assert graph.node(ref("DockerCluster", "c1")).owners == (OwnerEdge(
        ref("Cluster", "c1"), uid("Cluster", "prod", "c1"), f"{CAPI}/v1beta1", False, True),)
    assert graph.node(ref("Secret", "plain")).owners[0].controller is None
    assert graph.node(ref("Secret", "plain")).owners[0].block_owner_deletion is None


def test_soft_owners_are_recorded_and_not_repeated_when_an_owner_reference_exists() -> None:
    old_style = obj("ClusterResourceSetBinding", "c1", owners=("Cluster/c1",),
                    spec={"clusterName": "c1"})
    graph = build([cluster("c1", cls="cc"), obj("ClusterClass", "cc"), obj("Secret", "c1-ca"),
                   old_style], KINDS, Selection("prod"))

    assert graph.node(ref("Cluster", "c1")).soft_owners == (ref("ClusterClass", "cc"),)
    assert graph.node(ref("Secret", "c1-ca")).soft_owners == (ref("Cluster", "c1"),)
    assert graph.node(ref("ClusterResourceSetBinding", "c1")).soft_owners == ()


def test_graph_answers_waves_dependents_tenants_and_summary() -> None:
    graph = build([cluster("c1"), cluster("c2"),
                   obj("DockerCluster", "c1", owners=("Cluster/c1",)),
                   obj("DockerMachine", "m", owners=("Machine/m",)),
                   obj("Machine", "m", owners=("Cluster/c1",)),
                   obj("DockerMachineTemplate", "shared", owners=("Cluster/c1", "Cluster/c2")),
                   obj("Secret", "c1-ca"), obj("Secret", "stray"),
                   obj("Secret", "w", owners=(raw_owner("x.io/v1", "Widget", "w", "u"),))],
                  KINDS, Selection("prod"))
    c1, c2 = ref("Cluster", "c1"), ref("Cluster", "c2")

    # Within a wave, refs sort by group first: core, then cluster.x-k8s.io, then providers.
    assert graph.waves() == [
        [c1, c2],
        [ref("Secret", "c1-ca"), ref("Machine", "m"), ref("DockerCluster", "c1"),
         ref("DockerMachineTemplate", "shared")],
        [ref("DockerMachine", "m")]]
    assert graph.dependents(c1) == (ref("Secret", "c1-ca"), ref("Machine", "m"),
                                    ref("DockerCluster", "c1"),
                                    ref("DockerMachineTemplate", "shared"))
    assert graph.dependents(ref("Secret", "stray")) == ()
    assert graph.tenants(c2) == (c2, ref("DockerMachineTemplate", "shared"))
    assert graph.node(ref("DockerMachineTemplate", "shared")).clusters == frozenset({c1, c2})
    assert graph.node(ref("DockerMachine", "m")).clusters == frozenset({c1})
    assert graph.clusters() == (c1, c2)
    assert graph.summary() == {"moved": 7, "orphan": 1, "owner-kind-unknown": 1}
    assert graph.is_moved(c1) and not graph.is_moved(ref("Secret", "stray"))
    stray = graph.exclusion(ref("Secret", "stray"))
    assert stray is not None and stray.reason == "orphan" and stray.api_version == "v1"
    assert graph.node(ref("Secret", "stray")).wave == -1


def test_an_object_read_twice_is_one_node_and_the_newer_read_wins() -> None:
    first = cluster("c1")
    second = cluster("c1", paused=True)
    second["metadata"]["resourceVersion"] = "7"

    for objects in ([first, second], [second, first]):
        graph = build(objects, KINDS, Selection("prod"))
        assert graph.moved == (ref("Cluster", "c1"),)
        assert graph.node(ref("Cluster", "c1")).paused is True


def test_all_namespaces_with_named_clusters_selects_them_wherever_they_are() -> None:
    graph = build([cluster("c1", "a"), cluster("c1", "b"), cluster("c2", "a")], KINDS,
                  Selection(None, frozenset({"c1"})))

    assert graph.moved == (ref("Cluster", "c1", "a"), ref("Cluster", "c1", "b"))
    assert [e.reason for e in graph.excluded] == ["outside-selection"]


def large_topology(clusters: int, machines: int) -> list[dict[str, Any]]:
    objects: list[dict[str, Any]] = []
    for c in range(clusters):
        ns, name = f"ns-{c % 50}", f"c{c}"
        objects += [cluster(name, ns), obj("DockerCluster", name, ns, owners=(f"Cluster/{name}",)),
                    obj("Secret", f"{name}-ca", ns), obj("Secret", f"{name}-kubeconfig", ns),
                    obj("MachineDeployment", name, ns, owners=(f"Cluster/{name}",)),
                    obj("MachineSet", name, ns, owners=(f"MachineDeployment/{name}",))]
        for m in range(machines):
            machine = f"{name}-m{m}"
            objects += [obj("Machine", machine, ns, owners=(f"MachineSet/{name}",)),
                        obj("DockerMachine", machine, ns, owners=(f"Machine/{machine}",)),
                        obj("KubeadmConfig", machine, ns, owners=(f"Machine/{machine}",)),
                        obj("Secret", machine, ns, owners=(f"KubeadmConfig/{machine}",))]
    return objects


def test_a_hundred_thousand_objects_build_in_one_pass() -> None:
    objects = large_topology(clusters=2000, machines=11)
    assert len(objects) == 100_000

    graph = build(objects, KINDS, Selection(None))

    assert len(graph.moved) == 100_000 and not graph.excluded
    assert [len(wave) for wave in graph.waves()] == [2000, 8000, 2000, 22000, 44000, 22000]


def test_a_deep_ownership_chain_needs_no_recursion() -> None:
    depth = 10_000
    objects = [cluster("c1"), obj("ConfigMap", "link-0", owners=("Cluster/c1",))]
    objects += [obj("ConfigMap", f"link-{i}", owners=(f"ConfigMap/link-{i - 1}",))
                for i in range(1, depth)]
    objects.append(obj("ConfigMap", "link-0-loop", owners=(f"ConfigMap/link-{depth - 1}",)))
    looped = list(objects)
    looped[1] = obj("ConfigMap", "link-0", owners=("Cluster/c1", f"ConfigMap/link-{depth - 1}"))

    graph = build(objects, KINDS, Selection("prod"))
    assert len(graph.waves()) == depth + 2

    cycle = build(looped, KINDS, Selection("prod"))
    assert cycle.summary() == {"moved": 1, "ownership-cycle": depth + 1}
