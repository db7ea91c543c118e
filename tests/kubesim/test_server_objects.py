"""Object semantics: system fields, names, conflicts, missing objects and namespaces, dry run."""

from __future__ import annotations

import base64
import re

from kubernetes import client

from movekit.kubesim import KubeSim
from tests.kubesim.support import GROUP, error_of, raw, widget


def test_create_assigns_uid_resource_version_and_timestamp_ignoring_a_given_uid(
        core: client.CoreV1Api) -> None:
    given = "11111111-2222-3333-4444-555555555555"
    created = core.create_namespaced_config_map("default", {
        "metadata": {"name": "c1", "uid": given, "resourceVersion": "5"}, "data": {"a": "b"}})
    assert created.metadata.uid and created.metadata.uid != given
    assert created.metadata.resource_version != "5"
    assert created.metadata.creation_timestamp is not None


def test_resource_versions_come_from_one_increasing_counter(core: client.CoreV1Api) -> None:
    first = core.create_namespaced_config_map("default", {"metadata": {"name": "a"}})
    second = core.create_namespaced_secret("default", {"metadata": {"name": "b"}})
    third = core.create_namespace({"metadata": {"name": "other"}})
    versions = [int(o.metadata.resource_version) for o in (first, second, third)]
    assert versions == sorted(versions) and len(set(versions)) == 3


def test_generate_name_appends_five_characters_of_the_apiserver_alphabet(
        core: client.CoreV1Api) -> None:
    created = core.create_namespaced_secret("default", {"metadata": {"generateName": "gen-"}})
    assert re.fullmatch(r"gen-[bcdfghjklmnpqrstvwxz2456789]{5}", created.metadata.name)


def test_invalid_name_is_422_invalid_with_the_apiserver_message(core: client.CoreV1Api) -> None:
    code, body, _ = error_of(lambda: core.create_namespaced_config_map(
        "default", {"metadata": {"name": "Bad_Name"}}))
    assert code == 422 and body["reason"] == "Invalid"
    assert body["message"].startswith('ConfigMap "Bad_Name" is invalid: metadata.name: Invalid '
                                      'value: "Bad_Name": a lowercase RFC 1123 subdomain must')
    assert body["details"]["kind"] == "ConfigMap"
    assert body["details"]["causes"][0]["field"] == "metadata.name"


def test_namespace_names_must_be_dns_labels(core: client.CoreV1Api) -> None:
    code, body, _ = error_of(lambda: core.create_namespace({"metadata": {"name": "a.b"}}))
    assert code == 422
    assert "a lowercase RFC 1123 label must consist of" in body["message"]


def test_second_create_is_409_already_exists(core: client.CoreV1Api) -> None:
    core.create_namespaced_secret("default", {"metadata": {"name": "s"}})
    code, body, _ = error_of(lambda: core.create_namespaced_secret(
        "default", {"metadata": {"name": "s"}}))
    assert (code, body["reason"]) == (409, "AlreadyExists")
    assert body["message"] == 'secrets "s" already exists'
    assert body["details"] == {"name": "s", "kind": "secrets"}


def test_missing_object_is_404_not_found_with_group_and_plural(
        custom: client.CustomObjectsApi, widgets: str) -> None:
    code, body, _ = error_of(lambda: custom.get_namespaced_custom_object(
        GROUP, "v1", "default", "widgets", "nope"))
    assert (code, body["reason"]) == (404, "NotFound")
    assert body["message"] == 'widgets.example.com "nope" not found'
    assert body["details"] == {"name": "nope", "group": GROUP, "kind": "widgets"}


def test_create_in_missing_namespace_is_404_naming_the_namespace(
        core: client.CoreV1Api) -> None:
    code, body, _ = error_of(lambda: core.create_namespaced_secret(
        "absent", {"metadata": {"name": "s"}}))
    assert code == 404
    assert body["details"] == {"name": "absent", "kind": "namespaces"}


def test_put_of_a_custom_resource_without_resource_version_is_422(
        custom: client.CustomObjectsApi, widgets: str) -> None:
    custom.create_namespaced_custom_object(GROUP, "v1", "default", "widgets", widget("w"))
    code, body, _ = error_of(lambda: custom.replace_namespaced_custom_object(
        GROUP, "v1", "default", "widgets", "w", widget("w", size=2)))
    assert (code, body["reason"]) == (422, "Invalid")
    assert body["message"] == ('widgets.example.com "w" is invalid: metadata.resourceVersion: '
                               "Invalid value: 0x0: must be specified for an update")


def test_put_with_a_stale_resource_version_is_409_conflict(
        custom: client.CustomObjectsApi, widgets: str) -> None:
    created = custom.create_namespaced_custom_object(GROUP, "v1", "default", "widgets",
                                                     widget("w"))
    custom.patch_namespaced_custom_object(GROUP, "v1", "default", "widgets", "w",
                                          {"spec": {"size": 2}})
    code, body, _ = error_of(lambda: custom.replace_namespaced_custom_object(
        GROUP, "v1", "default", "widgets", "w", created))
    assert (code, body["reason"]) == (409, "Conflict")
    assert body["details"] == {"name": "w", "group": GROUP, "kind": "widgets"}
    assert "the object has been modified" in body["message"]


def test_put_of_a_secret_without_resource_version_is_an_unconditional_update(
        core: client.CoreV1Api) -> None:
    core.create_namespaced_secret("default", {"metadata": {"name": "s"}})
    replaced = core.replace_namespaced_secret("s", "default", {"metadata": {"name": "s"},
                                                               "stringData": {"k": "v"}})
    assert replaced.data == {"k": base64.b64encode(b"v").decode()}


def test_generation_starts_at_one_and_follows_spec_changes_of_custom_resources(
        custom: client.CustomObjectsApi, widgets: str) -> None:
    created = custom.create_namespaced_custom_object(GROUP, "v1", "default", "widgets",
                                                     widget("w"))
    assert created["metadata"]["generation"] == 1
    labelled = custom.patch_namespaced_custom_object(
        GROUP, "v1", "default", "widgets", "w", {"metadata": {"labels": {"a": "b"}}})
    assert labelled["metadata"]["generation"] == 1
    resized = custom.patch_namespaced_custom_object(GROUP, "v1", "default", "widgets", "w",
                                                    {"spec": {"size": 9}})
    assert resized["metadata"]["generation"] == 2


def test_secrets_have_no_generation_and_merge_string_data_into_data(
        core: client.CoreV1Api) -> None:
    created = core.create_namespaced_secret("default", {
        "metadata": {"name": "s"}, "data": {"a": base64.b64encode(b"1").decode()},
        "stringData": {"b": "2"}})
    assert created.metadata.generation is None
    assert created.type == "Opaque"
    assert created.data == {"a": "MQ==", "b": "Mg=="}
    assert "stringData" not in core.api_client.sanitize_for_serialization(created)


def test_secret_data_must_be_base64(sim: KubeSim) -> None:
    code, body, _ = raw(sim, "POST", "/api/v1/namespaces/default/secrets", {
        "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"},
        "data": {"a": "not base64!"}})
    assert (code, body["reason"]) == (400, "BadRequest")
    assert "illegal base64 data at input byte 3" in body["message"]


def test_dry_run_returns_the_object_and_persists_nothing(core: client.CoreV1Api) -> None:
    shown = core.create_namespaced_config_map("default", {"metadata": {"name": "c"}},
                                              dry_run="All")
    assert shown.metadata.name == "c" and shown.metadata.uid
    code, _, _ = error_of(lambda: core.read_namespaced_config_map("c", "default"))
    assert code == 404


def test_body_namespace_must_match_the_url(core: client.CoreV1Api) -> None:
    code, body, _ = error_of(lambda: core.create_namespaced_config_map(
        "default", {"metadata": {"name": "c", "namespace": "kube-system"}}))
    assert (code, body["reason"]) == (400, "BadRequest")
    assert body["message"] == ("the namespace of the provided object does not match the "
                               "namespace sent on the request")


def test_unknown_path_is_404_with_a_status(sim: KubeSim) -> None:
    code, body, _ = raw(sim, "GET", "/apis/nothing.example.com/v1/things")
    assert code == 404
    assert body == {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                    "message": "the server could not find the requested resource",
                    "reason": "NotFound", "details": {}, "code": 404}


def test_delete_collection_deletes_the_selected_objects(sim: KubeSim,
                                                        core: client.CoreV1Api) -> None:
    for name, team in (("a", "x"), ("b", "x"), ("c", "y")):
        core.create_namespaced_secret("default", {"metadata": {"name": name,
                                                               "labels": {"team": team}}})
    code, body, _ = raw(sim, "DELETE", "/api/v1/namespaces/default/secrets?labelSelector=team%3Dx")
    assert code == 200 and body["kind"] == "SecretList"
    assert [i["metadata"]["name"] for i in body["items"]] == ["a", "b"]
    assert [s["metadata"]["name"] for s in sim.store.list("", "secrets", "default")] == ["c"]


def test_writes_to_a_namespaced_resource_need_a_namespace(sim: KubeSim) -> None:
    code, body, _ = raw(sim, "POST", "/api/v1/secrets", {"metadata": {"name": "s"}})
    assert (code, body["reason"]) == (405, "MethodNotAllowed")


def test_a_body_that_is_not_json_is_400(sim: KubeSim) -> None:
    code, body, _ = raw(sim, "POST", "/api/v1/namespaces/default/configmaps", b"{not json")
    assert (code, body["reason"]) == (400, "BadRequest")
