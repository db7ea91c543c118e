"""Structural schemas prune, default and validate custom resources as the apiserver does."""

from __future__ import annotations

from typing import Any

import pytest

from kubesim.schema import (
    apply_defaults,
    invalid_message,
    prune,
    prune_nulls,
    validate,
    validation_errors,
)

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "apiVersion": {"type": "string"},
        "kind": {"type": "string"},
        "metadata": {"type": "object"},
        "spec": {
            "type": "object",
            "required": ["clusterName"],
            "properties": {
                "clusterName": {"type": "string", "minLength": 1, "maxLength": 10},
                "replicas": {"type": "integer", "minimum": 0, "maximum": 5, "default": 1},
                "ratio": {"type": "number"},
                "paused": {"type": "boolean"},
                "mode": {"type": "string", "enum": ["a", "c"]},
                "port": {"x-kubernetes-int-or-string": True},
                "name": {"type": "string", "pattern": "^[a-z]+$"},
                "note": {"type": "string", "nullable": True},
                "when": {"type": "string", "format": "date-time"},
                "gates": {
                    "type": "array",
                    "maxItems": 2,
                    "minItems": 1,
                    "items": {"type": "string"},
                },
                "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                "template": {
                    "type": "object",
                    "x-kubernetes-embedded-resource": True,
                    "x-kubernetes-preserve-unknown-fields": True,
                },
                "free": {
                    "type": "object",
                    "x-kubernetes-preserve-unknown-fields": True,
                    "properties": {
                        "known": {"type": "object", "properties": {"a": {"type": "string"}}}
                    },
                },
                "machines": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["name"],
                        "properties": {
                            "name": {"type": "string"},
                            "size": {"type": "string", "default": "m"},
                        },
                    },
                },
            },
        },
    },
}


def resource(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "x.io/v1",
        "kind": "Thing",
        "metadata": {"name": "t", "junk": 1},
        "spec": {"clusterName": "c1", **spec},
    }


# --------------------------------------------------------------------------- validation

VALIDATION_CASES: list[tuple[str, dict[str, Any], list[str]]] = [
    ("a valid object", resource(replicas=2, port="http", ratio=1), []),
    ("required field missing", {"spec": {}}, ["spec.clusterName: Required value"]),
    (
        "wrong type",
        resource(replicas="string"),
        [
            'spec.replicas: Invalid value: "string": '
            "spec.replicas in body must be of type integer: "
            '"string"'
        ],
    ),
    (
        "boolean for a string",
        resource(clusterName=True),
        [
            'spec.clusterName: Invalid value: "boolean": spec.clusterName in body must be of type '
            'string: "boolean"'
        ],
    ),
    ("a whole float is an integer", resource(replicas=2.0), []),
    ("an integer is a number", resource(ratio=2), []),
    (
        "int-or-string refuses a boolean",
        resource(port=False),
        [
            'spec.port: Invalid value: "boolean": '
            "spec.port in body must be of type integer,string: "
            '"boolean"'
        ],
    ),
    (
        "null for a non-nullable field",
        resource(paused=None),
        ['spec.paused: Invalid value: "null": spec.paused in body must be of type boolean: "null"'],
    ),
    ("null for a nullable field", resource(note=None), []),
    ("enum", resource(mode="b"), ['spec.mode: Unsupported value: "b": supported values: "a", "c"']),
    (
        "minimum",
        resource(replicas=-1),
        [
            "spec.replicas: Invalid value: -1: spec.replicas in body should be greater than or "
            "equal to 0"
        ],
    ),
    (
        "maximum",
        resource(replicas=6),
        [
            "spec.replicas: Invalid value: 6: "
            "spec.replicas in body should be less than or equal to 5"
        ],
    ),
    (
        "minLength",
        resource(clusterName=""),
        [
            "spec.clusterName: Invalid value: "
            '"": spec.clusterName in body should be at least 1 chars '
            "long"
        ],
    ),
    (
        "maxLength",
        resource(clusterName="x" * 11),
        ["spec.clusterName: Too long: may not be more than 10 bytes"],
    ),
    (
        "pattern",
        resource(name="A"),
        ["spec.name: Invalid value: \"A\": spec.name in body should match '^[a-z]+$'"],
    ),
    (
        "maxItems",
        resource(gates=["a", "b", "c"]),
        ["spec.gates: Too many: 3: must have at most 2 items"],
    ),
    (
        "minItems",
        resource(gates=[]),
        ["spec.gates: Invalid value: 0: spec.gates in body should have at least 1 items"],
    ),
    (
        "list items",
        resource(gates=[1]),
        [
            'spec.gates[0]: Invalid value: "integer": '
            "spec.gates[0] in body must be of type string: "
            '"integer"'
        ],
    ),
    (
        "additionalProperties values",
        resource(labels={"a": 1}),
        [
            'spec.labels.a: Invalid value: "integer": '
            "spec.labels.a in body must be of type string: "
            '"integer"'
        ],
    ),
    (
        "required inside list items",
        resource(machines=[{"size": "l"}]),
        ["spec.machines[0].name: Required value"],
    ),
    (
        "date-time format",
        resource(when="yesterday"),
        [
            'spec.when: Invalid value: "yesterday": spec.when in body must be of type date-time: '
            '"yesterday"'
        ],
    ),
    ("a valid date-time", resource(when="2030-01-01T00:00:00Z"), []),
]


@pytest.mark.parametrize(
    ("obj", "expected"), [c[1:] for c in VALIDATION_CASES], ids=[c[0] for c in VALIDATION_CASES]
)
def test_validation_messages_match_the_apiserver(obj: dict[str, Any], expected: list[str]) -> None:
    assert validate(obj, SCHEMA) == expected


def test_validation_errors_become_status_causes_and_message() -> None:
    errors = validation_errors({"spec": {"mode": "b"}}, SCHEMA)
    assert [e.cause() for e in errors] == [
        {
            "reason": "FieldValueNotSupported",
            "field": "spec.mode",
            "message": 'Unsupported value: "b": supported values: "a", "c"',
        },
        {"reason": "FieldValueRequired", "field": "spec.clusterName", "message": "Required value"},
    ]
    assert invalid_message("Thing.x.io", "t", errors[1:]) == (
        'Thing.x.io "t" is invalid: spec.clusterName: Required value'
    )
    assert invalid_message("Thing.x.io", "t", errors).startswith('Thing.x.io "t" is invalid: [')


# --------------------------------------------------------------------------- pruning

PRUNE_CASES: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    (
        "unknown fields go, metadata is kept whole",
        resource(unknown=1, replicas=2),
        resource(replicas=2),
    ),
    (
        "unknown fields in list items go",
        resource(machines=[{"name": "m", "x": 1}]),
        resource(machines=[{"name": "m"}]),
    ),
    (
        "additionalProperties keeps every key",
        resource(labels={"a": "1", "b": "2"}),
        resource(labels={"a": "1", "b": "2"}),
    ),
    (
        "preserve-unknown-fields keeps unknown fields but prunes known ones",
        resource(free={"anything": {"deep": 1}, "known": {"a": "x", "b": "y"}}),
        resource(free={"anything": {"deep": 1}, "known": {"a": "x"}}),
    ),
    (
        "an embedded resource keeps apiVersion, kind and metadata",
        resource(template={"apiVersion": "v1", "kind": "K", "metadata": {"name": "n"}, "x": 1}),
        resource(template={"apiVersion": "v1", "kind": "K", "metadata": {"name": "n"}, "x": 1}),
    ),
]


@pytest.mark.parametrize(
    ("obj", "expected"), [c[1:] for c in PRUNE_CASES], ids=[c[0] for c in PRUNE_CASES]
)
def test_prune(obj: dict[str, Any], expected: dict[str, Any]) -> None:
    assert prune(obj, SCHEMA) == expected


def test_prune_keeps_apiversion_kind_and_metadata_without_a_schema_for_them() -> None:
    obj = {"apiVersion": "x.io/v1", "kind": "Thing", "metadata": {"name": "t"}, "spec": {"a": 1}}
    assert prune(obj, {"type": "object"}) == {
        "apiVersion": "x.io/v1",
        "kind": "Thing",
        "metadata": {"name": "t"},
    }


def test_prune_nulls_drops_nulls_of_non_nullable_fields_without_defaults() -> None:
    obj = resource(paused=None, note=None, replicas=None)
    assert prune_nulls(obj, SCHEMA)["spec"] == {"clusterName": "c1", "note": None, "replicas": None}


# --------------------------------------------------------------------------- defaulting

DEFAULT_CASES: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    ("a missing field gets its default", {"spec": {}}, {"spec": {"replicas": 1}}),
    ("a set field keeps its value", {"spec": {"replicas": 3}}, {"spec": {"replicas": 3}}),
    (
        "a null non-nullable field gets its default",
        {"spec": {"replicas": None}},
        {"spec": {"replicas": 1}},
    ),
    (
        "defaults apply inside list items",
        {"spec": {"machines": [{"name": "a"}]}},
        {"spec": {"replicas": 1, "machines": [{"name": "a", "size": "m"}]}},
    ),
    ("no parent, no default", {}, {}),
]


@pytest.mark.parametrize(
    ("obj", "expected"), [c[1:] for c in DEFAULT_CASES], ids=[c[0] for c in DEFAULT_CASES]
)
def test_apply_defaults(obj: dict[str, Any], expected: dict[str, Any]) -> None:
    assert apply_defaults(obj, SCHEMA) == expected
