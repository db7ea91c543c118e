"""Object semantics: system fields, names, conflicts, missing objects and namespaces, dry run.

Tests that take ``kube`` run against kubesim and against a real control plane alike."""

from __future__ import annotations

import base64
import re

from tests.conftest import Kube
from tests.support import GROUP, error_of, widget


def test_create_assigns_uid_resource_version_and_timestamp_ignoring_a_given_uid(
        kube: Kube) -> None:
    given = "11111111-2222-3333-4444-555555555555"
    created = kube.core.create_namespaced_config_map(kube.ns, {
        "metadata": {"name": "c1", "uid": given, "creationTimestamp": "2001-01-01T00:00:00Z"},
        "data": {"a": "b"}})
    assert created.metadata.uid and created.metadata.uid != given
    assert created.metadata.resource_version
    assert created.metadata.creation_timestamp.year > 2001


def test_another_uid_in_a_patch_is_an_immutable_field_and_in_a_put_a_failed_precondition(
        kube: Kube) -> None:
    other = "11111111-2222-3333-4444-555555555555"
    live = kube.core.create_namespaced_config_map(kube.ns, {"metadata": {"name": "c"},
                                                            "data": {"a": "1"}})
    code, body, _ = error_of(lambda: kube.core.patch_namespaced_config_map(
        "c", kube.ns, {"metadata": {"uid": other}, "data": {"a": "2"}}))
    assert code == 422 and body["reason"] == "Invalid"
    assert body["details"]["causes"][0]["field"] == "metadata.uid"
    assert "field is immutable" in body["message"]
    code, body, _ = error_of(lambda: kube.core.replace_namespaced_config_map("c", kube.ns, {
        "metadata": {"name": "c", "uid": other,
                     "resourceVersion": live.metadata.resource_version},
        "data": {"a": "3"}}))
    assert code == 409 and "Precondition failed: UID in precondition" in body["message"]
    patched = kube.core.patch_namespaced_config_map(
        "c", kube.ns, {"metadata": {"uid": live.metadata.uid}, "data": {"a": "4"}})
    assert patched.data == {"a": "4"}


def test_resource_versions_increase_with_every_write(kube: Kube) -> None:
    first = kube.core.create_namespaced_config_map(kube.ns, {"metadata": {"name": "a"}})
    second = kube.core.create_namespaced_secret(kube.ns, {"metadata": {"name": "b"}})
    third = kube.core.create_namespace({"metadata": {"name": kube.unique("other")}})
    versions = [int(o.metadata.resource_version) for o in (first, second, third)]
    assert versions == sorted(versions) and len(set(versions)) == 3


def test_generate_name_appends_five_characters_of_the_apiserver_alphabet(kube: Kube) -> None:
    created = kube.core.create_namespaced_secret(kube.ns, {"metadata": {"generateName": "gen-"}})
    assert re.fullmatch(r"gen-[bcdfghjklmnpqrstvwxz2456789]{5}", created.metadata.name)


def test_invalid_name_is_422_invalid_with_the_apiserver_message(kube: Kube) -> None:
    code, body, _ = error_of(lambda: kube.core.create_namespaced_config_map(
        kube.ns, {"metadata": {"name": "Bad_Name"}}))
    assert code == 422 and body["reason"] == "Invalid"
    assert body["message"].startswith('ConfigMap "Bad_Name" is invalid: metadata.name: Invalid '
                                      'value: "Bad_Name": a lowercase RFC 1123 subdomain must')
    assert body["details"]["kind"] == "ConfigMap"
    assert body["details"]["causes"][0]["field"] == "metadata.name"


def test_namespace_names_must_be_dns_labels(kube: Kube) -> None:
    code, body, _ = error_of(lambda: kube.core.create_namespace({"metadata": {"name": "a_b"}}))
    assert code == 422
    assert "a lowercase RFC 1123 label must consist of" in body["message"]
    code, body, _ = error_of(lambda: kube.core.create_namespace({"metadata": {"name": "a.b"}}))
    assert body["message"] == ('Namespace "a.b" is invalid: metadata.name: Invalid value: "a.b": '
                               "must not contain dots")


def test_a_label_value_is_measured_in_bytes(kube: Kube) -> None:
    code, body, _ = error_of(lambda: kube.core.create_namespaced_config_map(
        kube.ns, {"metadata": {"name": "c", "labels": {"a": "x" * 64}}}))
    assert code == 422
    assert body["message"] == (f'ConfigMap "c" is invalid: metadata.labels: Invalid value: '
                               f'"{"x" * 64}": must be no more than 63 bytes')


def test_second_create_is_409_already_exists(kube: Kube) -> None:
    kube.core.create_namespaced_secret(kube.ns, {"metadata": {"name": "s"}})
    code, body, _ = error_of(lambda: kube.core.create_namespaced_secret(
        kube.ns, {"metadata": {"name": "s"}}))
    assert (code, body["reason"]) == (409, "AlreadyExists")
    assert body["message"] == 'secrets "s" already exists'
    assert body["details"] == {"name": "s", "kind": "secrets"}


def test_missing_object_is_404_not_found_with_group_and_plural(kube: Kube) -> None:
    kube.widgets()
    code, body, _ = error_of(lambda: kube.custom.get_namespaced_custom_object(
        GROUP, "v1", kube.ns, "widgets", "nope"))
    assert (code, body["reason"]) == (404, "NotFound")
    assert body["message"] == 'widgets.example.com "nope" not found'
    assert body["details"] == {"name": "nope", "group": GROUP, "kind": "widgets"}


def test_create_in_missing_namespace_is_404_naming_the_namespace(kube: Kube) -> None:
    absent = kube.unique("absent")
    code, body, _ = error_of(lambda: kube.core.create_namespaced_secret(
        absent, {"metadata": {"name": "s"}}))
    assert code == 404
    assert body["details"] == {"name": absent, "kind": "namespaces"}


def test_put_of_a_custom_resource_without_resource_version_is_422(kube: Kube) -> None:
    kube.widgets()
    kube.custom.create_namespaced_custom_object(GROUP, "v1", kube.ns, "widgets",
                                                widget("w", namespace=kube.ns))
    code, body, _ = error_of(lambda: kube.custom.replace_namespaced_custom_object(
        GROUP, "v1", kube.ns, "widgets", "w", widget("w", size=2, namespace=kube.ns)))
    assert (code, body["reason"]) == (422, "Invalid")
    assert body["message"] == ('widgets.example.com "w" is invalid: metadata.resourceVersion: '
                               "Invalid value: 0: must be specified for an update")


def test_put_with_a_stale_resource_version_is_409_conflict(kube: Kube) -> None:
    kube.widgets()
    created = kube.custom.create_namespaced_custom_object(GROUP, "v1", kube.ns, "widgets",
                                                          widget("w", namespace=kube.ns))
    kube.custom.patch_namespaced_custom_object(GROUP, "v1", kube.ns, "widgets", "w",
                                               {"spec": {"size": 2}})
    code, body, _ = error_of(lambda: kube.custom.replace_namespaced_custom_object(
        GROUP, "v1", kube.ns, "widgets", "w", created))
    assert (code, body["reason"]) == (409, "Conflict")
    assert body["details"] == {"name": "w", "group": GROUP, "kind": "widgets"}
    assert "the object has been modified" in body["message"]


def test_put_of_a_secret_without_resource_version_is_an_unconditional_update(
        kube: Kube) -> None:
    kube.core.create_namespaced_secret(kube.ns, {"metadata": {"name": "s"}})
    replaced = kube.core.replace_namespaced_secret("s", kube.ns, {"metadata": {"name": "s"},
                                                                  "stringData": {"k": "v"}})
    assert replaced.data == {"k": base64.b64encode(b"v").decode()}


def test_generation_starts_at_one_and_follows_spec_changes_of_custom_resources(
        kube: Kube) -> None:
    kube.widgets()
    created = kube.custom.create_namespaced_custom_object(GROUP, "v1", kube.ns, "widgets",
                                                          widget("w", namespace=kube.ns))
    assert created["metadata"]["generation"] == 1
    labelled = kube.custom.patch_namespaced_custom_object(
        GROUP, "v1", kube.ns, "widgets", "w", {"metadata": {"labels": {"a": "b"}}})
    assert labelled["metadata"]["generation"] == 1
    resized = kube.custom.patch_namespaced_custom_object(GROUP, "v1", kube.ns, "widgets", "w",
                                                         {"spec": {"size": 9}})
    assert resized["metadata"]["generation"] == 2


def test_secrets_have_no_generation_and_merge_string_data_into_data(kube: Kube) -> None:
    created = kube.core.create_namespaced_secret(kube.ns, {
        "metadata": {"name": "s"}, "data": {"a": base64.b64encode(b"1").decode()},
        "stringData": {"b": "2"}})
    assert created.metadata.generation is None
    assert created.type == "Opaque"
    assert created.data == {"a": "MQ==", "b": "Mg=="}
    assert "stringData" not in kube.api.sanitize_for_serialization(created)


def test_secret_data_must_be_base64(kube: Kube) -> None:
    code, body, _ = kube.raw("POST", f"/api/v1/namespaces/{kube.ns}/secrets", {
        "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"},
        "data": {"a": "not base64!"}})
    assert (code, body["reason"]) == (400, "BadRequest")
    assert "illegal base64 data at input byte 3" in body["message"]


def test_dry_run_returns_the_object_and_persists_nothing(kube: Kube) -> None:
    shown = kube.core.create_namespaced_config_map(kube.ns, {"metadata": {"name": "c"}},
                                                   dry_run="All")
    assert shown.metadata.name == "c" and shown.metadata.uid
    code, _, _ = error_of(lambda: kube.core.read_namespaced_config_map("c", kube.ns))
    assert code == 404


def test_body_namespace_must_match_the_url(kube: Kube) -> None:
    code, body, _ = error_of(lambda: kube.core.create_namespaced_config_map(
        kube.ns, {"metadata": {"name": "c", "namespace": "kube-system"}}))
    assert (code, body["reason"]) == (400, "BadRequest")
    assert body["message"] == ("the namespace of the provided object does not match the "
                               "namespace sent on the request")


def test_unknown_paths_are_404_as_a_status_in_apiserver_groups_and_as_text_elsewhere(
        kube: Kube) -> None:
    code, body, _ = kube.raw("GET", "/api/v1/things")
    assert code == 404
    assert body == {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                    "message": "the server could not find the requested resource",
                    "reason": "NotFound", "details": {}, "code": 404}
    for path in ("/apis/nothing.example.com/v1/things", "/nothing"):
        code, body, headers = kube.raw("GET", path)
        assert (code, body) == (404, "404 page not found\n")
        assert headers["Content-Type"] == "text/plain; charset=utf-8"


def test_delete_collection_deletes_the_selected_objects(kube: Kube) -> None:
    for name, team in (("a", "x"), ("b", "x"), ("c", "y")):
        kube.core.create_namespaced_secret(kube.ns, {"metadata": {"name": name,
                                                                  "labels": {"team": team}}})
    code, body, _ = kube.raw("DELETE",
                             f"/api/v1/namespaces/{kube.ns}/secrets?labelSelector=team%3Dx")
    assert code == 200 and body["kind"] == "SecretList"
    assert [i["metadata"]["name"] for i in body["items"]] == ["a", "b"]
    left = kube.core.list_namespaced_secret(kube.ns).items
    assert [s.metadata.name for s in left] == ["c"]


def test_writes_to_a_namespaced_resource_need_a_namespace(kube: Kube) -> None:
    code, body, _ = kube.raw("POST", "/api/v1/secrets", {"metadata": {"name": "s"}})
    assert (code, body["reason"]) == (405, "MethodNotAllowed")


def test_a_body_that_is_not_json_is_400(kube: Kube) -> None:
    code, body, _ = kube.raw("POST", f"/api/v1/namespaces/{kube.ns}/configmaps", b"{not json")
    assert (code, body["reason"]) == (400, "BadRequest")
    assert body["message"].endswith("json parse error: invalid character 'n' looking for "
                                    "beginning of object key string ({not json)")
