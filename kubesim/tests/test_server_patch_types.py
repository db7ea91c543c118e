"""PATCH content types as the apiserver accepts them, and server-side apply over HTTP."""

from __future__ import annotations

import json

from tests.conftest import Kube
from tests.support import GROUP, Server, error_of, raw, widget


def _patch(sim: Server, path: str, content_type: str, body: object,
           query: str = "") -> tuple[int, dict[str, object]]:
    data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
    code, answer, _ = raw(sim, "PATCH", path + query, data, {"Content-Type": content_type})
    return code, answer


def test_strategic_merge_patch_is_415_for_custom_resources(kube: Kube) -> None:
    kube.widgets()
    kube.custom.create_namespaced_custom_object(
        GROUP, "v1", kube.ns, "widgets", widget("w", namespace=kube.ns))
    code, body = _patch(kube.server, f"{kube.path()}/w", "application/strategic-merge-patch+json",
                        {"spec": {"size": 2}})
    assert (code, body["reason"]) == (415, "UnsupportedMediaType")
    assert body["message"] == (
        "the body of the request was in an unknown format - accepted media types include: "
        "application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml")


def test_strategic_merge_patch_works_on_a_secret(kube: Kube) -> None:
    kube.core.create_namespaced_secret(kube.ns, {"metadata": {"name": "s", "labels": {"a": "1"}}})
    patched = kube.core.patch_namespaced_secret("s", kube.ns,
                                           {"metadata": {"labels": {"b": "2"}}})
    assert patched.metadata.labels == {"a": "1", "b": "2"}


def test_json_patch_with_a_failing_test_changes_nothing(kube: Kube) -> None:
    kube.widgets()
    kube.custom.create_namespaced_custom_object(
        GROUP, "v1", kube.ns, "widgets", widget("w", namespace=kube.ns))
    code, _ = _patch(kube.server, f"{kube.path()}/w", "application/json-patch+json", [
        {"op": "test", "path": "/spec/size", "value": 5},
        {"op": "replace", "path": "/spec/size", "value": 6}])
    assert code == 422
    code, ok = _patch(kube.server, f"{kube.path()}/w", "application/json-patch+json", [
        {"op": "test", "path": "/spec/size", "value": 1},
        {"op": "replace", "path": "/spec/size", "value": 6}])
    assert code == 200 and ok["spec"] == {"size": 6}


def test_merge_patch_with_a_stale_resource_version_is_409(kube: Kube) -> None:
    kube.widgets()
    created = kube.custom.create_namespaced_custom_object(GROUP, "v1", kube.ns, "widgets",
                                                     widget("w", namespace=kube.ns))
    kube.custom.patch_namespaced_custom_object(GROUP, "v1", kube.ns, "widgets", "w",
                                          {"spec": {"size": 2}})
    code, body = _patch(kube.server, f"{kube.path()}/w", "application/merge-patch+json", {
        "metadata": {"resourceVersion": created["metadata"]["resourceVersion"]},
        "spec": {"size": 3}})
    assert (code, body["reason"]) == (409, "Conflict")


def test_patch_of_a_missing_object_is_404(kube: Kube) -> None:
    kube.widgets()
    code, body = _patch(kube.server, f"{kube.path()}/nope", "application/merge-patch+json",
                        {"spec": {}})
    assert (code, body["reason"]) == (404, "NotFound")


def test_apply_needs_a_field_manager(kube: Kube) -> None:
    kube.widgets()
    code, body = _patch(kube.server, f"{kube.path()}/w", "application/apply-patch+yaml",
                        json.dumps(widget("w", namespace=kube.ns)))
    assert (code, body["reason"]) == (422, "Invalid")
    assert body["message"] == ('PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required '
                               "value: is required for apply patch")


def test_apply_creates_then_merges_and_records_the_applier(kube: Kube) -> None:
    kube.widgets()
    yaml_body = ("apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w\n"
                 "spec:\n  size: 2\n")
    code, created = _patch(kube.server, f"{kube.path()}/w", "application/apply-patch+yaml",
                           yaml_body, "?fieldManager=tool")
    assert code == 201 and created["spec"] == {"size": 2}
    entries = created["metadata"]["managedFields"]  # type: ignore[index]
    assert [(e["manager"], e["operation"]) for e in entries] == [("tool", "Apply")]
    code, merged = _patch(kube.server, f"{kube.path()}/w", "application/apply-patch+yaml",
                          yaml_body.replace("size: 2", "size: 3"), "?fieldManager=tool")
    assert code == 200 and merged["spec"] == {"size": 3}


def test_apply_over_another_managers_field_is_a_409_conflict_unless_forced(kube: Kube) -> None:
    kube.widgets()
    kube.custom.create_namespaced_custom_object(
        GROUP, "v1", kube.ns, "widgets", widget("w", namespace=kube.ns),
                                           field_manager="creator")
    applied = json.dumps(widget("w", size=9, namespace=kube.ns))
    code, body = _patch(kube.server, f"{kube.path()}/w", "application/apply-patch+yaml", applied,
                        "?fieldManager=tool")
    assert (code, body["reason"]) == (409, "Conflict")
    assert body["message"] == ('Apply failed with 1 conflict: conflict with "creator" using '
                               "example.com/v1: .spec.size")
    assert body["details"]["causes"][0]["field"] == ".spec.size"  # type: ignore[index]
    code, forced = _patch(kube.server, f"{kube.path()}/w", "application/apply-patch+yaml", applied,
                          "?fieldManager=tool&force=true")
    assert code == 200 and forced["spec"] == {"size": 9}


def test_force_on_a_non_apply_patch_is_invalid(kube: Kube) -> None:
    kube.widgets()
    kube.custom.create_namespaced_custom_object(
        GROUP, "v1", kube.ns, "widgets", widget("w", namespace=kube.ns))
    code, body = _patch(kube.server, f"{kube.path()}/w", "application/merge-patch+json", {},
                        "?force=true")
    assert code == 422
    assert body["message"].endswith("force: Forbidden: may not be specified for non-apply patch")


def test_unknown_patch_content_type_is_415(kube: Kube) -> None:
    kube.core.create_namespaced_secret(kube.ns, {"metadata": {"name": "s"}})
    code, _ = _patch(kube.server, f"/api/v1/namespaces/{kube.ns}/secrets/s", "text/plain", "x")
    assert code == 415
    code, _, _ = error_of(lambda: kube.core.patch_namespaced_secret(
        "missing", kube.ns, {"metadata": {"labels": {"a": "b"}}}))
    assert code == 404
