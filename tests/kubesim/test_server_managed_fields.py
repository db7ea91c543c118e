"""managedFields over HTTP: the facts observed on a real kube-apiserver v1.36."""

from __future__ import annotations

from typing import Any

from kubernetes import client

from movekit.kubesim import KubeSim
from tests.kubesim.support import GROUP, raw, widget


def _managers(obj: dict[str, Any]) -> list[tuple[str, str]]:
    return [(e["manager"], e["operation"]) for e in obj["metadata"].get("managedFields", [])]


def test_a_create_carrying_managed_fields_discards_them(
        custom: client.CustomObjectsApi, widgets: str) -> None:
    body = widget("w")
    body["metadata"]["managedFields"] = [{
        "manager": "someone-else", "operation": "Apply", "apiVersion": f"{GROUP}/v1",
        "time": "2030-01-01T00:00:00Z", "fieldsType": "FieldsV1",
        "fieldsV1": {"f:spec": {"f:size": {}}}}]
    created = custom.create_namespaced_custom_object(GROUP, "v1", "default", "widgets", body,
                                                     field_manager="mover")
    assert _managers(created) == [("mover", "Update")]


def test_manager_defaults_to_the_user_agent_prefix(core: client.CoreV1Api) -> None:
    created = core.create_namespaced_config_map("default", {"metadata": {"name": "c"},
                                                            "data": {"a": "b"}})
    assert created.metadata.managed_fields[0].manager == "OpenAPI-Generator"


def test_a_merge_patch_setting_managed_fields_replaces_them_exactly(
        custom: client.CustomObjectsApi, widgets: str) -> None:
    custom.create_namespaced_custom_object(GROUP, "v1", "default", "widgets", widget("w"),
                                           field_manager="mover")
    restored = [{"manager": "capi-topology", "operation": "Apply",
                 "apiVersion": f"{GROUP}/v1", "time": "2030-01-01T00:00:00Z",
                 "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {"f:size": {}}}}]
    patched = custom.patch_namespaced_custom_object(
        GROUP, "v1", "default", "widgets", "w", {"metadata": {"managedFields": restored}},
        field_manager="mover")
    assert patched["metadata"]["managedFields"] == restored


def test_a_manager_whose_last_field_goes_away_disappears(
        custom: client.CustomObjectsApi, widgets: str) -> None:
    custom.create_namespaced_custom_object(GROUP, "v1", "default", "widgets", widget("w"),
                                           field_manager="creator")
    custom.patch_namespaced_custom_object(GROUP, "v1", "default", "widgets", "w",
                                          {"spec": {"paused": True}}, field_manager="pauser")
    unpaused = custom.patch_namespaced_custom_object(
        GROUP, "v1", "default", "widgets", "w", {"spec": {"paused": None}},
        field_manager="mover")
    assert "paused" not in unpaused["spec"]
    assert "pauser" not in [m for m, _ in _managers(unpaused)]


def test_a_write_that_changes_nothing_keeps_the_resource_version(
        sim: KubeSim, custom: client.CustomObjectsApi, widgets: str) -> None:
    created = custom.create_namespaced_custom_object(GROUP, "v1", "default", "widgets",
                                                     widget("w"))
    again = custom.patch_namespaced_custom_object(GROUP, "v1", "default", "widgets", "w",
                                                  {"spec": {"size": 1}})
    assert again["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]
    assert raw(sim, "GET", f"/apis/{GROUP}/v1/namespaces/default/widgets/w")[1] == again
