"""LIST with selectors and paging; WATCH streams."""

from __future__ import annotations

import json
import time

import pytest
from kubernetes import client, watch

from kubesim import KubeSim
from tests.conftest import Kube
from tests.support import GROUP, raw, widget


def _config_maps(kube: Kube, labels: dict[str, dict[str, str]]) -> None:
    for name, label in labels.items():
        kube.core.create_namespaced_config_map(kube.ns, {"metadata": {"name": name,
                                                                      "labels": label}})


def _names(items: list[client.V1ConfigMap]) -> list[str]:
    return sorted(i.metadata.name for i in items if i.metadata.name != "kube-root-ca.crt")


def test_label_selectors_support_every_operator(kube: Kube) -> None:
    _config_maps(kube, {"a": {"tier": "web", "env": "prod"}, "b": {"tier": "db"}, "c": {}})

    def select(selector: str) -> list[str]:
        listed = kube.core.list_namespaced_config_map(kube.ns, label_selector=selector)
        return _names(listed.items)

    assert select("tier=web") == ["a"]
    assert select("tier==db") == ["b"]
    assert select("tier!=web") == ["b", "c"]
    assert select("tier in (web,db)") == ["a", "b"]
    assert select("tier notin (web)") == ["b", "c"]
    assert select("env") == ["a"]
    assert select("!env") == ["b", "c"]
    assert select("tier,!env") == ["b"]


def test_field_selectors_on_name_and_namespace(kube: Kube) -> None:
    _config_maps(kube, {"a": {}, "b": {}})
    named = kube.core.list_config_map_for_all_namespaces(field_selector="metadata.name=a")
    # The real server is shared: other tests' namespaces may hold an "a" too.
    assert {i.metadata.name for i in named.items} == {"a"}
    assert [i.metadata.namespace for i in named.items].count(kube.ns) == 1
    others = kube.core.list_namespaced_config_map(kube.ns, field_selector="metadata.name!=a")
    assert _names(others.items) == ["b"]


def test_unsupported_field_selector_is_400(kube: Kube) -> None:
    kube.widgets()
    code, body, _ = kube.raw("GET",
                        f"{kube.path()}?fieldSelector=spec.size%3D1")
    assert (code, body["reason"]) == (400, "BadRequest")
    assert body["message"] == "field label not supported: spec.size"


def test_paging_with_limit_and_continue_returns_every_item_once(kube: Kube) -> None:
    for i in range(7):
        kube.core.create_namespaced_secret(kube.ns, {"metadata": {"name": f"s{i}"}})
    names: list[str] = []
    token = None
    pages = 0
    while True:
        page = kube.core.list_namespaced_secret(kube.ns, limit=3, _continue=token)
        names += [i.metadata.name for i in page.items]
        pages += 1
        token = page.metadata._continue
        if not token:
            break
        assert page.metadata.remaining_item_count == 7 - len(names)
    assert names == [f"s{i}" for i in range(7)] and pages == 3


def test_invalid_continue_is_400_and_an_expired_one_410(sim: KubeSim,
                                                        core: client.CoreV1Api) -> None:
    code, body, _ = raw(sim, "GET", "/api/v1/namespaces/default/secrets?limit=1&continue=%%%")
    assert (code, body["reason"]) == (400, "BadRequest")
    for i in range(2):
        core.create_namespaced_secret("default", {"metadata": {"name": f"s{i}"}})
    token = core.list_namespaced_secret("default", limit=1).metadata._continue
    sim.controls.expire_continue_tokens = True
    code, body, _ = raw(sim, "GET", f"/api/v1/namespaces/default/secrets?limit=1&continue={token}")
    assert (code, body["reason"]) == (410, "Expired")


def test_list_reports_the_current_resource_version_and_kind(kube: Kube) -> None:
    kube.widgets()
    created = kube.custom.create_namespaced_custom_object(GROUP, "v1", kube.ns, "widgets",
                                                     widget("w", namespace=kube.ns))
    listed = kube.custom.list_cluster_custom_object(GROUP, "v1", "widgets")
    assert listed["kind"] == "WidgetList" and listed["apiVersion"] == f"{GROUP}/v1"
    assert int(listed["metadata"]["resourceVersion"]) >= int(
        created["metadata"]["resourceVersion"])
    assert listed["items"][0]["kind"] == "Widget"


def test_builtin_list_items_carry_no_type_meta(kube: Kube) -> None:
    kube.core.create_namespaced_secret(kube.ns, {"metadata": {"name": "s"}})
    _, body, _ = kube.raw("GET", f"/api/v1/namespaces/{kube.ns}/secrets")
    assert body["kind"] == "SecretList"
    assert "kind" not in body["items"][0] and "apiVersion" not in body["items"][0]


def test_watch_streams_added_modified_deleted_from_a_resource_version(kube: Kube) -> None:
    kube.widgets()
    listed = kube.custom.list_namespaced_custom_object(GROUP, "v1", kube.ns, "widgets")
    kube.custom.create_namespaced_custom_object(
        GROUP, "v1", kube.ns, "widgets", widget("w", namespace=kube.ns))
    kube.custom.patch_namespaced_custom_object(GROUP, "v1", kube.ns, "widgets", "w",
                                          {"spec": {"size": 2}})
    kube.custom.delete_namespaced_custom_object(GROUP, "v1", kube.ns, "widgets", "w")
    events = list(watch.Watch().stream(
        kube.custom.list_namespaced_custom_object, GROUP, "v1", kube.ns, "widgets",
        resource_version=listed["metadata"]["resourceVersion"], timeout_seconds=1))
    assert [(e["type"], e["object"]["spec"]["size"]) for e in events] == [
        ("ADDED", 1), ("MODIFIED", 2), ("DELETED", 2)]


def test_watch_without_resource_version_starts_with_the_current_objects(kube: Kube) -> None:
    kube.core.create_namespaced_secret(kube.ns, {"metadata": {"name": "s", "labels": {"a": "b"}}})
    # One watch request, read to its end: the client's Watch would resume it with its own
    # resourceVersion bookkeeping, which is the client's behaviour, not the server's.
    for _ in range(5):
        code, event, _ = kube.raw("GET", f"/api/v1/namespaces/{kube.ns}/secrets?watch=1"
                                  "&labelSelector=a%3Db&timeoutSeconds=3")
        # A loaded real server may end a fresh watch with an ERROR event before its watch cache
        # has caught up (clients retry); kubesim never should.
        if not (isinstance(event, dict) and event.get("type") == "ERROR") or kube.sim:
            break
        time.sleep(1)
    else:
        pytest.skip(f"the real server kept ending the watch with: {json.dumps(event)[:300]}")
    assert code == 200
    assert isinstance(event, dict) and event.get("type") == "ADDED", json.dumps(event)
    assert event["object"]["metadata"]["name"] == "s", event


def test_watch_from_a_compacted_resource_version_reports_410_expired(sim: KubeSim) -> None:
    sim.store.compact()
    code, body, _ = raw(sim, "GET", "/api/v1/namespaces/default/secrets?watch=1"
                        "&resourceVersion=5&timeoutSeconds=1")
    assert code == 200
    assert body["type"] == "ERROR" and body["object"]["code"] == 410
    assert body["object"]["reason"] == "Expired"
