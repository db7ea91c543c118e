"""Merge, JSON and strategic merge patches behave as kube-apiserver applies them."""

from __future__ import annotations

from typing import Any

import pytest

from kubesim.patch import (
    MAX_JSON_PATCH_OPERATIONS,
    PatchError,
    json_patch,
    merge_patch,
    strategic_merge_patch,
)

INVALID = "the server rejected our request due to an error in our request"

# --------------------------------------------------------------------------- merge patch

MERGE_CASES: list[tuple[str, Any, Any, Any]] = [
    ("sets a field", {"a": 1}, {"b": 2}, {"a": 1, "b": 2}),
    (
        "null removes a field",
        {"spec": {"paused": True, "x": 1}},
        {"spec": {"paused": None}},
        {"spec": {"x": 1}},
    ),
    ("null for a missing field is a no-op", {"a": 1}, {"b": None}, {"a": 1}),
    (
        "maps merge recursively",
        {"m": {"a": 1, "b": 2}},
        {"m": {"b": 3, "c": 4}},
        {"m": {"a": 1, "b": 3, "c": 4}},
    ),
    ("lists are replaced", {"l": [1, 2, 3]}, {"l": [4]}, {"l": [4]}),
    (
        "an object replaces a scalar, nulls inside dropped",
        {"a": 1},
        {"a": {"x": None, "y": 1}},
        {"a": {"y": 1}},
    ),
    ("a new map loses its nulls", {}, {"m": {"x": None, "y": {"z": None}}}, {"m": {"y": {}}}),
    ("nulls inside a list stay", {}, {"l": [None, {"a": None, "b": 1}]}, {"l": [None, {"b": 1}]}),
    ("an array patch replaces the document", {"a": 1}, [1, None], [1, None]),
    (
        "labels are merged, not replaced",
        {"metadata": {"labels": {"a": "1"}}},
        {"metadata": {"labels": {"b": "2"}}},
        {"metadata": {"labels": {"a": "1", "b": "2"}}},
    ),
]


@pytest.mark.parametrize(
    ("target", "patch", "expected"), [c[1:] for c in MERGE_CASES], ids=[c[0] for c in MERGE_CASES]
)
def test_merge_patch(target: Any, patch: Any, expected: Any) -> None:
    before = repr(target)
    assert merge_patch(target, patch) == expected
    assert repr(target) == before  # the input is never mutated


@pytest.mark.parametrize("patch", [None, "x", 3, True], ids=["null", "string", "number", "bool"])
def test_merge_patch_that_is_not_an_object_is_bad_request(patch: Any) -> None:
    with pytest.raises(PatchError) as raised:
        merge_patch({"a": 1}, patch)
    assert (raised.value.code, raised.value.reason, raised.value.message) == (
        400,
        "BadRequest",
        "Invalid JSON Patch",
    )


# --------------------------------------------------------------------------- JSON patch

DOC = {
    "metadata": {"labels": {"a/b": "1", "m~n": "2"}, "finalizers": ["x", "y"]},
    "spec": {"paused": True, "list": [1, 2, 3]},
}

JSON_CASES: list[tuple[str, list[dict[str, Any]], Any]] = [
    (
        "add a field",
        [{"op": "add", "path": "/spec/new", "value": 1}],
        {**DOC, "spec": {**DOC["spec"], "new": 1}},
    ),
    (
        "add to the end with -",
        [{"op": "add", "path": "/spec/list/-", "value": 4}],
        {**DOC, "spec": {**DOC["spec"], "list": [1, 2, 3, 4]}},
    ),
    (
        "add inserts at an index",
        [{"op": "add", "path": "/spec/list/0", "value": 0}],
        {**DOC, "spec": {**DOC["spec"], "list": [0, 1, 2, 3]}},
    ),
    (
        "add at a negative index counts from the end",
        [{"op": "add", "path": "/spec/list/-1", "value": 9}],
        {**DOC, "spec": {**DOC["spec"], "list": [1, 2, 3, 9]}},
    ),
    (
        "remove with escaped pointer ~1",
        [{"op": "remove", "path": "/metadata/labels/a~1b"}],
        {**DOC, "metadata": {**DOC["metadata"], "labels": {"m~n": "2"}}},
    ),
    (
        "remove with escaped pointer ~0",
        [{"op": "remove", "path": "/metadata/labels/m~0n"}],
        {**DOC, "metadata": {**DOC["metadata"], "labels": {"a/b": "1"}}},
    ),
    (
        "remove a list item",
        [{"op": "remove", "path": "/metadata/finalizers/0"}],
        {**DOC, "metadata": {**DOC["metadata"], "finalizers": ["y"]}},
    ),
    (
        "replace a value",
        [{"op": "replace", "path": "/spec/paused", "value": False}],
        {**DOC, "spec": {**DOC["spec"], "paused": False}},
    ),
    (
        "replace of a missing key adds it, as json-patch v4 does",
        [{"op": "replace", "path": "/spec/missing", "value": 1}],
        {**DOC, "spec": {**DOC["spec"], "missing": 1}},
    ),
    (
        "move",
        [{"op": "move", "from": "/spec/paused", "path": "/spec/wasPaused"}],
        {**DOC, "spec": {"wasPaused": True, "list": [1, 2, 3]}},
    ),
    (
        "copy",
        [{"op": "copy", "from": "/spec/list", "path": "/spec/copy"}],
        {**DOC, "spec": {**DOC["spec"], "copy": [1, 2, 3]}},
    ),
    (
        "test that passes then replace",
        [
            {"op": "test", "path": "/spec/paused", "value": True},
            {"op": "replace", "path": "/spec/paused", "value": False},
        ],
        {**DOC, "spec": {**DOC["spec"], "paused": False}},
    ),
    (
        "test of a missing key against null passes",
        [{"op": "test", "path": "/spec/missing", "value": None}],
        DOC,
    ),
    ("test compares numbers by value", [{"op": "test", "path": "/spec/list/0", "value": 1.0}], DOC),
    ("null patch is empty", None, DOC),  # type: ignore[list-item]
]


@pytest.mark.parametrize(
    ("ops", "expected"), [c[1:] for c in JSON_CASES], ids=[c[0] for c in JSON_CASES]
)
def test_json_patch(ops: Any, expected: Any) -> None:
    assert json_patch(DOC, ops) == expected


JSON_FAILURES: list[tuple[str, Any, int, str]] = [
    ("test that fails", [{"op": "test", "path": "/spec/paused", "value": False}], 422, INVALID),
    (
        "test true against 1 fails",
        [{"op": "test", "path": "/spec/list/0", "value": True}],
        422,
        INVALID,
    ),
    ("remove of a missing key", [{"op": "remove", "path": "/spec/nope"}], 422, INVALID),
    ("add under a missing parent", [{"op": "add", "path": "/nope/x", "value": 1}], 422, INVALID),
    ("index past the end", [{"op": "add", "path": "/spec/list/5", "value": 1}], 422, INVALID),
    ("replace past the end", [{"op": "replace", "path": "/spec/list/3", "value": 1}], 422, INVALID),
    ("unknown op", [{"op": "frobnicate", "path": "/a"}], 422, INVALID),
    ("missing path", [{"op": "add", "value": 1}], 422, INVALID),
    (
        "empty path (the root) is not addressable",
        [{"op": "add", "path": "", "value": {}}],
        422,
        INVALID,
    ),
    ("move from a missing key", [{"op": "move", "from": "/x", "path": "/y"}], 422, INVALID),
    (
        "not a list",
        {"op": "add"},
        400,
        "json: cannot unmarshal object into Go value of type jsonpatch.Patch",
    ),
    (
        "an operation that is not an object",
        ["add"],
        400,
        "json: cannot unmarshal string into Go value of type jsonpatch.Operation",
    ),
]


@pytest.mark.parametrize(
    ("ops", "code", "message"), [c[1:] for c in JSON_FAILURES], ids=[c[0] for c in JSON_FAILURES]
)
def test_json_patch_refusals(ops: Any, code: int, message: str) -> None:
    with pytest.raises(PatchError) as raised:
        json_patch(DOC, ops)
    assert (raised.value.code, raised.value.message) == (code, message)
    assert raised.value.reason == ("Invalid" if code == 422 else "BadRequest")


def test_json_patch_that_fails_halfway_changes_nothing() -> None:
    ops = [
        {"op": "replace", "path": "/spec/paused", "value": False},
        {"op": "test", "path": "/spec/paused", "value": True},
    ]
    with pytest.raises(PatchError):
        json_patch(DOC, ops)
    assert DOC["spec"]["paused"] is True


def test_json_patch_with_too_many_operations_is_413() -> None:
    ops = [{"op": "test", "path": "/spec/paused", "value": True}] * (MAX_JSON_PATCH_OPERATIONS + 1)
    with pytest.raises(PatchError) as raised:
        json_patch(DOC, ops)
    assert (raised.value.code, raised.value.reason) == (413, "RequestEntityTooLarge")
    assert raised.value.message.endswith(f"got {MAX_JSON_PATCH_OPERATIONS + 1}")


# --------------------------------------------------------------------------- strategic merge


def _owner(uid: str, name: str = "o") -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "name": name, "uid": uid}


SECRET = {
    "apiVersion": "v1",
    "kind": "Secret",
    "metadata": {
        "name": "s",
        "labels": {"a": "1"},
        "finalizers": ["f1", "f2"],
        "ownerReferences": [_owner("u1", "one"), _owner("u2", "two")],
    },
    "data": {"k": "djE=", "old": "eA=="},
    "type": "Opaque",
}

SMP_CASES: list[tuple[str, str, dict[str, Any], dict[str, Any]]] = [
    (
        "maps merge",
        "Secret",
        {"data": {"n": "bg=="}},
        {**SECRET, "data": {"k": "djE=", "old": "eA==", "n": "bg=="}},
    ),
    ("null deletes a key", "Secret", {"data": {"old": None}}, {**SECRET, "data": {"k": "djE="}}),
    (
        "$patch: replace replaces a map",
        "Secret",
        {"data": {"$patch": "replace", "z": "eg=="}},
        {**SECRET, "data": {"z": "eg=="}},
    ),
    (
        "$patch: delete empties a map",
        "Secret",
        {"data": {"$patch": "delete"}},
        {**SECRET, "data": {}},
    ),
    (
        "finalizers merge as a set",
        "Secret",
        {"metadata": {"finalizers": ["f2", "f3"]}},
        {**SECRET, "metadata": {**SECRET["metadata"], "finalizers": ["f1", "f2", "f3"]}},
    ),
    (
        "$deleteFromPrimitiveList removes finalizers",
        "Secret",
        {"metadata": {"$deleteFromPrimitiveList/finalizers": ["f1"]}},
        {**SECRET, "metadata": {**SECRET["metadata"], "finalizers": ["f2"]}},
    ),
    (
        "ownerReferences merge by uid",
        "Secret",
        {
            "metadata": {
                "ownerReferences": [{"uid": "u2", "name": "renamed"}, _owner("u3", "three")]
            }
        },
        {
            **SECRET,
            "metadata": {
                **SECRET["metadata"],
                "ownerReferences": [
                    _owner("u1", "one"),
                    {**_owner("u2"), "name": "renamed"},
                    _owner("u3", "three"),
                ],
            },
        },
    ),
    (
        "$patch: delete drops an ownerReference by uid",
        "Secret",
        {"metadata": {"ownerReferences": [{"uid": "u1", "$patch": "delete"}]}},
        {**SECRET, "metadata": {**SECRET["metadata"], "ownerReferences": [_owner("u2", "two")]}},
    ),
    (
        "$patch: replace in a list replaces it",
        "Secret",
        {"metadata": {"ownerReferences": [{"$patch": "replace"}, _owner("u9")]}},
        {**SECRET, "metadata": {**SECRET["metadata"], "ownerReferences": [_owner("u9")]}},
    ),
    (
        "$setElementOrder orders finalizers",
        "Secret",
        {"metadata": {"$setElementOrder/finalizers": ["f2", "f1"]}},
        {**SECRET, "metadata": {**SECRET["metadata"], "finalizers": ["f2", "f1"]}},
    ),
    (
        "$retainKeys keeps only the listed keys",
        "Secret",
        {"data": {"$retainKeys": ["k", "n"], "n": "bg=="}},
        {**SECRET, "data": {"k": "djE=", "n": "bg=="}},
    ),
    (
        "a new map loses its directives and nulls",
        "Secret",
        {"metadata": {"annotations": {"x": "1", "y": None}}},
        {**SECRET, "metadata": {**SECRET["metadata"], "annotations": {"x": "1"}}},
    ),
    (
        "containers merge by name on a Pod",
        "Pod",
        {"spec": {"containers": [{"name": "b", "image": "b:2"}]}},
        {
            "spec": {
                "containers": [{"name": "a", "image": "a:1"}, {"name": "b", "image": "b:2"}],
                "tolerations": [{"key": "old"}],
            }
        },
    ),
    (
        "a list without a merge key is replaced",
        "Pod",
        {"spec": {"tolerations": [{"key": "t"}]}},
        {
            "spec": {
                "containers": [{"name": "a", "image": "a:1"}, {"name": "b", "image": "b:1"}],
                "tolerations": [{"key": "t"}],
            }
        },
    ),
]
POD = {
    "spec": {
        "containers": [{"name": "a", "image": "a:1"}, {"name": "b", "image": "b:1"}],
        "tolerations": [{"key": "old"}],
    }
}


@pytest.mark.parametrize(
    ("kind", "patch", "expected"), [c[1:] for c in SMP_CASES], ids=[c[0] for c in SMP_CASES]
)
def test_strategic_merge_patch(kind: str, patch: dict[str, Any], expected: dict[str, Any]) -> None:
    target = SECRET if kind == "Secret" else POD
    assert strategic_merge_patch(target, patch, kind) == expected


SMP_FAILURES: list[tuple[str, dict[str, Any], int, str]] = [
    (
        "unknown directive",
        {"data": {"$patch": "frob"}},
        500,
        "unknown patch type: frob in map: map[$patch:frob]",
    ),
    (
        "list item without its merge key",
        {"metadata": {"ownerReferences": [{"name": "x"}]}},
        500,
        "map: map[name:x] does not contain declared merge key: uid",
    ),
    (
        "$retainKeys not naming a patched key",
        {"data": {"$retainKeys": ["k"], "n": "bg=="}},
        400,
        "invalid patch format of retainKeys",
    ),
    (
        "$retainKeys that is not a list",
        {"data": {"$retainKeys": "k"}},
        400,
        "invalid patch format of retainKeys",
    ),
    (
        "$deleteFromPrimitiveList without a field",
        {"metadata": {"$deleteFromPrimitiveList": ["x"]}},
        400,
        "invalid patch format of primitive list",
    ),
]


@pytest.mark.parametrize(
    ("patch", "code", "message"), [c[1:] for c in SMP_FAILURES], ids=[c[0] for c in SMP_FAILURES]
)
def test_strategic_merge_patch_refusals(patch: dict[str, Any], code: int, message: str) -> None:
    with pytest.raises(PatchError) as raised:
        strategic_merge_patch(SECRET, patch, "Secret")
    assert (raised.value.code, raised.value.message) == (code, message)
