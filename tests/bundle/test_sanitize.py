"""What an object loses, and keeps, before it travels."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from movekit.sanitize import sanitize, sanitize_crd

LIVE: dict[str, Any] = {
    "apiVersion": "cluster.x-k8s.io/v1beta2",
    "kind": "Machine",
    "metadata": {
        "name": "m1", "namespace": "prod", "uid": "u1", "resourceVersion": "9",
        "creationTimestamp": "2024-01-01T00:00:00Z", "generation": 2, "selfLink": "/x",
        "deletionTimestamp": "2024-01-02T00:00:00Z", "deletionGracePeriodSeconds": 0,
        "generateName": "m-", "labels": {"a": "b"}, "annotations": {"c": "d"},
        "finalizers": ["machine.cluster.x-k8s.io"],
        "ownerReferences": [{"apiVersion": "cluster.x-k8s.io/v1beta2", "kind": "MachineSet",
                             "name": "ms", "uid": "u-ms", "controller": True}],
        "managedFields": [{"manager": "capi", "operation": "Apply", "fieldsType": "FieldsV1",
                           "fieldsV1": {"f:spec": {}}, "time": "2024-01-01T00:00:00Z"}],
    },
    "spec": {"clusterName": "c1", "bootstrap": {"dataSecretName": "m1-bootstrap"}},
    "status": {"nodeRef": {"name": "node-1"}},
}

DROPPED = ["uid", "resourceVersion", "creationTimestamp", "generation", "selfLink",
           "deletionTimestamp", "deletionGracePeriodSeconds"]
KEPT = ["name", "namespace", "generateName", "labels", "annotations", "finalizers",
        "ownerReferences", "managedFields"]


@pytest.mark.parametrize("field", DROPPED)
def test_server_set_metadata_is_dropped(field: str) -> None:
    assert field not in sanitize(LIVE)["metadata"]


@pytest.mark.parametrize("field", KEPT)
def test_chosen_metadata_travels_unchanged(field: str) -> None:
    assert sanitize(LIVE)["metadata"][field] == LIVE["metadata"][field]


def test_status_is_dropped_and_spec_kept() -> None:
    clean = sanitize(LIVE)
    assert "status" not in clean
    assert clean["spec"] == LIVE["spec"]


def test_the_input_is_not_changed_and_the_copy_is_deep() -> None:
    before = copy.deepcopy(LIVE)
    clean = sanitize(LIVE)
    clean["metadata"]["ownerReferences"][0]["uid"] = "changed"
    assert before == LIVE


def test_an_object_without_metadata_is_copied() -> None:
    assert sanitize({"kind": "X", "status": {}}) == {"kind": "X"}


def test_crd_loses_status_server_metadata_and_managed_fields() -> None:
    crd = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
           "metadata": {"name": "machines.cluster.x-k8s.io", "uid": "u", "generation": 4,
                        "labels": {"cluster.x-k8s.io/provider": "cluster-api"},
                        "managedFields": [{"manager": "capi"}]},
           "spec": {"group": "cluster.x-k8s.io"}, "status": {"storedVersions": ["v1beta2"]}}
    assert sanitize_crd(crd) == {
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "machines.cluster.x-k8s.io",
                     "labels": {"cluster.x-k8s.io/provider": "cluster-api"}},
        "spec": {"group": "cluster.x-k8s.io"}}
