"""What counts as an object the import created: every field it set, with the same value."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from movekit.apply import created_from

_SCALARS = st.one_of(st.booleans(), st.integers(-5, 5), st.text("ab", max_size=2))
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.one_of(st.lists(inner, min_size=1, max_size=3),
                            st.dictionaries(st.text("xyz", min_size=1, max_size=2), inner,
                                            min_size=1, max_size=3)),
    max_leaves=8)
_SPECS = st.dictionaries(st.text("pqr", min_size=1, max_size=2), _VALUES, min_size=1, max_size=4)


def _body(spec: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "c", "namespace": "n",
                         "annotations": {"movekit.io/bundle": "sha256:" + "a" * 64}},
            "data": spec}


def _leaves(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    if isinstance(node, dict):
        return [leaf for key, value in node.items() for leaf in _leaves(value, (*path, key))]
    if isinstance(node, list):
        return [leaf for i, value in enumerate(node) for leaf in _leaves(value, (*path, i))]
    return [path]


def _set(node: Any, path: tuple[Any, ...], value: Any) -> None:
    for step in path[:-1]:
        node = node[step]
    node[path[-1]] = value


@given(_SPECS)
def test_the_created_object_with_server_fields_and_defaults_added_is_the_bundles(
        spec: dict[str, Any]) -> None:
    body = _body(spec)
    live = copy.deepcopy(body)
    live["metadata"].update(uid="u", resourceVersion="7", generation=2,
                            creationTimestamp="2026-01-01T00:00:00Z",
                            managedFields=[{"manager": "someone"}],
                            finalizers=["added.by/a-controller"])
    live["metadata"]["annotations"]["added.by/a-webhook"] = "yes"
    live["status"] = {"ready": True}
    live["defaulted"] = {"by": "the server"}

    assert created_from(body, live)


@given(_SPECS, st.data())
def test_any_field_the_bundle_sets_with_another_value_is_not_the_bundles(
        spec: dict[str, Any], data: st.DataObject) -> None:
    body = _body(spec)
    live = copy.deepcopy(body)
    path = data.draw(st.sampled_from(_leaves(live["data"])))
    old = copy.deepcopy(live["data"])
    for step in path[:-1]:
        old = old[step]
    other = data.draw(_SCALARS.filter(
        lambda v: v != old[path[-1]] or isinstance(v, bool) != isinstance(old[path[-1]], bool)))
    _set(live["data"], path, other)

    assert not created_from(body, live)


@given(_SPECS)
def test_a_missing_field_or_another_bundle_annotation_is_not_the_bundles(
        spec: dict[str, Any]) -> None:
    body = _body(spec)
    missing = copy.deepcopy(body)
    del missing["data"][sorted(spec)[0]]
    other = copy.deepcopy(body)
    other["metadata"]["annotations"]["movekit.io/bundle"] = "sha256:" + "b" * 64
    dropped_finalizer = copy.deepcopy(body)
    body_with_finalizer = {**copy.deepcopy(body),
                           "metadata": {**body["metadata"], "finalizers": ["ours"]}}

    assert not created_from(body, missing)
    assert not created_from(body, other)
    assert not created_from(body_with_finalizer, dropped_finalizer)


def test_a_list_with_one_more_item_is_not_the_bundles() -> None:
    body = _body({"cidrs": ["10.0.0.0/8"]})
    live = _body({"cidrs": ["10.0.0.0/8", "192.168.0.0/16"]})

    assert not created_from(body, live)


def test_the_pause_of_a_cluster_is_not_compared() -> None:
    body: dict[str, Any] = {"apiVersion": "cluster.x-k8s.io/v1beta2", "kind": "Cluster",
                            "metadata": {"name": "c1", "namespace": "n"},
                            "spec": {"paused": True,
                                     "controlPlaneEndpoint": {"host": "h", "port": 6443}}}
    resumed = copy.deepcopy(body)
    del resumed["spec"]["paused"]

    assert created_from(body, resumed)
    resumed["spec"]["controlPlaneEndpoint"]["port"] = 6444
    assert not created_from(body, resumed)
