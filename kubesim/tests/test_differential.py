"""What a real kube-apiserver was found to do, held for kubesim: every test runs against both.

Each test sends the same requests to a fresh kubesim and to the session's real control plane
(``kube`` in conftest.py) and asserts the same outcome: status code, reason, message, causes.
The expected values were read off the real server; where the real server leaves an order to
Go's map iteration (the causes of a 422), causes are compared as a set.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from kubesim import KubeSim
from kubesim.envtest import ControlPlane
from tests.conftest import Kube, eventually
from tests.support import CAPI_CRDS_ENV, GROUP, KUBESIM, REAL, upstream_crds, widget

RULES_NOT_CHECKED = ("<nil>", "FieldValueInvalid", "Invalid value: null: some validation rules "
                     "were not checked because the object was invalid; correct the existing "
                     "errors to complete validation")


def causes(body: dict[str, Any]) -> set[tuple[str, str, str]]:
    """The causes of a 422 as (field, reason, message): their order is not the server's to keep."""
    return {(c.get("field", ""), c["reason"], c["message"])
            for c in body.get("details", {}).get("causes", [])}


# --------------------------------------------------------------------------- create


def test_create_with_a_resource_version_is_a_500_from_storage(kube: Kube) -> None:
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c",
                                                                   "resourceVersion": "5"}}
    code, answer, _ = kube.raw("POST", f"/api/v1/namespaces/{kube.ns}/configmaps", body)
    assert code == 500
    assert answer == {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                      "message": "resourceVersion should not be set on objects to be created",
                      "code": 500}
    assert kube.raw("GET", f"/api/v1/namespaces/{kube.ns}/configmaps/c")[0] == 404


def test_the_resource_version_check_comes_after_validation_and_before_the_name_is_taken(
        kube: Kube) -> None:
    kube.widgets()
    kube.custom.create_namespaced_custom_object(GROUP, "v1", kube.ns, "widgets",
                                                widget("w", namespace=kube.ns))
    for name, expected in (("w", 500), ("Bad_Name", 422)):
        body = widget(name, namespace=None)
        body["metadata"]["resourceVersion"] = "12"
        assert kube.raw("POST", kube.path(), body)[0] == expected


@pytest.mark.parametrize("given", ["0", "abc", "-1", " 5"])
def test_a_resource_version_that_is_no_positive_number_is_ignored_on_create(
        kube: Kube, given: str) -> None:
    created = kube.core.create_namespaced_config_map(kube.ns, {"metadata": {
        "generateName": "c-", "resourceVersion": given}})
    assert created.metadata.resource_version not in (given, "")


def test_a_dry_run_create_with_a_resource_version_succeeds(kube: Kube) -> None:
    shown = kube.core.create_namespaced_config_map(
        kube.ns, {"metadata": {"name": "c", "resourceVersion": "7"}}, dry_run="All")
    assert shown.metadata.name == "c"


def test_a_resource_version_that_is_a_number_is_refused_by_typed_decoding(kube: Kube) -> None:
    code, body, _ = kube.raw("POST", f"/api/v1/namespaces/{kube.ns}/configmaps", {
        "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "resourceVersion": 5}})
    assert (code, body["reason"]) == (400, "BadRequest")
    assert body["message"] == (
        'ConfigMap in version "v1" cannot be handled as a ConfigMap: json: cannot unmarshal '
        "number into Go struct field ObjectMeta.metadata.resourceVersion of type string")
    kube.widgets()
    code, body, _ = kube.raw("POST", kube.path(), {
        "apiVersion": f"{GROUP}/v1", "kind": "Widget", "metadata": {"name": 5}})
    assert body["message"] == (
        'Widget in version "v1" cannot be handled as a Widget: json: cannot unmarshal number '
        "into Go struct field ObjectMeta.name of type string")


# --------------------------------------------------------------------------- JSON bodies

NOT_JSON = {
    "NaN": "invalid character 'N' looking for beginning of value",
    "Infinity": "invalid character 'I' looking for beginning of value",
    "-Infinity": "invalid character 'I' in numeric literal",
}


@pytest.mark.parametrize("literal", list(NOT_JSON))
def test_nan_and_infinity_in_a_create_or_update_body_are_a_400_syntax_error(
        kube: Kube, literal: str) -> None:
    """Python's json.dumps writes these for float('nan') and float('inf'); Go refuses them."""
    document = json.dumps({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"},
                           "data": {"a": float(literal)}})
    assert literal in document
    prefix = ("the object provided is unrecognized (must be of type ConfigMap): couldn't get "
              f"version/kind; json parse error: {NOT_JSON[literal]} "
              '({"apiVersion": "v1", "kind": " ...)')
    path = f"/api/v1/namespaces/{kube.ns}/configmaps"
    code, body, _ = kube.raw("POST", path, document.encode())
    assert (code, body["reason"], body["message"]) == (400, "BadRequest", prefix)
    kube.core.create_namespaced_config_map(kube.ns, {"metadata": {"name": "c"}})
    code, body, _ = kube.raw("PUT", f"{path}/c", document.encode())
    assert (code, body["message"]) == (400, prefix)


@pytest.mark.parametrize("literal", list(NOT_JSON))
def test_nan_and_infinity_in_a_custom_resource_are_a_400_syntax_error(
        kube: Kube, literal: str) -> None:
    kube.widgets()
    document = json.dumps(widget("w", namespace=None, extra={"x": float(literal)}))
    code, body, _ = kube.raw("POST", kube.path(), document.encode())
    assert (code, body["reason"]) == (400, "BadRequest")
    assert body["message"] == (
        "the object provided is unrecognized (must be of type Widget): couldn't get "
        f"version/kind; json parse error: {NOT_JSON[literal]} "
        '({"apiVersion": "example.com/v1 ...)')


@pytest.mark.parametrize(("content_type", "prefix"), [
    ("application/merge-patch+json", "error decoding patch: "),
    ("application/strategic-merge-patch+json", ""),
])
def test_nan_in_a_patch_is_a_400_syntax_error(kube: Kube, content_type: str,
                                              prefix: str) -> None:
    kube.core.create_namespaced_config_map(kube.ns, {"metadata": {"name": "c"}})
    code, body, _ = kube.raw("PATCH", f"/api/v1/namespaces/{kube.ns}/configmaps/c",
                             json.dumps({"data": {"a": float("nan")}}).encode(),
                             {"Content-Type": content_type})
    assert (code, body["reason"]) == (400, "BadRequest")
    assert body["message"] == f"{prefix}invalid character 'N' looking for beginning of value"


def test_infinity_in_a_json_patch_is_a_400_syntax_error(kube: Kube) -> None:
    kube.core.create_namespaced_config_map(kube.ns, {"metadata": {"name": "c"}})
    code, body, _ = kube.raw(
        "PATCH", f"/api/v1/namespaces/{kube.ns}/configmaps/c",
        json.dumps([{"op": "add", "path": "/data", "value": float("-inf")}]).encode(),
        {"Content-Type": "application/json-patch+json"})
    assert (code, body["message"]) == (
        400, "error decoding patch: invalid character 'I' in numeric literal")


def test_a_bad_patch_to_a_missing_object_is_a_404(kube: Kube) -> None:
    code, body, _ = kube.raw("PATCH", f"/api/v1/namespaces/{kube.ns}/configmaps/absent",
                             b'{"a":', {"Content-Type": "application/merge-patch+json"})
    assert (code, body["reason"]) == (404, "NotFound")


@pytest.mark.parametrize(("sent", "error"), [
    (b"", "unexpected end of JSON input (<empty>)"),
    (b'{"apiVersion": "v1", "kind"', 'unexpected end of JSON input ({"apiVersion": "v1", '
                                     '"kind")'),
    (b"[]", 'json: cannot unmarshal array into Go value of type struct { APIVersion string '
            '"json:\\"apiVersion,omitempty\\""; Kind string "json:\\"kind,omitempty\\"" } '
            "(5b5d)"),
    (b'{"a":1}}', "invalid character '}' after top-level value ({\"a\":1}})"),
])
def test_a_body_that_is_not_an_object_is_refused_with_gos_words(
        kube: Kube, sent: bytes, error: str) -> None:
    code, body, _ = kube.raw("POST", f"/api/v1/namespaces/{kube.ns}/configmaps", sent)
    assert (code, body["reason"]) == (400, "BadRequest")
    assert body["message"] == ("the object provided is unrecognized (must be of type "
                               f"ConfigMap): couldn't get version/kind; json parse error: {error}")


@pytest.mark.parametrize(("sent", "error"), [
    (b'{"a":', "error decoding patch: unexpected end of JSON input"),
    (b'{"a":1}}', "error decoding patch: invalid character '}' after top-level value"),
])
def test_a_malformed_merge_patch_is_refused_with_gos_words(kube: Kube, sent: bytes,
                                                           error: str) -> None:
    kube.core.create_namespaced_config_map(kube.ns, {"metadata": {"name": "c"}})
    code, body, _ = kube.raw("PATCH", f"/api/v1/namespaces/{kube.ns}/configmaps/c", sent,
                             {"Content-Type": "application/merge-patch+json"})
    assert (code, body["message"]) == (400, error)


def test_a_json_null_body_is_an_empty_object(kube: Kube) -> None:
    code, body, _ = kube.raw("POST", f"/api/v1/namespaces/{kube.ns}/configmaps", b"null")
    assert (code, body["reason"]) == (422, "Invalid")
    assert causes(body) == {("metadata.name", "FieldValueRequired",
                             "Required value: name or generateName is required")}


def test_a_config_map_value_of_the_wrong_type_is_refused_by_typed_decoding(kube: Kube) -> None:
    code, body, _ = kube.raw("POST", f"/api/v1/namespaces/{kube.ns}/configmaps", {
        "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": 1}})
    assert (code, body["message"]) == (
        400, 'ConfigMap in version "v1" cannot be handled as a ConfigMap: json: cannot '
             "unmarshal number into Go struct field ConfigMap.data of type string")


# --------------------------------------------------------------------------- namespaces


def _published(kube: Kube, ns: str) -> tuple[bool, bool]:
    """Whether ``ns`` holds the kube-root-ca.crt ConfigMap and the default ServiceAccount."""
    config_map = kube.raw("GET", f"/api/v1/namespaces/{ns}/configmaps/kube-root-ca.crt")[0]
    account = kube.raw("GET", f"/api/v1/namespaces/{ns}/serviceaccounts/default")[0]
    return config_map == 200, account == 200


def test_a_cluster_publishes_the_root_ca_and_default_service_account_in_new_namespaces(
        kube: Kube) -> None:
    assert eventually(lambda: _published(kube, kube.ns) == (True, True))
    published = kube.core.read_namespaced_config_map("kube-root-ca.crt", kube.ns)
    assert published.data["ca.crt"].startswith("-----BEGIN CERTIFICATE-----")
    assert set(published.metadata.annotations) == {"kubernetes.io/description"}


@pytest.fixture(params=[KUBESIM, REAL])
def bare(request: pytest.FixtureRequest) -> Iterator[Kube]:
    """An API server with no controller manager: kubesim with its publishers off, or a bare
    kube-apiserver."""
    ns = f"bare-{request.node.name[-6:].strip('[]')}"
    if request.param == KUBESIM:
        with KubeSim(tls=True, gc=False, root_ca_publisher=False,
                     service_accounts=False) as sim, \
                sim.api_client() as api:
            yield Kube(KUBESIM, sim, api, ns, sim, set())
        return
    plane: ControlPlane = request.getfixturevalue("bare_plane")
    with plane.api_client() as api:
        yield Kube(REAL, plane, api, ns, None, set())


def test_without_a_controller_manager_new_namespaces_stay_empty(bare: Kube) -> None:
    name = bare.unique("empty")
    bare.core.create_namespace({"metadata": {"name": name}})
    if bare.sim is not None:
        bare.sim.wait_idle()  # a bare apiserver has no controller that could still be working
    assert _published(bare, name) == (False, False)
    assert bare.core.list_namespaced_config_map(name).items == []


# --------------------------------------------------------------------------- CRD schemas

SCHEMA_GROUP = "schema.example.com"
_SHORT = {"type": "string", "maxLength": 64}
THING_SCHEMA: dict[str, Any] = {"type": "object", "properties": {"spec": {
    "type": "object", "required": ["size"], "properties": {
        "size": {"type": "integer", "minimum": 1, "maximum": 10},
        "name": {"type": "string", "maxLength": 5, "minLength": 2, "pattern": "^[a-z]+$"},
        "color": {"type": "string", "enum": ["red", "blue"]},
        "when": {"type": "string", "format": "date-time"},
        "items": {"type": "array", "minItems": 1, "maxItems": 2, "items": {
            "type": "object", "required": ["name"],
            "properties": {"name": {"type": "string"}, "value": {"type": "integer"}}}},
        "nested": {"type": "object", "minProperties": 1, "required": ["inner"], "properties": {
            "inner": {"type": "object", "required": ["deep"], "properties": {
                "deep": {"type": "boolean"}, "other": {"type": "string"}}}}},
        "labels": {"type": "object", "maxProperties": 2, "additionalProperties": {
            "type": "object", "required": ["v"],
            "properties": {"v": {"type": "string", "maxLength": 5}}}},
        "ports": {"type": "array", "x-kubernetes-list-type": "map",
                  "x-kubernetes-list-map-keys": ["name", "port"], "items": {
                      "type": "object", "required": ["name"], "properties": {
                          "name": {"type": "string"}, "port": {"type": "integer", "default": 80},
                          "v": {"type": "string"}}}},
        "tags": {"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "string"}},
        "numbers": {"type": "array", "x-kubernetes-list-type": "set",
                    "items": {"type": "integer"}},
    }}}}


def _crd(plural: str, kind: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": f"{plural}.{SCHEMA_GROUP}"},
            "spec": {"group": SCHEMA_GROUP, "scope": "Namespaced",
                     "names": {"plural": plural, "singular": kind.lower(), "kind": kind},
                     "versions": [{"name": "v1", "served": True, "storage": True,
                                   "schema": {"openAPIV3Schema": schema},
                                   "subresources": {"status": {}}}]}}


def _send(kube: Kube, plural: str, kind: str, spec: dict[str, Any],
          name: str = "x") -> tuple[int, dict[str, Any]]:
    obj = {"apiVersion": f"{SCHEMA_GROUP}/v1", "kind": kind, "metadata": {"name": name},
           "spec": spec}
    code, body, _ = kube.raw("POST", kube.path(plural, SCHEMA_GROUP), obj)
    return code, body


def _type_error(path: str, expected: str, actual: str) -> tuple[str, str, str]:
    return (path, "FieldValueTypeInvalid",
            f'Invalid value: "{actual}": {path} in body must be of type {expected}: "{actual}"')


SCHEMA_CASES: dict[str, tuple[dict[str, Any], set[tuple[str, str, str]]]] = {
    "valid": ({"size": 3, "items": [{"name": "a"}], "ports": [{"name": "a"}, {"name": "b"}],
               "tags": ["x", "y"]}, set()),
    "missing-required": ({}, {("spec.size", "FieldValueRequired", "Required value")}),
    "null-required": ({"size": None}, {("spec.size", "FieldValueRequired", "Required value")}),
    "types": ({"size": "x", "name": 5, "items": {}, "nested": []}, {
        _type_error("spec.size", "integer", "string"), _type_error("spec.name", "string",
                                                                   "integer"),
        _type_error("spec.items", "array", "object"), _type_error("spec.nested", "object",
                                                                  "array")}),
    "float-for-integer": ({"size": 1.5}, {
        _type_error("spec.size", "integer", "number"),
        ("<nil>", "FieldValueInvalid",
         'Invalid value: "": Checked value must be of type integer (default format) in '
         "spec.size")}),
    "bounds-enum-format": ({"size": 11, "name": "ABCDEFG", "color": "green",
                            "when": "yesterday"}, {
        ("spec.size", "FieldValueInvalid",
         "Invalid value: 11: spec.size in body should be less than or equal to 10"),
        ("spec.name", "FieldValueTooLong", "Too long: may not be more than 5 bytes"),
        ("spec.color", "FieldValueNotSupported",
         'Unsupported value: "green": supported values: "red", "blue"'),
        ("spec.when", "FieldValueTypeInvalid",
         'Invalid value: "yesterday": spec.when in body must be of type date-time: '
         '"yesterday"')}),
    "minimums": ({"size": 0, "name": "a", "items": []}, {
        ("spec.size", "FieldValueInvalid",
         "Invalid value: 0: spec.size in body should be greater than or equal to 1"),
        ("spec.name", "FieldValueInvalid",
         'Invalid value: "a": spec.name in body should be at least 2 chars long'),
        ("spec.items", "FieldValueInvalid",
         "Invalid value: 0: spec.items in body should have at least 1 items")}),
    "pattern": ({"size": 1, "name": "AB"}, {
        ("spec.name", "FieldValueInvalid",
         "Invalid value: \"AB\": spec.name in body should match '^[a-z]+$'")}),
    "array-items": ({"size": 1, "items": [{"value": 1}, {"name": "a", "value": "x"},
                                          {"name": "b"}]}, {
        ("spec.items[0].name", "FieldValueRequired", "Required value"),
        _type_error("spec.items[1].value", "integer", "string"),
        ("spec.items", "FieldValueTooMany", "Too many: 3: must have at most 2 items")}),
    "nested-objects": ({"size": 1, "nested": {}}, {
        ("spec.nested", "FieldValueInvalid",
         "Invalid value: 0: spec.nested in body should have at least 1 properties"),
        ("spec.nested.inner", "FieldValueRequired", "Required value")}),
    "deeply-nested": ({"size": 1, "nested": {"inner": {"other": "x"}}}, {
        ("spec.nested.inner.deep", "FieldValueRequired", "Required value")}),
    "map-values": ({"size": 1, "labels": {"k": {}, "l": {"v": "toolong"}, "z": {"v": "x"}}}, {
        ("spec.labels", "FieldValueTooMany", "Too many: 3: must have at most 2 items"),
        ("spec.labels.k.v", "FieldValueRequired", "Required value"),
        ("spec.labels.l.v", "FieldValueTooLong", "Too long: may not be more than 5 bytes")}),
    "list-map-keys": ({"size": 1, "ports": [{"name": "a"}, {"name": "a", "port": 80},
                                            {"name": "a", "port": 81}]}, {
        ("spec.ports[1]", "FieldValueDuplicate", 'Duplicate value: {"name":"a","port":80}')}),
    "list-sets": ({"size": 1, "tags": ["a", "b", "a"], "numbers": [1, 2, 1, 1]}, {
        ("spec.tags[2]", "FieldValueDuplicate", 'Duplicate value: "a"'),
        ("spec.numbers[2]", "FieldValueDuplicate", "Duplicate value: 1")}),
}


@pytest.mark.parametrize("case", list(SCHEMA_CASES))
def test_structural_schema_validation_reports_every_nested_field(kube: Kube, case: str) -> None:
    kube.install(_crd("things", "Thing", THING_SCHEMA))
    spec, expected = SCHEMA_CASES[case]
    code, body = _send(kube, "things", "Thing", spec)
    if not expected:
        assert code == 201, body
        return
    assert (code, body["reason"]) == (422, "Invalid")
    assert causes(body) == expected
    assert body["message"].startswith(f'Thing.{SCHEMA_GROUP} "x" is invalid: ')
    assert body["details"]["kind"] == "Thing" and body["details"]["group"] == SCHEMA_GROUP


RULES_SCHEMA: dict[str, Any] = {"type": "object", "properties": {"spec": {
    "type": "object",
    "x-kubernetes-validations": [{"rule": "!has(self.a) || self.a != 'root'",
                                  "message": "a must not be root", "fieldPath": ".a",
                                  "reason": "FieldValueForbidden"}],
    "properties": {
        "a": {"type": "string", "maxLength": 10},
        "n": {"type": "integer", "multipleOf": 2,
              "x-kubernetes-validations": [{"rule": "self < 5"}]},
        "f": {"type": "number", "x-kubernetes-validations": [{
            "rule": "self < 5.0", "messageExpression": "'f too big: ' + (self > 10.0 ? "
                                                       "'huge' : 'big')"}]},
        "b": {"type": "boolean", "x-kubernetes-validations": [{"rule": "self",
                                                               "message": "b must be true"}]},
        "ios": {"x-kubernetes-int-or-string": True,
                "anyOf": [{"type": "integer"}, {"type": "string"}],
                "x-kubernetes-validations": [{
                    "rule": "type(self) == int ? self < 100 : self.endsWith('%')",
                    "message": "bad ios"}]},
        "o": {"type": "object", "properties": {"x": _SHORT},
              "x-kubernetes-validations": [{"rule": "self.x == 'a'", "message": "x must be a"}]},
        "ts": {"type": "string", "format": "date-time", "x-kubernetes-validations": [
            {"rule": "self > timestamp('2020-01-01T00:00:00Z')", "message": "too old"}]},
        "args": {"type": "array", "maxItems": 32, "items": {
            "type": "object", "required": ["name", "value"],
            "properties": {"name": _SHORT, "value": _SHORT}},
            "x-kubernetes-validations": [{
                "rule": "self.all(x, self.exists_one(y, x.name == y.name))",
                "message": "extraArgs name must be unique"}]},
        "parts": {"type": "array", "maxItems": 8, "items": {
            "type": "object", "properties": {
                "layout": {"type": "boolean"},
                "diskLayout": {"type": "array", "maxItems": 8, "items": {
                    "type": "object", "properties": {"partitionType": {
                        "type": "string", "maxLength": 40, "x-kubernetes-validations": [{
                            "rule": "self.matches('^(Linux|LVM)$')",
                            "message": "partitionType must be one"}]}}}}},
            "x-kubernetes-validations": [{
                "rule": "[has(self.layout),has(self.diskLayout)].filter(x,x==true).size() == 1",
                "message": "exactly one of the fields in [layout diskLayout] must be set"}]}},
        "conditions": {"type": "array", "maxItems": 8, "items": {
            "type": "object", "properties": {"type": {
                "type": "string", "maxLength": 32, "x-kubernetes-validations": [{
                    "rule": "!(self in ['Ready','Available'])",
                    "message": "type must not be one of: Ready, Available"}]}}}},
        "unique": {"type": "array", "maxItems": 16, "items": {"type": "string", "maxLength": 16},
                   "x-kubernetes-validations": [{"rule": "self.all(x, self.exists_one(y, x == y))",
                                                 "message": "entries must be unique"}]},
        "immutable": {"type": "string", "maxLength": 10, "x-kubernetes-validations": [
            {"rule": "self == oldSelf", "message": "immutable is immutable"}]},
        "growing": {"type": "array", "maxItems": 4, "x-kubernetes-list-type": "map",
                    "x-kubernetes-list-map-keys": ["name"], "items": {
                        "type": "object", "required": ["name"], "properties": {
                            "name": {"type": "string", "maxLength": 10},
                            "v": {"type": "integer", "x-kubernetes-validations": [
                                {"rule": "self >= oldSelf", "message": "v may only grow"}]}}}},
    }}}}

RULE_CASES: dict[str, tuple[dict[str, Any], set[tuple[str, str, str]]]] = {
    "valid": ({"a": "x", "n": 2, "f": 1, "b": True, "ios": "5%", "o": {"x": "a"},
               "ts": "2021-01-01T00:00:00Z", "args": [{"name": "a", "value": "1"}],
               "parts": [{"layout": True}], "conditions": [{"type": "Foo"}],
               "unique": ["a", "b"]}, set()),
    "field-path-and-reason": ({"a": "root"}, {
        ("spec.a", "FieldValueForbidden", "Forbidden: a must not be root")}),
    "default-message-beside-a-schema-error": ({"n": 7}, {
        ("spec.n", "FieldValueInvalid", "Invalid value: 7: failed rule: self < 5"),
        ("spec.n", "FieldValueInvalid",
         "Invalid value: 7: spec.n in body should be a multiple of 2")}),
    "message-expression": ({"f": 7.5}, {
        ("spec.f", "FieldValueInvalid", "Invalid value: 7.5: f too big: big")}),
    "boolean": ({"b": False}, {("spec.b", "FieldValueInvalid",
                                "Invalid value: false: b must be true")}),
    "int-or-string": ({"ios": 200}, {("spec.ios", "FieldValueInvalid",
                                      "Invalid value: 200: bad ios")}),
    "int-or-string-as-string": ({"ios": "5"}, {("spec.ios", "FieldValueInvalid",
                                                'Invalid value: "5": bad ios')}),
    "no-such-key": ({"o": {}}, {("spec.o", "FieldValueInvalid",
                                 'Invalid value: "object": no such key: x evaluating rule: '
                                 "x must be a")}),
    "object": ({"o": {"x": "b"}}, {("spec.o", "FieldValueInvalid",
                                    "Invalid value: x must be a")}),
    "timestamp": ({"ts": "2019-01-01T00:00:00Z"}, {
        ("spec.ts", "FieldValueInvalid", 'Invalid value: "2019-01-01T00:00:00Z": too old')}),
    "unique-names": ({"args": [{"name": "a", "value": "1"}, {"name": "a", "value": "2"}]}, {
        ("spec.args", "FieldValueInvalid", "Invalid value: extraArgs name must be unique")}),
    "blocked-by-a-missing-field": ({"args": [{"value": "1"}]}, {
        ("spec.args[0].name", "FieldValueRequired", "Required value"), RULES_NOT_CHECKED}),
    "blocked-by-a-long-string": ({"a": "0123456789ab", "b": False}, {
        ("spec.a", "FieldValueTooLong", "Too long: may not be more than 10 bytes"),
        RULES_NOT_CHECKED}),
    "exactly-one-of": ({"parts": [{"layout": True, "diskLayout": []}, {},
                                  {"diskLayout": [{"partitionType": "foo"}]}]}, {
        ("spec.parts[0]", "FieldValueInvalid",
         "Invalid value: exactly one of the fields in [layout diskLayout] must be set"),
        ("spec.parts[1]", "FieldValueInvalid",
         "Invalid value: exactly one of the fields in [layout diskLayout] must be set"),
        ("spec.parts[2].diskLayout[0].partitionType", "FieldValueInvalid",
         'Invalid value: "foo": partitionType must be one')}),
    "not-in": ({"conditions": [{"type": "Ready"}, {"type": "Foo"}]}, {
        ("spec.conditions[0].type", "FieldValueInvalid",
         'Invalid value: "Ready": type must not be one of: Ready, Available')}),
    "unique-items": ({"unique": ["a", "b", "a"]}, {
        ("spec.unique", "FieldValueInvalid", "Invalid value: entries must be unique")}),
}


@pytest.mark.parametrize("case", list(RULE_CASES))
def test_cel_rules_are_enforced_with_the_apiservers_causes(kube: Kube, case: str) -> None:
    kube.install(_crd("rules", "Rule", RULES_SCHEMA))
    spec, expected = RULE_CASES[case]
    code, body = _send(kube, "rules", "Rule", spec)
    if not expected:
        assert code == 201, body
        return
    assert (code, body["reason"]) == (422, "Invalid")
    assert causes(body) == expected


def test_transition_rules_compare_with_the_stored_object_on_update(kube: Kube) -> None:
    kube.install(_crd("rules", "Rule", RULES_SCHEMA))
    code, _ = _send(kube, "rules", "Rule", {"immutable": "i", "growing": [{"name": "a", "v": 1}]})
    assert code == 201
    path = kube.path("rules", SCHEMA_GROUP) + "/x"
    merge = {"Content-Type": "application/merge-patch+json"}
    code, body, _ = kube.raw("PATCH", path, {"spec": {"immutable": "j"}}, merge)
    assert code == 422 and causes(body) == {
        ("spec.immutable", "FieldValueInvalid", 'Invalid value: "j": immutable is immutable')}
    code, body, _ = kube.raw("PATCH", path, {"spec": {"growing": [
        {"name": "a", "v": 0}, {"name": "b", "v": 0}]}}, merge)
    assert code == 422 and causes(body) == {
        ("spec.growing[0].v", "FieldValueInvalid", "Invalid value: 0: v may only grow")}
    code, _, _ = kube.raw("PATCH", path, {"spec": {"growing": [
        {"name": "a", "v": 2}, {"name": "b", "v": 0}]}}, merge)
    assert code == 200


# --------------------------------------------------------------------------- upstream CRDs


@functools.cache
def _upstream(directory: Path, file: str) -> dict[str, Any]:
    found = yaml.load((directory / file).read_text(), Loader=yaml.CSafeLoader)
    assert isinstance(found, dict)
    return found


def _install_upstream(kube: Kube, file: str) -> None:
    directory = upstream_crds()
    if directory is None:
        pytest.skip(f"the upstream Cluster API CRDs are not at hand (set {CAPI_CRDS_ENV})")
    kube.install(_upstream(directory, file))


def _cluster(name: str, **topology: Any) -> dict[str, Any]:
    return {"apiVersion": "cluster.x-k8s.io/v1beta2", "kind": "Cluster",
            "metadata": {"name": name},
            "spec": {"clusterNetwork": {"pods": {"cidrBlocks": ["192.168.0.0/16"]}},
                     "topology": {"classRef": {"name": "quick-start"}, "version": "v1.33.0",
                                  **topology}}}


def _machine_condition(type_: str) -> dict[str, Any]:
    return {"controlPlane": {"healthCheck": {"checks": {"unhealthyMachineConditions": [
        {"type": type_, "status": "False", "timeoutSeconds": 300}]}}}}


UPSTREAM_CLUSTER_CASES: dict[str, tuple[dict[str, Any], set[tuple[str, str, str]]]] = {
    "valid": (_cluster("c", **_machine_condition("Custom")), set()),
    "cel-reserved-condition": (_cluster("c", **_machine_condition("Ready")), {
        ("spec.topology.controlPlane.healthCheck.checks.unhealthyMachineConditions[0].type",
         "FieldValueInvalid", 'Invalid value: "Ready": type must not be one of: Ready, '
         "Available, HealthCheckSucceeded, OwnerRemediated, ExternallyRemediated")}),
    "nested-required-and-enum": (_cluster("c", workers={"machineDeployments": [
        {"class": "default-worker", "deletion": {"order": "Sideways"}}]}), {
        ("spec.topology.workers.machineDeployments[0].name", "FieldValueRequired",
         "Required value"),
        ("spec.topology.workers.machineDeployments[0].deletion.order",
         "FieldValueNotSupported",
         'Unsupported value: "Sideways": supported values: "Random", "Newest", "Oldest"'),
        RULES_NOT_CHECKED}),
    "type-and-min-items": ({**_cluster("c"), "spec": {
        "clusterNetwork": {"pods": {"cidrBlocks": []}, "apiServerPort": "6443"},
        "topology": {"classRef": {"name": "Quick_Start"}, "version": "v1.33.0"}}}, {
        ("spec.clusterNetwork.pods.cidrBlocks", "FieldValueInvalid",
         "Invalid value: 0: spec.clusterNetwork.pods.cidrBlocks in body should have at least "
         "1 items"),
        _type_error("spec.clusterNetwork.apiServerPort", "integer", "string"),
        ("spec.topology.classRef.name", "FieldValueInvalid",
         'Invalid value: "Quick_Start": spec.topology.classRef.name in body should match '
         "'^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$'"),
        RULES_NOT_CHECKED}),
}


@pytest.mark.parametrize("case", list(UPSTREAM_CLUSTER_CASES))
def test_the_upstream_cluster_crd_is_enforced_as_upstream_ships_it(kube: Kube,
                                                                   case: str) -> None:
    _install_upstream(kube, "cluster.x-k8s.io_clusters.yaml")
    obj, expected = UPSTREAM_CLUSTER_CASES[case]
    code, body, _ = kube.raw("POST", kube.path("clusters", "cluster.x-k8s.io", "v1beta2"), obj)
    if not expected:
        assert code == 201, body
        return
    assert (code, body["reason"]) == (422, "Invalid")
    assert causes(body) == expected


def test_the_upstream_kubeadm_control_plane_refuses_repeated_extra_args(kube: Kube) -> None:
    _install_upstream(kube, "controlplane.cluster.x-k8s.io_kubeadmcontrolplanes.yaml")
    args = [{"name": "v", "value": "2"}, {"name": "v", "value": "3"}]
    obj = {"apiVersion": "controlplane.cluster.x-k8s.io/v1beta2", "kind": "KubeadmControlPlane",
           "metadata": {"name": "cp"},
           "spec": {"version": "v1.33.0", "replicas": 1,
                    "machineTemplate": {"spec": {"infrastructureRef": {
                        "apiGroup": "infrastructure.cluster.x-k8s.io",
                        "kind": "DockerMachineTemplate", "name": "cp"}}},
                    "kubeadmConfigSpec": {
                        "clusterConfiguration": {"apiServer": {"extraArgs": args}},
                        "initConfiguration": {"nodeRegistration": {"kubeletExtraArgs": args}}}}}
    path = kube.path("kubeadmcontrolplanes", "controlplane.cluster.x-k8s.io", "v1beta2")
    code, body, _ = kube.raw("POST", path, obj)
    assert (code, body["reason"]) == (422, "Invalid")
    assert causes(body) == {
        ("spec.kubeadmConfigSpec.clusterConfiguration.apiServer.extraArgs", "FieldValueInvalid",
         "Invalid value: extraArgs name must be unique"),
        ("spec.kubeadmConfigSpec.initConfiguration.nodeRegistration.kubeletExtraArgs",
         "FieldValueInvalid", "Invalid value: kubeletExtraArgs name must be unique")}
    args[1]["name"] = "w"
    assert kube.raw("POST", path, obj)[0] == 201


def test_strict_field_validation_names_the_kind_that_could_not_be_decoded(kube: Kube) -> None:
    code, body, _ = kube.raw("POST",
                             f"/api/v1/namespaces/{kube.ns}/configmaps?fieldValidation=Strict",
                             {"apiVersion": "v1", "kind": "ConfigMap",
                              "metadata": {"name": "c", "junk": 1}, "junk": 2})
    assert (code, body["reason"]) == (400, "BadRequest")
    assert body["message"] == ('ConfigMap in version "v1" cannot be handled as a ConfigMap: '
                               'strict decoding error: unknown field "metadata.junk", unknown '
                               'field "junk"')
