"""Discovery keeps views of what it read: the graph and the pre-checks decide from a view
exactly what they would decide from the whole object, and the whole object is still there."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from kubesim import KubeSim
from kubesim.capi import install_crds, install_providers
from kubesim.capi.fleet import seed_fleet
from kubesim.capi.topologies import TOPOLOGIES, seed
from movekit.discovery import discover, view
from movekit.graph import build
from movekit.kube import KubeClient
from movekit.model import Selection
from movekit.precheck import provisioning_problems
from movekit.refs import ObjectRef

NAMESPACE = "prod"


@pytest.fixture
def client(source: KubeSim, tmp_path: Path) -> Iterator[KubeClient]:
    with source.api_client() as api:
        install_crds(api)
        install_providers(api)
    with KubeClient(source.write_kubeconfig(tmp_path / "source.yaml")) as kube:
        yield kube


def _same_decisions(client: KubeClient, selection: Selection) -> None:
    found = discover(client, selection)
    whole = [found.full(ObjectRef.of(obj)) for obj in found.objects]
    assert [view(obj) for obj in whole] == found.objects
    assert build(found.objects, found.kinds, selection) == build(whole, found.kinds, selection)
    assert provisioning_problems(found.objects) == provisioning_problems(whole)


@pytest.mark.parametrize("name", sorted(TOPOLOGIES))
def test_the_graph_of_views_is_the_graph_of_whole_objects(
        name: str, source: KubeSim, client: KubeClient) -> None:
    topology = TOPOLOGIES[name]
    with source.api_client() as api:
        seed(api, topology, namespace=NAMESPACE)
    _same_decisions(client, Selection(namespace=NAMESPACE))
    _same_decisions(client, Selection(namespace=None))


def test_a_fleet_reads_as_views_and_unpacks_whole(source: KubeSim, client: KubeClient) -> None:
    seed_fleet(None, 3, namespace=NAMESPACE, store=source.store)
    _same_decisions(client, Selection(namespace=NAMESPACE))

    found = discover(client, Selection(namespace=NAMESPACE))
    kubeconfig = ObjectRef("", "Secret", NAMESPACE, "wl-0000-kubeconfig")
    whole = found.full(kubeconfig)
    assert whole["data"] and whole["metadata"]["managedFields"]
    shown = next(obj for obj in found.objects if ObjectRef.of(obj) == kubeconfig)
    assert "data" not in shown and "managedFields" not in shown["metadata"]
