"""CustomResourceDefinitions: establishing, versions, scope, validation, pruning, deletion.

Tests that take ``kube`` run against kubesim and against a real control plane alike."""

from __future__ import annotations

import time
from typing import Any

from kubernetes import client

from kubesim import KubeSim
from tests.conftest import Kube
from tests.support import GROUP, error_of, raw, wait_established, widget, widget_crd


def test_a_new_crd_becomes_established_with_accepted_names(kube: Kube) -> None:
    group = f"{kube.unique('fresh')}.example.com"
    created = kube.ext.create_custom_resource_definition(widget_crd(group=group))
    assert created.status.stored_versions == ["v1"]
    wait_established(kube.ext, f"widgets.{group}", timeout=30)
    crd = kube.ext.read_custom_resource_definition(f"widgets.{group}")
    conditions = {c.type: (c.status, c.reason) for c in crd.status.conditions}
    assert conditions == {"NamesAccepted": ("True", "NoConflicts"),
                          "Established": ("True", "InitialNamesAccepted")}
    assert crd.status.accepted_names.kind == "Widget"
    assert crd.status.accepted_names.plural == "widgets"
    assert crd.metadata.generation == 1


def test_objects_are_served_at_every_version_relabelled_on_read(kube: Kube) -> None:
    kube.widgets()
    kube.custom.create_namespaced_custom_object(GROUP, "v1", kube.ns, "widgets",
                                                widget("w", namespace=kube.ns))
    old = kube.custom.get_namespaced_custom_object(GROUP, "v1beta1", kube.ns, "widgets", "w")
    assert old["apiVersion"] == f"{GROUP}/v1beta1" and old["spec"] == {"size": 1}
    listed = kube.custom.list_namespaced_custom_object(GROUP, "v1beta1", kube.ns, "widgets")
    assert [i["apiVersion"] for i in listed["items"]] == [f"{GROUP}/v1beta1"]


def test_cluster_scoped_kinds_have_no_namespace(kube: Kube) -> None:
    group = f"{kube.unique('global')}.example.com"
    kube.install(widget_crd(scope="Cluster", group=group))
    created = kube.custom.create_cluster_custom_object(
        group, "v1", "widgets", widget("global", namespace=None, group=group))
    assert "namespace" not in created["metadata"]
    assert kube.raw("GET", f"{kube.path(group=group)}/global")[0] == 404


def test_crd_name_must_be_plural_dot_group(kube: Kube) -> None:
    crd = widget_crd()
    crd["metadata"]["name"] = "gadgets.example.com"
    code, body, _ = error_of(lambda: kube.ext.create_custom_resource_definition(crd))
    assert (code, body["reason"]) == (422, "Invalid")
    assert body["message"] == (
        'CustomResourceDefinition.apiextensions.k8s.io "gadgets.example.com" is invalid: '
        'metadata.name: Invalid value: "gadgets.example.com": must be '
        'spec.names.plural+"."+spec.group')


def test_crd_needs_exactly_one_storage_version(kube: Kube) -> None:
    crd = widget_crd(group=f"{kube.unique('two')}.example.com")
    for version in crd["spec"]["versions"]:
        version["storage"] = True
    code, body, _ = error_of(lambda: kube.ext.create_custom_resource_definition(crd))
    assert code == 422
    assert "must have exactly one version marked as storage version" in body["message"]


def test_kinds_are_not_served_before_their_crd_exists(kube: Kube) -> None:
    group = f"{kube.unique('later')}.example.com"
    assert kube.raw("GET", kube.path(group=group))[0] == 404


def test_schema_violations_are_422_with_field_paths(kube: Kube) -> None:
    kube.widgets()
    bad: dict[str, Any] = widget("w", namespace=kube.ns)
    bad["spec"] = {"size": "big", "color": "green"}
    code, body, _ = error_of(lambda: kube.custom.create_namespaced_custom_object(
        GROUP, "v1", kube.ns, "widgets", bad))
    assert (code, body["reason"]) == (422, "Invalid")
    assert body["details"]["kind"] == "Widget" and body["details"]["group"] == GROUP
    fields = {c["field"]: c["reason"] for c in body["details"]["causes"]}
    assert fields == {"spec.size": "FieldValueTypeInvalid",
                      "spec.color": "FieldValueNotSupported"}
    assert body["message"].startswith('Widget.example.com "w" is invalid: [')


def test_required_fields_are_enforced(kube: Kube) -> None:
    kube.widgets()
    bad = widget("w", namespace=kube.ns)
    del bad["spec"]["size"]
    code, body, _ = error_of(lambda: kube.custom.create_namespaced_custom_object(
        GROUP, "v1", kube.ns, "widgets", bad))
    assert code == 422 and body["message"] == ('Widget.example.com "w" is invalid: spec.size: '
                                               "Required value")


def test_unknown_fields_are_pruned_with_a_warning_unless_preserved(kube: Kube) -> None:
    kube.widgets()
    body = widget("w", namespace=kube.ns, junk=1, extra={"anything": {"goes": True}})
    code, created, headers = kube.raw("POST", kube.path(), body)
    assert code == 201
    assert created["spec"] == {"size": 1, "extra": {"anything": {"goes": True}}}
    assert 'unknown field \\"spec.junk\\"' in headers.get("Warning", "")


def test_strict_field_validation_refuses_unknown_fields(kube: Kube) -> None:
    kube.widgets()
    code, body, _ = kube.raw("POST", f"{kube.path()}?fieldValidation=Strict",
                             widget("w", namespace=kube.ns, junk=1))
    assert (code, body["reason"]) == (400, "BadRequest")
    assert body["message"] == ('Widget in version "v1" cannot be handled as a Widget: strict '
                               'decoding error: unknown field "spec.junk"')


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
