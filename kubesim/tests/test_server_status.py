"""The status subresource: the main resource ignores .status, /status changes only status."""

from __future__ import annotations

from tests.conftest import Kube
from tests.support import GROUP, widget, widget_crd


def test_create_ignores_status(kube: Kube) -> None:
    kube.widgets()
    body = widget("w", namespace=kube.ns)
    body["status"] = {"ready": True}
    created = kube.custom.create_namespaced_custom_object(GROUP, "v1", kube.ns, "widgets", body)
    assert "status" not in created


def test_update_and_patch_of_the_main_resource_ignore_status(kube: Kube) -> None:
    kube.widgets()
    kube.custom.create_namespaced_custom_object(
        GROUP, "v1", kube.ns, "widgets", widget("w", namespace=kube.ns))
    patched = kube.custom.patch_namespaced_custom_object(
        GROUP, "v1", kube.ns, "widgets", "w", {"status": {"ready": True}})
    assert "status" not in patched
    patched["status"] = {"ready": True}
    replaced = kube.custom.replace_namespaced_custom_object(GROUP, "v1", kube.ns, "widgets", "w",
                                                       patched)
    assert "status" not in replaced


def test_status_writes_change_only_status(kube: Kube) -> None:
    kube.widgets()
    kube.custom.create_namespaced_custom_object(
        GROUP, "v1", kube.ns, "widgets", widget("w", namespace=kube.ns))
    updated = kube.custom.patch_namespaced_custom_object_status(
        GROUP, "v1", kube.ns, "widgets", "w",
        {"metadata": {"labels": {"x": "y"}}, "spec": {"size": 7}, "status": {"ready": True}})
    assert updated["status"] == {"ready": True}
    assert updated["spec"] == {"size": 1}
    assert "labels" not in updated["metadata"]
    assert updated["metadata"]["generation"] == 1


def test_status_put_needs_the_current_resource_version(kube: Kube) -> None:
    kube.widgets()
    created = kube.custom.create_namespaced_custom_object(GROUP, "v1", kube.ns, "widgets",
                                                     widget("w", namespace=kube.ns))
    kube.custom.patch_namespaced_custom_object(GROUP, "v1", kube.ns, "widgets", "w",
                                          {"spec": {"size": 2}})
    created["status"] = {"ready": True}
    code, body, _ = kube.raw("PUT", f"{kube.path()}/w/status",
                        created)
    assert (code, body["reason"]) == (409, "Conflict")


def test_without_the_subresource_status_is_an_ordinary_field(kube: Kube) -> None:
    group = f"{kube.unique('plain')}.example.com"
    kube.install(widget_crd(status=False, group=group))
    body = widget("w", namespace=kube.ns, group=group)
    body["status"] = {"ready": True}
    created = kube.custom.create_namespaced_custom_object(group, "v1", kube.ns, "widgets", body)
    assert created["status"] == {"ready": True}
    assert kube.raw("GET", f"{kube.path(group=group)}/w/status")[0] == 404
    changed = kube.custom.patch_namespaced_custom_object(group, "v1", kube.ns, "widgets", "w",
                                                         {"status": {"ready": False}})
    assert changed["metadata"]["generation"] == 2
