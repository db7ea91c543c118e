"""managedFields over HTTP: the facts observed on a real kube-apiserver v1.36."""

from __future__ import annotations

from typing import Any

from tests.conftest import Kube
from tests.support import GROUP, widget


def _managers(obj: dict[str, Any]) -> list[tuple[str, str]]:
    return [(e["manager"], e["operation"]) for e in obj["metadata"].get("managedFields", [])]


def test_a_create_carrying_managed_fields_discards_them(kube: Kube) -> None:
    kube.widgets()
    body = widget("w", namespace=kube.ns)
    body["metadata"]["managedFields"] = [{
        "manager": "someone-else", "operation": "Apply", "apiVersion": f"{GROUP}/v1",
        "time": "2030-01-01T00:00:00Z", "fieldsType": "FieldsV1",
        "fieldsV1": {"f:spec": {"f:size": {}}}}]
    created = kube.custom.create_namespaced_custom_object(GROUP, "v1", kube.ns, "widgets", body,
                                                     field_manager="mover")
    assert _managers(created) == [("mover", "Update")]


def test_manager_defaults_to_the_user_agent_prefix(kube: Kube) -> None:
    created = kube.core.create_namespaced_config_map(kube.ns, {"metadata": {"name": "c"},
                                                            "data": {"a": "b"}})
    assert created.metadata.managed_fields[0].manager == "OpenAPI-Generator"


def test_a_merge_patch_setting_managed_fields_replaces_them_exactly(kube: Kube) -> None:
    kube.widgets()
    kube.custom.create_namespaced_custom_object(
        GROUP, "v1", kube.ns, "widgets", widget("w", namespace=kube.ns),
                                           field_manager="mover")
    restored = [{"manager": "capi-topology", "operation": "Apply",
                 "apiVersion": f"{GROUP}/v1", "time": "2030-01-01T00:00:00Z",
                 "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {"f:size": {}}}}]
    patched = kube.custom.patch_namespaced_custom_object(
        GROUP, "v1", kube.ns, "widgets", "w", {"metadata": {"managedFields": restored}},
        field_manager="mover")
    assert patched["metadata"]["managedFields"] == restored


def test_a_manager_whose_last_field_goes_away_disappears(kube: Kube) -> None:
    kube.widgets()
    kube.custom.create_namespaced_custom_object(
        GROUP, "v1", kube.ns, "widgets", widget("w", namespace=kube.ns),
                                           field_manager="creator")
    kube.custom.patch_namespaced_custom_object(GROUP, "v1", kube.ns, "widgets", "w",
                                          {"spec": {"paused": True}}, field_manager="pauser")
    unpaused = kube.custom.patch_namespaced_custom_object(
        GROUP, "v1", kube.ns, "widgets", "w", {"spec": {"paused": None}},
        field_manager="mover")
    assert "paused" not in unpaused["spec"]
    assert "pauser" not in [m for m, _ in _managers(unpaused)]


def test_a_write_that_changes_nothing_keeps_the_resource_version(kube: Kube) -> None:
    kube.widgets()
    created = kube.custom.create_namespaced_custom_object(GROUP, "v1", kube.ns, "widgets",
                                                     widget("w", namespace=kube.ns))
    again = kube.custom.patch_namespaced_custom_object(GROUP, "v1", kube.ns, "widgets", "w",
                                                  {"spec": {"size": 1}})
    assert again["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]
    assert kube.raw("GET", f"{kube.path()}/w")[1] == again
