"""Which Clusters each entry of a bundle belongs to, read from the entries alone."""

from __future__ import annotations

import pytest

from movekit.bundle import ObjectEntry, Owner
from movekit.entries import clusters_of
from movekit.refs import ObjectRef

CAPI = "cluster.x-k8s.io"


def ref(kind: str, name: str, group: str = CAPI, namespace: str = "ns") -> ObjectRef:
    return ObjectRef(group, kind, namespace, name)


def entry(of: ObjectRef, owners: tuple[ObjectRef, ...] = (),
          soft: tuple[ObjectRef, ...] = ()) -> ObjectEntry:
    return ObjectEntry(of, f"{of.group}/v1" if of.group else "v1", f"uid-{of.name}",
                       [Owner(o, f"uid-{o.name}", f"{o.group}/v1") for o in owners], list(soft),
                       0, False, False, None)


C1, C2 = ref("Cluster", "c1"), ref("Cluster", "c2")
CLASS = ref("ClusterClass", "shared")
TEMPLATE = ref("DockerClusterTemplate", "shared", "infrastructure.cluster.x-k8s.io")
KCP = ref("KubeadmControlPlane", "c1-cp", "controlplane.cluster.x-k8s.io")
MACHINE = ref("Machine", "c1-cp-x")
SECRET = ref("Secret", "c1-kubeconfig", "")
BOTH = ref("ConfigMap", "both", "")
A, B = ref("ConfigMap", "a", ""), ref("ConfigMap", "b", "")


@pytest.mark.parametrize("order", ["owners first", "dependents first"])
def test_each_object_belongs_to_the_clusters_above_it_and_shared_roots_to_none(
        order: str) -> None:
    entries = [entry(CLASS), entry(TEMPLATE, (CLASS,)), entry(C1, soft=(CLASS,)),
               entry(C2, soft=(CLASS,)), entry(KCP, (C1,)), entry(MACHINE, (KCP,)),
               entry(SECRET, soft=(C1,)), entry(BOTH, (MACHINE, C2)),
               entry(A, (B,)), entry(B, (A,))]
    if order == "dependents first":
        entries.reverse()

    assert clusters_of(entries) == {
        CLASS: (), TEMPLATE: (), C1: (C1,), C2: (C2,), KCP: (C1,), MACHINE: (C1,),
        SECRET: (C1,), BOTH: (C1, C2), A: (), B: ()}


def test_a_chain_deeper_than_pythons_recursion_limit_is_followed() -> None:
    chain = [entry(C1)] + [entry(ref("ConfigMap", f"m{i}", ""),
                                 (C1 if i == 0 else ref("ConfigMap", f"m{i - 1}", ""),))
                           for i in range(5000)]

    assert set(clusters_of(reversed(chain)).values()) == {(C1,)}
