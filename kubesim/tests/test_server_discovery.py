"""Discovery: /version, /api, /apis and group-versions, as clients and kubectl read them."""

from __future__ import annotations

from kubernetes import client, dynamic

from kubesim import KubeSim
from tests.conftest import Kubectl
from tests.support import GROUP, raw, widget_crd


def test_version_and_core_group_are_served(sim: KubeSim) -> None:
    code, version, _ = raw(sim, "GET", "/version")
    assert code == 200 and version["major"] == "1" and version["gitVersion"].startswith("v1.")
    code, api, _ = raw(sim, "GET", "/api")
    assert (code, api["kind"], api["versions"]) == (200, "APIVersions", ["v1"])


def test_core_resource_list_names_resources_with_verbs_and_subresources(sim: KubeSim) -> None:
    _, body, _ = raw(sim, "GET", "/api/v1")
    assert body["kind"] == "APIResourceList" and body["groupVersion"] == "v1"
    by_name = {r["name"]: r for r in body["resources"]}
    assert by_name["secrets"]["namespaced"] is True
    assert by_name["secrets"]["singularName"] == "secret"
    assert by_name["configmaps"]["shortNames"] == ["cm"]
    assert by_name["namespaces"]["namespaced"] is False
    assert "deletecollection" not in by_name["namespaces"]["verbs"]
    assert by_name["namespaces/status"]["verbs"] == ["get", "patch", "update"]


def test_a_crd_group_version_lists_its_resource_and_status_subresource(
        sim: KubeSim, widgets: str) -> None:
    _, groups, _ = raw(sim, "GET", "/apis")
    example = next(g for g in groups["groups"] if g["name"] == GROUP)
    assert example["preferredVersion"] == {"groupVersion": f"{GROUP}/v1", "version": "v1"}
    assert [v["version"] for v in example["versions"]] == ["v1", "v1beta1"]
    _, body, _ = raw(sim, "GET", f"/apis/{GROUP}/v1")
    resources = {r["name"]: r for r in body["resources"]}
    assert resources["widgets"]["verbs"] == ["create", "delete", "deletecollection", "get",
                                             "list", "patch", "update", "watch"]
    assert resources["widgets"]["kind"] == "Widget"
    assert resources["widgets"]["singularName"] == "widget"
    assert resources["widgets"]["shortNames"] == ["wi"]
    assert resources["widgets/status"]["verbs"] == ["get", "patch", "update"]


def test_a_crd_without_status_subresource_lists_no_status(
        sim: KubeSim, ext: client.ApiextensionsV1Api) -> None:
    ext.create_custom_resource_definition(widget_crd(status=False))
    sim.wait_idle()
    _, body, _ = raw(sim, "GET", f"/apis/{GROUP}/v1")
    assert [r["name"] for r in body["resources"]] == ["widgets"]


def test_dynamic_client_finds_builtin_and_custom_kinds(api: client.ApiClient,
                                                       widgets: str) -> None:
    dyn = dynamic.DynamicClient(api, cache_file=None)
    secrets = dyn.resources.get(api_version="v1", kind="Secret")
    assert secrets.namespaced and secrets.name == "secrets"
    crd = dyn.resources.get(api_version=f"{GROUP}/v1", kind="Widget")
    assert crd.name == "widgets"


def test_aggregated_discovery_request_gets_the_plain_format(sim: KubeSim) -> None:
    code, body, headers = raw(sim, "GET", "/apis", headers={
        "Accept": "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,"
                  "application/json"})
    assert code == 200 and body["kind"] == "APIGroupList"
    assert headers["Content-Type"] == "application/json"


def test_kubectl_api_resources_lists_crd_kinds(kubectl: Kubectl, widgets: str) -> None:
    out = kubectl("api-resources", "--api-group", GROUP).stdout
    assert "widgets" in out and "Widget" in out
