"""The status subresource: the main resource ignores .status, /status changes only status."""

from __future__ import annotations

from kubernetes import client

from movekit.kubesim import KubeSim
from tests.kubesim.support import GROUP, raw, wait_established, widget, widget_crd


def test_create_ignores_status(custom: client.CustomObjectsApi, widgets: str) -> None:
    body = widget("w")
    body["status"] = {"ready": True}
    created = custom.create_namespaced_custom_object(GROUP, "v1", "default", "widgets", body)
    assert "status" not in created


def test_update_and_patch_of_the_main_resource_ignore_status(
        custom: client.CustomObjectsApi, widgets: str) -> None:
    custom.create_namespaced_custom_object(GROUP, "v1", "default", "widgets", widget("w"))
    patched = custom.patch_namespaced_custom_object(
        GROUP, "v1", "default", "widgets", "w", {"status": {"ready": True}})
    assert "status" not in patched
    patched["status"] = {"ready": True}
    replaced = custom.replace_namespaced_custom_object(GROUP, "v1", "default", "widgets", "w",
                                                       patched)
    assert "status" not in replaced


def test_status_writes_change_only_status(custom: client.CustomObjectsApi, widgets: str) -> None:
    custom.create_namespaced_custom_object(GROUP, "v1", "default", "widgets", widget("w"))
    updated = custom.patch_namespaced_custom_object_status(
        GROUP, "v1", "default", "widgets", "w",
        {"metadata": {"labels": {"x": "y"}}, "spec": {"size": 7}, "status": {"ready": True}})
    assert updated["status"] == {"ready": True}
    assert updated["spec"] == {"size": 1}
    assert "labels" not in updated["metadata"]
    assert updated["metadata"]["generation"] == 1


def test_status_put_needs_the_current_resource_version(
        sim: KubeSim, custom: client.CustomObjectsApi, widgets: str) -> None:
    created = custom.create_namespaced_custom_object(GROUP, "v1", "default", "widgets",
                                                     widget("w"))
    custom.patch_namespaced_custom_object(GROUP, "v1", "default", "widgets", "w",
                                          {"spec": {"size": 2}})
    created["status"] = {"ready": True}
    code, body, _ = raw(sim, "PUT", f"/apis/{GROUP}/v1/namespaces/default/widgets/w/status",
                        created)
    assert (code, body["reason"]) == (409, "Conflict")


def test_without_the_subresource_status_is_an_ordinary_field(
        sim: KubeSim, ext: client.ApiextensionsV1Api, custom: client.CustomObjectsApi) -> None:
    ext.create_custom_resource_definition(widget_crd(status=False))
    wait_established(ext, f"widgets.{GROUP}")
    body = widget("w")
    body["status"] = {"ready": True}
    created = custom.create_namespaced_custom_object(GROUP, "v1", "default", "widgets", body)
    assert created["status"] == {"ready": True}
    assert raw(sim, "GET", f"/apis/{GROUP}/v1/namespaces/default/widgets/w/status")[0] == 404
    changed = custom.patch_namespaced_custom_object(GROUP, "v1", "default", "widgets", "w",
                                                    {"status": {"ready": False}})
    assert changed["metadata"]["generation"] == 2
