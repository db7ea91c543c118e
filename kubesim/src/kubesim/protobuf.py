"""Decoding of ``application/vnd.kubernetes.protobuf`` request bodies for the built-in kinds.

client-go (and so ``kubectl create secret|configmap|namespace|role...``) sends built-in objects
as protobuf; the real apiserver accepts that, so kubesim decodes it into the JSON form. Only the
messages of the kinds kubesim serves are described here (field numbers from k8s.io/api's
``generated.proto``); answers are always JSON, which every client also accepts.
"""

from __future__ import annotations

import base64
import datetime
from collections.abc import Callable
from typing import Any

from kubesim import status

Json = dict[str, Any]
MAGIC = b"k8s\x00"
MEDIA_TYPE = "application/vnd.kubernetes.protobuf"

# A message is {field number: (json name, decoder, repeated?)}.
Field = tuple[str, "Decoder", bool]
Message = dict[int, Field]
Decoder = Callable[[Any], Any]


def _read_varint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(data):
            raise ValueError("truncated varint")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7


def _fields(data: bytes) -> list[tuple[int, Any]]:
    """The (field number, raw value) pairs of one message; length-delimited values as bytes."""
    out: list[tuple[int, Any]] = []
    pos = 0
    while pos < len(data):
        key, pos = _read_varint(data, pos)
        number, wire = key >> 3, key & 7
        value: Any
        if wire == 0:
            varint, pos = _read_varint(data, pos)
            value = varint
        elif wire == 2:
            length, pos = _read_varint(data, pos)
            value = data[pos:pos + length]
            if len(value) != length:
                raise ValueError("truncated field")
            pos += length
        elif wire == 1:
            value, pos = data[pos:pos + 8], pos + 8
        elif wire == 5:
            value, pos = data[pos:pos + 4], pos + 4
        else:
            raise ValueError(f"unsupported wire type {wire}")
        out.append((number, value))
    return out


def _message(spec: Message) -> Decoder:
    def decode(data: Any) -> Json:
        obj: Json = {}
        for number, raw in _fields(bytes(data)):
            entry = spec.get(number)
            if entry is None:
                continue
            name, decoder, repeated = entry
            value = decoder(raw)
            if repeated:
                obj.setdefault(name, []).append(value)
            elif isinstance(value, tuple):  # a map entry
                obj.setdefault(name, {})[value[0]] = value[1]
            else:
                obj[name] = value
        return obj
    return decode


def _string(raw: Any) -> str:
    return bytes(raw).decode()


def _bytes_b64(raw: Any) -> str:
    return base64.b64encode(bytes(raw)).decode()


def _int(raw: Any) -> int:
    value = int(raw)
    return value - (1 << 64) if value >= 1 << 63 else value


def _bool(raw: Any) -> bool:
    return bool(raw)


def _map_entry(value_decoder: Decoder) -> Decoder:
    def decode(raw: Any) -> tuple[str, Any]:
        key, value = "", value_decoder(b"")
        for number, item in _fields(bytes(raw)):
            if number == 1:
                key = _string(item)
            elif number == 2:
                value = value_decoder(item)
        return (key, value)
    return decode


def _time(raw: Any) -> str:
    seconds = 0
    for number, item in _fields(bytes(raw)):
        if number == 1:
            seconds = _int(item)
    return datetime.datetime.fromtimestamp(seconds, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _raw_json(raw: Any) -> Any:
    import json

    for number, item in _fields(bytes(raw)):
        if number == 1:
            return json.loads(bytes(item))
    return {}


_STRING_MAP = _map_entry(_string)
_OWNER_REFERENCE = _message({1: ("kind", _string, False), 3: ("name", _string, False),
                             4: ("uid", _string, False), 5: ("apiVersion", _string, False),
                             6: ("controller", _bool, False),
                             7: ("blockOwnerDeletion", _bool, False)})
_MANAGED_FIELDS = _message({1: ("manager", _string, False), 2: ("operation", _string, False),
                            3: ("apiVersion", _string, False), 4: ("time", _time, False),
                            6: ("fieldsType", _string, False), 7: ("fieldsV1", _raw_json, False),
                            8: ("subresource", _string, False)})
_OBJECT_META = _message({
    1: ("name", _string, False), 2: ("generateName", _string, False),
    3: ("namespace", _string, False), 4: ("selfLink", _string, False),
    5: ("uid", _string, False), 6: ("resourceVersion", _string, False),
    7: ("generation", _int, False), 8: ("creationTimestamp", _time, False),
    9: ("deletionTimestamp", _time, False), 10: ("deletionGracePeriodSeconds", _int, False),
    11: ("labels", _STRING_MAP, False), 12: ("annotations", _STRING_MAP, False),
    13: ("ownerReferences", _OWNER_REFERENCE, True), 14: ("finalizers", _string, True),
    17: ("managedFields", _MANAGED_FIELDS, True),
})
_OBJECT_REFERENCE = _message({1: ("kind", _string, False), 2: ("namespace", _string, False),
                              3: ("name", _string, False), 4: ("uid", _string, False),
                              5: ("apiVersion", _string, False),
                              6: ("resourceVersion", _string, False),
                              7: ("fieldPath", _string, False)})
_POLICY_RULE = _message({1: ("verbs", _string, True), 2: ("apiGroups", _string, True),
                         3: ("resources", _string, True), 4: ("resourceNames", _string, True),
                         5: ("nonResourceURLs", _string, True)})
_LABEL_SELECTOR = _message({
    1: ("matchLabels", _STRING_MAP, False),
    2: ("matchExpressions", _message({1: ("key", _string, False),
                                      2: ("operator", _string, False),
                                      3: ("values", _string, True)}), True)})
_SUBJECT = _message({1: ("kind", _string, False), 2: ("apiGroup", _string, False),
                     3: ("name", _string, False), 4: ("namespace", _string, False)})
_ROLE_REF = _message({1: ("apiGroup", _string, False), 2: ("kind", _string, False),
                      3: ("name", _string, False)})

KINDS: dict[str, Decoder] = {
    "Secret": _message({1: ("metadata", _OBJECT_META, False),
                        2: ("data", _map_entry(_bytes_b64), False),
                        3: ("type", _string, False), 4: ("stringData", _STRING_MAP, False),
                        5: ("immutable", _bool, False)}),
    "ConfigMap": _message({1: ("metadata", _OBJECT_META, False),
                           2: ("data", _STRING_MAP, False),
                           3: ("binaryData", _map_entry(_bytes_b64), False),
                           4: ("immutable", _bool, False)}),
    "Namespace": _message({1: ("metadata", _OBJECT_META, False),
                           2: ("spec", _message({1: ("finalizers", _string, True)}), False)}),
    "ServiceAccount": _message({
        1: ("metadata", _OBJECT_META, False), 2: ("secrets", _OBJECT_REFERENCE, True),
        3: ("imagePullSecrets", _message({1: ("name", _string, False)}), True),
        4: ("automountServiceAccountToken", _bool, False)}),
    "Role": _message({1: ("metadata", _OBJECT_META, False), 2: ("rules", _POLICY_RULE, True)}),
    "ClusterRole": _message({
        1: ("metadata", _OBJECT_META, False), 2: ("rules", _POLICY_RULE, True),
        3: ("aggregationRule", _message({1: ("clusterRoleSelectors", _LABEL_SELECTOR, True)}),
            False)}),
    "RoleBinding": _message({1: ("metadata", _OBJECT_META, False),
                             2: ("subjects", _SUBJECT, True), 3: ("roleRef", _ROLE_REF, False)}),
    "ClusterRoleBinding": _message({1: ("metadata", _OBJECT_META, False),
                                    2: ("subjects", _SUBJECT, True),
                                    3: ("roleRef", _ROLE_REF, False)}),
    "DeleteOptions": _message({
        1: ("gracePeriodSeconds", _int, False),
        2: ("preconditions", _message({1: ("uid", _string, False),
                                       2: ("resourceVersion", _string, False)}), False),
        3: ("orphanDependents", _bool, False), 4: ("propagationPolicy", _string, False),
        5: ("dryRun", _string, True)}),
}


def decode(body: bytes, expected_kind: str) -> Json:
    """A protobuf-encoded object as JSON; 415 for kinds kubesim cannot decode, 400 if corrupt."""
    if not body.startswith(MAGIC):
        raise status.bad_request("provided data does not appear to be a protobuf message, "
                                 "expected prefix [107 56 115 0]")
    try:
        envelope = _message({1: ("typeMeta", _message({1: ("apiVersion", _string, False),
                                                       2: ("kind", _string, False)}), False),
                             2: ("raw", bytes, False)})(body[len(MAGIC):])
        type_meta = envelope.get("typeMeta") or {}
        kind = type_meta.get("kind") or expected_kind
        decoder = KINDS.get(kind)
        if decoder is None:
            raise status.unsupported_media_type(["application/json", "application/yaml"])
        obj: Json = decoder(envelope.get("raw", b""))
    except (ValueError, UnicodeDecodeError) as err:
        raise status.bad_request(f"unable to decode protobuf body: {err}") from None
    meta = obj.get("metadata")
    if isinstance(meta, dict):
        # Typed decoding cannot tell an empty string from an unset field; neither can we.
        for key in [k for k, v in meta.items() if v == "" or (k in (
                "creationTimestamp", "deletionTimestamp") and v.startswith("1970-"))]:
            del meta[key]
    if type_meta.get("apiVersion"):
        obj = {"apiVersion": type_meta["apiVersion"], "kind": kind, **obj}
    return obj
