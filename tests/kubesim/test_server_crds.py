"""CustomResourceDefinitions: establishing, versions, scope, validation, pruning, deletion."""

from __future__ import annotations

import time
from typing import Any

from kubernetes import client

from movekit.kubesim import KubeSim
from tests.kubesim.support import GROUP, error_of, raw, wait_established, widget, widget_crd


def test_a_new_crd_becomes_established_with_accepted_names(
        ext: client.ApiextensionsV1Api) -> None:
    created = ext.create_custom_resource_definition(widget_crd())
    assert created.status.stored_versions == ["v1"]
    wait_established(ext, f"widgets.{GROUP}")
    crd = ext.read_custom_resource_definition(f"widgets.{GROUP}")
    conditions = {c.type: (c.status, c.reason) for c in crd.status.conditions}
    assert conditions == {"NamesAccepted": ("True", "NoConflicts"),
                          "Established": ("True", "InitialNamesAccepted")}
    assert crd.status.accepted_names.kind == "Widget"
    assert crd.status.accepted_names.plural == "widgets"
    assert crd.metadata.generation == 1


def test_objects_are_served_at_every_version_relabelled_on_read(
        custom: client.CustomObjectsApi, widgets: str) -> None:
    custom.create_namespaced_custom_object(GROUP, "v1", "default", "widgets", widget("w"))
    old = custom.get_namespaced_custom_object(GROUP, "v1beta1", "default", "widgets", "w")
    assert old["apiVersion"] == f"{GROUP}/v1beta1" and old["spec"] == {"size": 1}
    listed = custom.list_namespaced_custom_object(GROUP, "v1beta1", "default", "widgets")
    assert [i["apiVersion"] for i in listed["items"]] == [f"{GROUP}/v1beta1"]


def test_cluster_scoped_kinds_have_no_namespace(sim: KubeSim, ext: client.ApiextensionsV1Api,
                                                custom: client.CustomObjectsApi) -> None:
    ext.create_custom_resource_definition(widget_crd(scope="Cluster"))
    wait_established(ext, f"widgets.{GROUP}")
    created = custom.create_cluster_custom_object(GROUP, "v1", "widgets",
                                                  widget("global", namespace=None))
    assert "namespace" not in created["metadata"]
    assert raw(sim, "GET", f"/apis/{GROUP}/v1/namespaces/default/widgets/global")[0] == 404


def test_crd_name_must_be_plural_dot_group(ext: client.ApiextensionsV1Api) -> None:
    crd = widget_crd()
    crd["metadata"]["name"] = "gadgets.example.com"
    code, body, _ = error_of(lambda: ext.create_custom_resource_definition(crd))
    assert (code, body["reason"]) == (422, "Invalid")
    assert body["message"] == (
        'CustomResourceDefinition.apiextensions.k8s.io "gadgets.example.com" is invalid: '
        'metadata.name: Invalid value: "gadgets.example.com": must be '
        'spec.names.plural+"."+spec.group')


def test_crd_needs_exactly_one_storage_version(ext: client.ApiextensionsV1Api) -> None:
    crd = widget_crd()
    for version in crd["spec"]["versions"]:
        version["storage"] = True
    code, body, _ = error_of(lambda: ext.create_custom_resource_definition(crd))
    assert code == 422
    assert "must have exactly one version marked as storage version" in body["message"]


def test_kinds_are_not_served_before_their_crd_exists(sim: KubeSim) -> None:
    code, _, _ = raw(sim, "GET", f"/apis/{GROUP}/v1/namespaces/default/widgets")
    assert code == 404


def test_schema_violations_are_422_with_field_paths(custom: client.CustomObjectsApi,
                                                    widgets: str) -> None:
    bad: dict[str, Any] = widget("w")
    bad["spec"] = {"size": "big", "color": "green"}
    code, body, _ = error_of(lambda: custom.create_namespaced_custom_object(
        GROUP, "v1", "default", "widgets", bad))
    assert (code, body["reason"]) == (422, "Invalid")
    assert body["details"]["kind"] == "Widget" and body["details"]["group"] == GROUP
    fields = {c["field"]: c["reason"] for c in body["details"]["causes"]}
    assert fields == {"spec.size": "FieldValueTypeInvalid",
                      "spec.color": "FieldValueNotSupported"}
    assert body["message"].startswith('Widget.example.com "w" is invalid: [')


def test_required_fields_are_enforced(custom: client.CustomObjectsApi, widgets: str) -> None:
    bad = widget("w")
    del bad["spec"]["size"]
    code, body, _ = error_of(lambda: custom.create_namespaced_custom_object(
        GROUP, "v1", "default", "widgets", bad))
    assert code == 422 and "spec.size: Required value" in body["message"]


def test_unknown_fields_are_pruned_with_a_warning_unless_preserved(
        sim: KubeSim, widgets: str) -> None:
    body = widget("w", junk=1, extra={"anything": {"goes": True}})
    code, created, headers = raw(sim, "POST", f"/apis/{GROUP}/v1/namespaces/default/widgets",
                                 body)
    assert code == 201
    assert created["spec"] == {"size": 1, "extra": {"anything": {"goes": True}}}
    assert 'unknown field \\"spec.junk\\"' in headers.get("Warning", "")


def test_strict_field_validation_refuses_unknown_fields(sim: KubeSim, widgets: str) -> None:
    code, body, _ = raw(sim, "POST",
                        f"/apis/{GROUP}/v1/namespaces/default/widgets?fieldValidation=Strict",
                        widget("w", junk=1))
    assert (code, body["reason"]) == (400, "BadRequest")
    assert body["message"] == 'strict decoding error: unknown field "spec.junk"'


def test_deleting_a_crd_removes_its_objects_and_stops_serving(
        sim: KubeSim, ext: client.ApiextensionsV1Api, custom: client.CustomObjectsApi,
        widgets: str) -> None:
    custom.create_namespaced_custom_object(GROUP, "v1", "default", "widgets", widget("w"))
    code, deleting, _ = raw(
        sim, "DELETE", f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{widgets}")
    assert code == 200 and deleting["metadata"]["deletionTimestamp"]
    assert deleting["metadata"]["finalizers"] == ["customresourcecleanup.apiextensions.k8s.io"]
    deadline = time.monotonic() + 5
    while raw(sim, "GET", f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{widgets}"
              )[0] != 404:
        assert time.monotonic() < deadline
        time.sleep(0.005)
    assert raw(sim, "GET", f"/apis/{GROUP}/v1/namespaces/default/widgets")[0] == 404
    assert all(g["name"] != GROUP for g in raw(sim, "GET", "/apis")[1]["groups"])
    assert sim.store.list(GROUP, "widgets") == []


def test_a_terminating_crd_refuses_new_objects_while_finalizers_hold_old_ones(
        sim: KubeSim, ext: client.ApiextensionsV1Api, custom: client.CustomObjectsApi,
        widgets: str) -> None:
    held = widget("held")
    held["metadata"]["finalizers"] = ["example.com/hold"]
    custom.create_namespaced_custom_object(GROUP, "v1", "default", "widgets", held)
    ext.delete_custom_resource_definition(widgets)
    sim.wait_idle()
    code, body, _ = error_of(lambda: custom.create_namespaced_custom_object(
        GROUP, "v1", "default", "widgets", widget("new")))
    assert (code, body["reason"]) == (405, "MethodNotAllowed")
    assert body["message"] == "create not allowed while custom resource definition is terminating"
    custom.patch_namespaced_custom_object(GROUP, "v1", "default", "widgets", "held",
                                          {"metadata": {"finalizers": None}})
    sim.wait_idle()
    assert sim.store.get("apiextensions.k8s.io", "customresourcedefinitions", "", widgets) is None
