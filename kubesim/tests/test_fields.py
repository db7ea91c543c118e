"""managedFields and server-side apply follow the real apiserver's field ownership."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from kubesim.fields import (
    ApplyConflict,
    apply,
    fields_v1,
    fieldset,
    fieldset_paths,
    record_update,
)
from kubesim.patch import PatchError

T0, T1, T2 = "2030-01-01T00:00:00Z", "2030-01-01T00:01:00Z", "2030-01-01T00:02:00Z"
CAPI = "cluster.x-k8s.io/v1beta2"


def cluster(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": CAPI,
        "kind": "Cluster",
        "metadata": {"name": "c1", "namespace": "prod", "uid": "u-c1", "resourceVersion": "7"},
        "spec": spec,
    }


def with_managed(obj: dict[str, Any], managed: list[dict[str, Any]]) -> dict[str, Any]:
    out = copy.deepcopy(obj)
    out["metadata"]["managedFields"] = managed
    return out


def owners(managed: list[dict[str, Any]]) -> dict[str, set[str]]:
    """manager -> its paths written as dotted FieldsV1 keys, for readable assertions."""
    return {m["manager"]: {".".join(p) for p in fieldset_paths(m["fieldsV1"])} for m in managed}


def paused_by_topology() -> dict[str, Any]:
    """The entry the topology controller's apply of ``spec.paused`` leaves."""
    return {
        "manager": "capi-topology",
        "operation": "Apply",
        "apiVersion": CAPI,
        "time": T0,
        "fieldsType": "FieldsV1",
        "fieldsV1": {"f:spec": {"f:paused": {}}},
    }


def created(obj: dict[str, Any], manager: str = "creator") -> dict[str, Any]:
    return with_managed(obj, record_update(None, obj, manager, T0))


# --------------------------------------------------------------------------- FieldsV1 format

FORMAT_CASES: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    (
        "custom resource: spec is added, so it is a member with children",
        {**cluster(paused=True), "status": {"phase": "Provisioned"}},
        {"f:spec": {".": {}, "f:paused": {}}},
    ),
    (
        "labels, keyed ownerReferences and set finalizers",
        {
            **cluster(),
            "metadata": {
                "name": "c1",
                "labels": {"app": "x"},
                "finalizers": ["cluster.cluster.x-k8s.io"],
                "ownerReferences": [{"apiVersion": "v1", "kind": "K", "name": "o", "uid": "u1"}],
            },
        },
        {
            "f:metadata": {
                "f:finalizers": {".": {}, 'v:"cluster.cluster.x-k8s.io"': {}},
                "f:labels": {".": {}, "f:app": {}},
                "f:ownerReferences": {
                    ".": {},
                    'k:{"uid":"u1"}': {
                        ".": {},
                        "f:apiVersion": {},
                        "f:kind": {},
                        "f:name": {},
                        "f:uid": {},
                    },
                },
            },
            "f:spec": {},
        },
    ),
    (
        "Secret: data keys and type",
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "s"},
            "data": {"k": "dg=="},
            "type": "Opaque",
        },
        {"f:data": {".": {}, "f:k": {}}, "f:type": {}},
    ),
    (
        "Pod: spec exists in a new Pod, so only its contents are added",
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "p"},
            "spec": {"containers": [{"name": "c", "image": "i"}]},
        },
        {"f:spec": {"f:containers": {'k:{"name":"c"}': {".": {}, "f:image": {}, "f:name": {}}}}},
    ),
]


@pytest.mark.parametrize(
    ("obj", "expected"), [c[1:] for c in FORMAT_CASES], ids=[c[0] for c in FORMAT_CASES]
)
def test_create_records_fields_in_the_real_fieldsv1_format(
    obj: dict[str, Any], expected: dict[str, Any]
) -> None:
    managed = record_update(None, obj, "kubectl-create", T0)
    assert managed == [
        {
            "manager": "kubectl-create",
            "operation": "Update",
            "apiVersion": obj["apiVersion"],
            "time": T0,
            "fieldsType": "FieldsV1",
            "fieldsV1": expected,
        }
    ]


def test_fieldsv1_round_trips_through_paths() -> None:
    document = FORMAT_CASES[1][2]
    assert fields_v1(fieldset_paths(document)) == document


def test_fieldset_of_an_applied_object_has_no_parent_markers() -> None:
    obj = {**cluster(paused=True), "metadata": {"name": "c1", "labels": {"a": "b"}}}
    assert fieldset(obj) == {"f:metadata": {"f:labels": {"f:a": {}}}, "f:spec": {"f:paused": {}}}


# --------------------------------------------------------------------------- updates


def test_create_discards_the_managed_fields_it_carries() -> None:
    moved = with_managed(
        cluster(paused=True, topology={"version": "v1.30.0"}),
        [
            {
                "manager": "capi-topology",
                "operation": "Apply",
                "apiVersion": CAPI,
                "time": T0,
                "fieldsType": "FieldsV1",
                "fieldsV1": {"f:spec": {"f:paused": {}, "f:topology": {"f:version": {}}}},
            }
        ],
    )
    managed = record_update(None, moved, "movekit", T1)
    assert [(m["manager"], m["operation"]) for m in managed] == [("movekit", "Update")]


def test_patch_that_sets_managed_fields_replaces_them_and_adds_no_entry() -> None:
    live = created(cluster(paused=True))
    restored = [paused_by_topology()]
    patched = with_managed(live, restored)
    assert record_update(live, patched, "movekit", T1) == restored


def test_manager_whose_last_field_goes_away_disappears() -> None:
    live = created(cluster(paused=True), "pauser")
    resumed = copy.deepcopy(live)
    del resumed["spec"]["paused"]
    managed = record_update(live, resumed, "resumer", T1)
    assert owners(managed) == {"pauser": {"f:spec"}}
    emptied = with_managed(resumed, managed)
    del emptied["spec"]
    assert record_update(with_managed(resumed, managed), emptied, "resumer", T2) == []


UPDATE_CASES: list[tuple[str, dict[str, Any], dict[str, set[str]]]] = [
    (
        "another manager changing a field takes it",
        cluster(paused=False),
        {"creator": {"f:spec"}, "other": {"f:spec.f:paused"}},
    ),
    (
        "another manager adding a field owns only that",
        cluster(paused=True, controlPlaneRef={"name": "cp"}),
        {
            "creator": {"f:spec", "f:spec.f:paused"},
            "other": {"f:spec.f:controlPlaneRef", "f:spec.f:controlPlaneRef.f:name"},
        },
    ),
    ("removing a field takes it from its owner", cluster(), {"creator": {"f:spec"}}),
    (
        "writing the same value changes no owner",
        cluster(paused=True),
        {"creator": {"f:spec", "f:spec.f:paused"}},
    ),
]


@pytest.mark.parametrize(
    ("new", "expected"), [c[1:] for c in UPDATE_CASES], ids=[c[0] for c in UPDATE_CASES]
)
def test_update_moves_ownership_of_what_changed(
    new: dict[str, Any], expected: dict[str, set[str]]
) -> None:
    live = created(cluster(paused=True))
    managed = record_update(live, with_managed(new, live["metadata"]["managedFields"]), "other", T1)
    assert owners(managed) == expected


def test_update_by_the_same_manager_adds_to_its_entry_and_renews_its_time() -> None:
    live = created(cluster(paused=True))
    new = cluster(paused=True, topology={"version": "v1"})
    managed = record_update(live, new, "creator", T1)
    assert len(managed) == 1 and managed[0]["time"] == T1
    assert "f:spec.f:topology.f:version" in owners(managed)["creator"]


def test_status_write_records_only_status_under_the_subresource() -> None:
    live = created(cluster(paused=True))
    new = {**copy.deepcopy(live), "status": {"phase": "Provisioned"}}
    managed = record_update(live, new, "capi-controller", T1, subresource="status")
    entry = next(m for m in managed if m["manager"] == "capi-controller")
    assert entry["subresource"] == "status"
    assert entry["fieldsV1"] == {"f:status": {".": {}, "f:phase": {}}}


def test_main_resource_write_never_owns_status_when_the_kind_has_a_status_subresource() -> None:
    new = {**cluster(paused=True), "status": {"phase": "x"}}
    managed = record_update(None, new, "creator", T0)
    assert "f:status" not in managed[0]["fieldsV1"]
    managed = record_update(None, new, "creator", T0, status_subresource=False)
    assert "f:status" in managed[0]["fieldsV1"]


def test_entries_are_ordered_apply_first_then_by_time() -> None:
    live = created(cluster(paused=True), "z-first")
    step = apply(
        live,
        {
            "apiVersion": CAPI,
            "kind": "Cluster",
            "metadata": {"name": "c1"},
            "spec": {"topology": {"version": "v1"}},
        },
        "applier",
        False,
        T1,
    )
    step2 = copy.deepcopy(step)
    step2["spec"]["controlPlaneRef"] = {"name": "cp"}
    managed = record_update(step, step2, "a-later", T2)
    assert [(m["manager"], m["operation"]) for m in managed] == [
        ("applier", "Apply"),
        ("z-first", "Update"),
        ("a-later", "Update"),
    ]


# --------------------------------------------------------------------------- apply


def applied(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": CAPI,
        "kind": "Cluster",
        "metadata": {"name": "c1", "namespace": "prod"},
        "spec": spec,
    }


def test_apply_creates_with_one_apply_entry() -> None:
    result = apply(None, applied(paused=True), "capi-topology", False, T0)
    assert result["spec"] == {"paused": True}
    assert result["metadata"]["managedFields"] == [paused_by_topology()]


def test_apply_conflicts_with_the_owner_of_a_changed_field() -> None:
    live = created(cluster(paused=True), "kubectl-edit")
    with pytest.raises(ApplyConflict) as raised:
        apply(live, applied(paused=False), "capi-topology", False, T1)
    assert raised.value.conflicts == [(".spec.paused", "kubectl-edit")]
    assert raised.value.message == (
        f'Apply failed with 1 conflict: conflict with "kubectl-edit" using {CAPI}: .spec.paused'
    )
    assert raised.value.causes == [
        {
            "reason": "FieldManagerConflict",
            "field": ".spec.paused",
            "message": f'conflict with "kubectl-edit" using {CAPI}',
        }
    ]


def test_apply_conflicts_are_grouped_by_manager() -> None:
    live = created(cluster(paused=True, availabilityGates=["a"]), "kubectl-edit")
    with pytest.raises(ApplyConflict) as raised:
        apply(live, applied(paused=False, availabilityGates=["b"]), "x", False, T1)
    assert raised.value.message == (
        "Apply failed with 2 conflicts: "
        f'conflicts with "kubectl-edit" using {CAPI}:\n- .spec.availabilityGates\n- .spec.paused'
    )


def test_forced_apply_takes_ownership() -> None:
    live = created(cluster(paused=True), "kubectl-edit")
    result = apply(live, applied(paused=False), "capi-topology", True, T1)
    assert result["spec"]["paused"] is False
    assert owners(result["metadata"]["managedFields"]) == {
        "capi-topology": {"f:spec.f:paused"},
        "kubectl-edit": {"f:spec"},
    }


def test_applying_the_same_value_shares_ownership_without_conflict() -> None:
    live = created(cluster(paused=True), "kubectl-edit")
    result = apply(live, applied(paused=True), "capi-topology", False, T1)
    assert owners(result["metadata"]["managedFields"]) == {
        "capi-topology": {"f:spec.f:paused"},
        "kubectl-edit": {"f:spec", "f:spec.f:paused"},
    }


PRUNE_CASES: list[tuple[str, bool, dict[str, Any]]] = [
    (
        "a field no longer applied and owned by nobody else is removed",
        False,
        {"topology": {"version": "v1"}},
    ),
    (
        "a field no longer applied but owned by another manager stays",
        True,
        {"paused": True, "topology": {"version": "v1"}},
    ),
]


@pytest.mark.parametrize(
    ("other_owns", "expected_spec"), [c[1:] for c in PRUNE_CASES], ids=[c[0] for c in PRUNE_CASES]
)
def test_apply_removes_what_the_applier_stopped_applying(
    other_owns: bool, expected_spec: dict[str, Any]
) -> None:
    first = apply(None, applied(paused=True, topology={"version": "v1"}), "topo", False, T0)
    if other_owns:
        first = apply(first, applied(paused=True), "other-applier", False, T0)
    second = apply(first, applied(topology={"version": "v1"}), "topo", False, T1)
    assert second["spec"] == expected_spec


def test_apply_merges_keyed_lists_by_key() -> None:
    live = created(
        {
            **cluster(),
            "metadata": {
                "name": "c1",
                "ownerReferences": [{"apiVersion": "v1", "kind": "K", "name": "a", "uid": "ua"}],
            },
        }
    )
    config = {
        "apiVersion": CAPI,
        "kind": "Cluster",
        "metadata": {
            "name": "c1",
            "ownerReferences": [{"apiVersion": "v1", "kind": "K", "name": "b", "uid": "ub"}],
        },
    }
    result = apply(live, config, "applier", False, T1)
    assert [o["uid"] for o in result["metadata"]["ownerReferences"]] == ["ua", "ub"]


def test_apply_refuses_an_object_that_carries_managed_fields() -> None:
    with pytest.raises(PatchError) as raised:
        apply(None, with_managed(applied(paused=True), []), "x", False, T0)
    assert (raised.value.code, raised.value.message) == (400, "metadata.managedFields must be nil")
