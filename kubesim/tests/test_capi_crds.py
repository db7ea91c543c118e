"""The fixture CRDs: installed through the API, Established, served as Cluster API serves them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from kubesim import KubeSim
from kubesim.capi import (
    CLUSTERCTL_LABEL,
    DEFAULT_PROVIDER_VERSIONS,
    PROVIDERS,
    crd_documents,
    install_crds,
    install_providers,
    json_body,
)
from kubesim.capi.strictness import cut, storage_schema, strict_schemas
from tests.support import upstream_crds

CORE_GROUPS = ("cluster.x-k8s.io", "addons.cluster.x-k8s.io", "bootstrap.cluster.x-k8s.io",
               "controlplane.cluster.x-k8s.io")
SCALABLE = {"MachineDeployment", "MachineSet", "MachinePool", "KubeadmControlPlane"}


@pytest.fixture
def api(source: KubeSim) -> Iterator[client.ApiClient]:
    api_client = source.api_client()
    yield api_client
    api_client.close()


def _resources(api: client.ApiClient, group: str, version: str) -> dict[str, bool]:
    """Resource name -> namespaced, as discovery of one group-version lists them."""
    listed = json_body(client.CustomObjectsApi(api).get_api_resources(
        group, version, _preload_content=False))
    return {r["name"]: r["namespaced"] for r in listed["resources"]}


def _crd(api: client.ApiClient, name: str) -> dict[str, Any]:
    return json_body(client.ApiextensionsV1Api(api).read_custom_resource_definition(
        name, _preload_content=False))


def _crd_names(api: client.ApiClient) -> list[str]:
    listed = json_body(client.ApiextensionsV1Api(api).list_custom_resource_definition(
        _preload_content=False))
    return sorted(crd["metadata"]["name"] for crd in listed["items"])


def test_every_crd_is_established_and_served_at_its_served_versions(
        api: client.ApiClient) -> None:
    names = install_crds(api)

    assert sorted(names) == sorted(crd["metadata"]["name"] for crd in crd_documents())
    for crd in crd_documents():
        live = _crd(api, crd["metadata"]["name"])
        established = {c["type"]: c["status"] for c in live["status"]["conditions"]}
        assert established.get("Established") == "True", crd["metadata"]["name"]
        spec = crd["spec"]
        plural, namespaced = spec["names"]["plural"], spec["scope"] == "Namespaced"
        for version in spec["versions"]:
            if not version["served"]:
                continue
            resources = _resources(api, spec["group"], version["name"])
            assert resources[plural] is namespaced, (plural, version["name"])
            subresources = version.get("subresources") or {}
            assert (f"{plural}/status" in resources) == ("status" in subresources)
            assert (f"{plural}/scale" in resources) == ("scale" in subresources)


def test_unserved_versions_are_not_discoverable(api: client.ApiClient) -> None:
    install_crds(api, ["AWSClusterStaticIdentity"])

    served = _resources(api, "infrastructure.cluster.x-k8s.io", "v1beta2")
    assert served["awsclusterstaticidentities"] is False  # cluster-scoped
    with pytest.raises(ApiException) as refused:
        client.CustomObjectsApi(api).list_cluster_custom_object(
            "infrastructure.cluster.x-k8s.io", "v1beta1", "awsclusterstaticidentities")
    assert refused.value.status == 404


def test_cluster_api_kinds_store_v1beta2_and_still_serve_v1beta1() -> None:
    for crd in crd_documents():
        if crd["spec"]["group"] not in CORE_GROUPS and "docker" not in crd["metadata"]["name"]:
            continue
        versions = {v["name"]: (v["served"], v["storage"]) for v in crd["spec"]["versions"]}
        assert versions == {"v1beta1": (True, False), "v1beta2": (True, True)}, \
            crd["metadata"]["name"]


def test_scale_subresource_exists_only_where_cluster_api_has_one() -> None:
    for crd in crd_documents():
        for version in crd["spec"]["versions"]:
            has_scale = "scale" in (version.get("subresources") or {})
            assert has_scale == (crd["spec"]["names"]["kind"] in SCALABLE), \
                (crd["metadata"]["name"], version["name"])


def test_crds_carry_the_labels_clusterctl_init_applies() -> None:
    for crd in crd_documents():
        labels = crd["metadata"]["labels"]
        if crd["spec"]["names"]["kind"] == "Provider":
            # The inventory is clusterctl's own and is never moved.
            assert labels == {"clusterctl.cluster.x-k8s.io/core": "inventory"}
            continue
        assert labels[CLUSTERCTL_LABEL] == ""
        assert labels["cluster.x-k8s.io/provider"] in {
            "cluster-api", "bootstrap-kubeadm", "control-plane-kubeadm",
            "infrastructure-docker", "infrastructure-aws"}
        contract = {k: v for k, v in labels.items() if k.startswith("cluster.x-k8s.io/v1")}
        assert contract in ({"cluster.x-k8s.io/v1beta1": "v1beta1",
                             "cluster.x-k8s.io/v1beta2": "v1beta2"},
                            {"cluster.x-k8s.io/v1beta1": "v1beta1_v1beta2"})


def test_only_global_identities_are_cluster_scoped_hierarchy_roots() -> None:
    cluster_scoped = {crd["spec"]["names"]["kind"] for crd in crd_documents()
                      if crd["spec"]["scope"] == "Cluster"}
    hierarchy = {crd["spec"]["names"]["kind"] for crd in crd_documents()
                 if "clusterctl.cluster.x-k8s.io/move-hierarchy" in crd["metadata"]["labels"]}
    assert cluster_scoped == hierarchy == {"AWSClusterStaticIdentity"}


def test_installing_twice_changes_nothing(api: client.ApiClient) -> None:
    first = install_crds(api, ["Cluster", "machines.cluster.x-k8s.io"])
    before = _crd(api, "clusters.cluster.x-k8s.io")["metadata"]["resourceVersion"]

    second = install_crds(api, ["Cluster", "machines.cluster.x-k8s.io"])

    assert first == second == ["clusters.cluster.x-k8s.io", "machines.cluster.x-k8s.io"]
    assert _crd(api, "clusters.cluster.x-k8s.io")["metadata"]["resourceVersion"] == before


def test_only_the_named_kinds_are_installed(api: client.ApiClient) -> None:
    install_crds(api, ["Cluster", "KubeadmControlPlane"])

    assert _crd_names(api) == [
        "clusters.cluster.x-k8s.io", "kubeadmcontrolplanes.controlplane.cluster.x-k8s.io"]


def test_an_unknown_kind_is_refused_before_anything_is_created(api: client.ApiClient) -> None:
    with pytest.raises(ValueError, match="Gadget"):
        install_crds(api, ["Cluster", "Gadget"])

    assert _crd_names(api) == []


def test_a_cluster_written_at_v1beta2_reads_back_at_v1beta1(api: client.ApiClient) -> None:
    install_crds(api, ["Cluster"])
    custom = client.CustomObjectsApi(api)
    custom.create_namespaced_custom_object(
        "cluster.x-k8s.io", "v1beta2", "default", "clusters",
        {"apiVersion": "cluster.x-k8s.io/v1beta2", "kind": "Cluster",
         "metadata": {"name": "c1"}, "spec": {"paused": True}})

    old = json_body(custom.get_namespaced_custom_object(
        "cluster.x-k8s.io", "v1beta1", "default", "clusters", "c1", _preload_content=False))

    assert old["apiVersion"] == "cluster.x-k8s.io/v1beta1"
    assert old["spec"]["paused"] is True


def test_inventory_is_left_as_clusterctl_init_leaves_it(api: client.ApiClient) -> None:
    versions = {**DEFAULT_PROVIDER_VERSIONS, "cluster-api": "v1.11.2"}
    created = install_providers(api, versions)
    again = install_providers(api, versions)

    custom = client.CustomObjectsApi(api)
    found = json_body(custom.list_cluster_custom_object(
        "clusterctl.cluster.x-k8s.io", "v1alpha3", "providers", _preload_content=False))["items"]
    assert len(created) == len(again) == len(found) == len(PROVIDERS)
    by_name = {p["metadata"]["name"]: p for p in found}
    core = by_name["cluster-api"]
    assert (core["metadata"]["namespace"], core["type"], core["providerName"], core["version"]) \
        == ("capi-system", "CoreProvider", "cluster-api", "v1.11.2")
    assert by_name["infrastructure-docker"]["metadata"]["namespace"] == "capd-system"
    assert core["metadata"]["labels"] == {CLUSTERCTL_LABEL: "", "cluster.x-k8s.io/provider":
                                          "cluster-api",
                                          "clusterctl.cluster.x-k8s.io/core": "inventory"}
    namespace = json_body(client.CoreV1Api(api).read_namespace("capa-system",
                                                               _preload_content=False))
    assert namespace["metadata"]["labels"]["cluster.x-k8s.io/provider"] == "infrastructure-aws"


def test_inventory_follows_the_versions_asked_for_like_clusterctl_upgrade(
        api: client.ApiClient) -> None:
    install_providers(api)

    older = install_providers(api, version="v1.10.4")

    assert {p["version"] for p in older} == {"v1.10.4"}
    core = json_body(client.CustomObjectsApi(api).get_namespaced_custom_object(
        "clusterctl.cluster.x-k8s.io", "v1alpha3", "capi-system", "providers", "cluster-api",
        _preload_content=False))
    assert core["version"] == "v1.10.4"


def test_fixture_crds_are_as_strict_as_upstream_wherever_fixtures_write() -> None:
    """Every constraint upstream Cluster API puts on a field some fixture writes is in the
    project's CRD too (regenerate with `python -m kubesim.capi.strictness DIR`)."""
    upstream = upstream_crds()
    if upstream is None:
        pytest.skip("the upstream Cluster API CRDs are not at hand (../shared/capi-crds)")
    wanted = strict_schemas(upstream)
    assert len(wanted) >= 13
    stale = [crd["metadata"]["name"] for crd in crd_documents()
             if crd["metadata"]["name"] in wanted
             and storage_schema(crd) != wanted[crd["metadata"]["name"]]]
    assert not stale, f"regenerate: python -m kubesim.capi.strictness {upstream}"


def test_a_cut_schema_keeps_every_keyword_on_written_paths_and_nothing_else() -> None:
    schema = {"type": "object", "required": ["spec"], "properties": {
        "spec": {"type": "object", "minProperties": 1, "properties": {
            "name": {"type": "string", "maxLength": 5, "pattern": "^[a-z]+$"},
            "unused": {"type": "string"},
            "list": {"type": "array", "x-kubernetes-list-type": "atomic", "items": {
                "type": "object", "required": ["a"],
                "properties": {"a": {"type": "string", "enum": ["x"]}, "b": {"type": "string"}},
            }},
            "labels": {"type": "object", "additionalProperties": {"type": "string",
                                                                   "maxLength": 3}}}}}}
    written = {("spec",), ("spec", "name"), ("spec", "list"), ("spec", "list", "[]"),
               ("spec", "list", "[]", "a"), ("spec", "labels"), ("spec", "labels", "k")}

    cut_schema = cut(schema, written)

    spec = cut_schema["properties"]["spec"]
    assert set(cut_schema["properties"]) == {"spec"}  # apiVersion etc. are absent here
    assert spec["minProperties"] == 1 and cut_schema["required"] == ["spec"]
    assert set(spec["properties"]) == {"name", "list", "labels"}
    assert spec["properties"]["name"] == schema["properties"]["spec"]["properties"]["name"]
    item = spec["properties"]["list"]["items"]
    assert set(item["properties"]) == {"a"} and item["required"] == ["a"]
    assert spec["properties"]["labels"]["additionalProperties"] == {"type": "string",
                                                                    "maxLength": 3}
