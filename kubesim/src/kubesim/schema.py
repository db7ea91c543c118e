"""A CRD version's structural schema (``openAPIV3Schema``) applied to custom resources.

What the apiextensions-apiserver does to a custom resource, in its order:

1. ``prune``: drop fields the schema does not specify (``structuralpruning.Prune``), unless
   ``x-kubernetes-preserve-unknown-fields``; at the root and in embedded resources
   ``apiVersion``, ``kind`` and ``metadata`` stay (the server coerces metadata itself).
2. ``prune_nulls``: drop ``null`` values of fields that are neither ``nullable`` nor
   defaulted (``PruneNonNullableNullsWithoutDefaults``).
3. ``apply_defaults``: fill ``default`` values of missing (or null, non-nullable) fields;
   the apiserver does this both when decoding a request and when reading from storage.
4. ``validate``: the errors kube-openapi reports, converted to field errors the way
   ``kubeOpenAPIResultToFieldErrors`` does, with the same messages.

``FieldError.cause()`` is the ``Status.details.causes`` entry and ``invalid_message`` the
``Status.message`` of the 422 the server answers with.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from kubesim.gofmt import go_float, go_kind, go_quote, go_syntax, go_value
from kubesim.jsoncopy import clone

Schema = Mapping[str, Any]

_META_FIELDS = ("apiVersion", "kind", "metadata")

# Reasons (metav1.CauseType) and their words in messages (field.ErrorType.String()).
REQUIRED = "FieldValueRequired"
INVALID = "FieldValueInvalid"
NOT_SUPPORTED = "FieldValueNotSupported"
TYPE_INVALID = "FieldValueTypeInvalid"
TOO_LONG = "FieldValueTooLong"
TOO_MANY = "FieldValueTooMany"
FORBIDDEN = "FieldValueForbidden"
DUPLICATE = "FieldValueDuplicate"
_WORDS = {
    FORBIDDEN: "Forbidden",
    DUPLICATE: "Duplicate value",
    REQUIRED: "Required value",
    INVALID: "Invalid value",
    NOT_SUPPORTED: "Unsupported value",
    TYPE_INVALID: "Invalid value",
    TOO_LONG: "Too long",
    TOO_MANY: "Too many",
}
NO_VALUE: Any = object()  # a field error that shows no value (``field.OmitValueType``)
_NO_VALUE = NO_VALUE
# Errors after which the apiserver does not run a schema's CEL rules (``hasBlockingErr``).
_BLOCKING = frozenset({NOT_SUPPORTED, REQUIRED, TOO_LONG, TOO_MANY, TYPE_INVALID})
RULES_NOT_CHECKED = ("some validation rules were not checked because the object was invalid; "
                     "correct the existing errors to complete validation")


@dataclass(frozen=True)
class FieldError:
    """One ``field.Error``: ``spec.replicas: Invalid value: "string": <detail>``."""

    field: str
    reason: str
    value: Any = _NO_VALUE
    detail: str = ""

    @property
    def body(self) -> str:
        """``ErrorBody()``: the message without the field path (the cause's message)."""
        text = _WORDS[self.reason]
        if self.reason == DUPLICATE:
            text += ": " + _duplicate_value(self.value)
        elif self.reason not in (REQUIRED, TOO_LONG, FORBIDDEN) and self.value is not _NO_VALUE:
            text += ": " + _bad_value(self.value)
        if self.detail:
            text += ": " + self.detail
        return text

    @property
    def message(self) -> str:
        return f"{self.field}: {self.body}"

    def cause(self) -> dict[str, str]:
        return {"reason": self.reason, "message": self.body, "field": self.field}


def _bad_value(value: Any) -> str:
    # ErrorBody: null, %q for strings, %v for simple types, %#v for the rest.
    if value is None:
        return "null"
    if isinstance(value, dict | list | str):
        return go_syntax(value)
    return go_value(value)


def _duplicate_value(value: Any) -> str:
    # A duplicate list-map key is shown as the JSON of its key fields, a set item as %v / %q.
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"), sort_keys=True)
    return go_quote(value) if isinstance(value, str) else go_value(value)


def invalid_message(group_kind: str, name: str, errors: list[FieldError]) -> str:
    """``NewInvalid``'s message: ``Cluster.cluster.x-k8s.io "c1" is invalid: <errors>``."""
    unique = list(dict.fromkeys(e.message for e in errors))
    if not unique:
        return f"{group_kind} {go_quote(name)} is invalid"
    joined = unique[0] if len(unique) == 1 else "[" + ", ".join(unique) + "]"
    return f"{group_kind} {go_quote(name)} is invalid: {joined}"


# --------------------------------------------------------------------------- pruning


def prune(obj: Mapping[str, Any], schema: Schema | None) -> dict[str, Any]:
    """The object without the fields its structural schema does not specify."""
    result = clone(dict(obj))
    root = dict(schema or {})
    root["x-kubernetes-embedded-resource"] = True
    _prune(result, root)
    return result


def _prune(value: Any, schema: Schema | None) -> None:
    if schema is not None and schema.get("x-kubernetes-preserve-unknown-fields"):
        _skip_prune(value, schema)
        return
    if isinstance(value, dict):
        if schema is None:
            value.clear()
            return
        properties = schema.get("properties") or {}
        additional = schema.get("additionalProperties")
        for key in list(value):
            child = value[key]
            if schema.get("x-kubernetes-embedded-resource") and _is_kept_meta(key, child):
                continue
            if key in properties:
                _prune(child, properties[key])
            elif additional is not None and additional is not False:
                _prune(child, additional if isinstance(additional, Mapping) else None)
            else:
                del value[key]
    elif isinstance(value, list):
        items = schema.get("items") if schema is not None else None
        for item in value:
            _prune(item, items if isinstance(items, Mapping) else None)


def _skip_prune(value: Any, schema: Schema) -> None:
    """Under preserve-unknown-fields only the fields the schema does specify are pruned."""
    if isinstance(value, dict):
        properties = schema.get("properties") or {}
        additional = schema.get("additionalProperties")
        for key, child in value.items():
            if schema.get("x-kubernetes-embedded-resource") and key in _META_FIELDS:
                continue
            if key in properties:
                _prune(child, properties[key])
            elif isinstance(additional, Mapping):
                _prune(child, additional)
    elif isinstance(value, list):
        items = schema.get("items")
        if isinstance(items, Mapping):
            for item in value:
                _skip_prune(item, items)


def _is_kept_meta(key: str, value: Any) -> bool:
    if key in ("apiVersion", "kind"):
        return isinstance(value, str)
    return key == "metadata" and isinstance(value, dict)


def prune_nulls(obj: Mapping[str, Any], schema: Schema | None, *, copy: bool = True
                ) -> dict[str, Any]:
    """The object without nulls in fields that are neither nullable nor defaulted.

    ``copy=False`` changes ``obj`` itself (a dict the caller owns) and returns it.
    """
    result = clone(dict(obj)) if copy else obj
    assert isinstance(result, dict)
    _prune_nulls(result, schema or {})
    return result


def _prune_nulls(value: Any, schema: Schema) -> None:
    if isinstance(value, dict):
        properties = schema.get("properties") or {}
        additional = schema.get("additionalProperties")
        for key in list(value):
            child_schema = properties.get(key)
            if child_schema is None and isinstance(additional, Mapping):
                child_schema = additional
            if child_schema is None:
                continue
            if value[key] is None:
                if not child_schema.get("nullable") and "default" not in child_schema:
                    del value[key]
                continue
            _prune_nulls(value[key], child_schema)
    elif isinstance(value, list):
        items = schema.get("items")
        if isinstance(items, Mapping):
            for item in value:
                _prune_nulls(item, items)


# --------------------------------------------------------------------------- defaulting


def apply_defaults(obj: Mapping[str, Any], schema: Schema | None, *, copy: bool = True
                   ) -> dict[str, Any]:
    """The object with the schema's ``default`` values filled in where a field is absent.

    ``copy=False`` changes ``obj`` itself (a dict the caller owns) and returns it.
    """
    result = clone(dict(obj)) if copy else obj
    assert isinstance(result, dict)
    _default(result, schema or {})
    return result


def _non_nullable_null(value: Any, schema: Schema) -> bool:
    return value is None and not schema.get("nullable")


def _default(value: Any, schema: Schema) -> None:
    if isinstance(value, dict):
        properties: Mapping[str, Schema] = schema.get("properties") or {}
        for key, prop in properties.items():
            if "default" not in prop:
                continue
            if key not in value or _non_nullable_null(value[key], prop):
                value[key] = clone(prop["default"])
        additional = schema.get("additionalProperties")
        for key, child in list(value.items()):
            if key in properties:
                _default(child, properties[key])
            elif isinstance(additional, Mapping):
                if _non_nullable_null(child, additional) and "default" in additional:
                    value[key] = clone(additional["default"])
                _default(value[key], additional)
    elif isinstance(value, list):
        items = schema.get("items")
        if not isinstance(items, Mapping):
            return
        for index, item in enumerate(value):
            if _non_nullable_null(item, items) and "default" in items:
                value[index] = clone(items["default"])
            _default(value[index], items)


# --------------------------------------------------------------------------- validation


def validate(obj: Mapping[str, Any], schema: Schema | None) -> list[str]:
    """Messages like ``spec.clusterName: Required value``, empty when the object is valid."""
    return list(dict.fromkeys(e.message for e in validation_errors(obj, schema)))


def validation_errors(obj: Mapping[str, Any], schema: Schema | None) -> list[FieldError]:
    """The field errors of an object against its schema, in kube-openapi's order."""
    if not schema:
        return []
    return list(_validate(dict(obj), schema, ""))


def _field_path(name: str) -> str:
    return name[1:] if name.startswith(".") else name


def _in_body(name: str) -> str:
    return f"{name} in body"


_OPENAPI_TYPES = {
    "null": "null",
    "bool": "boolean",
    "int64": "integer",
    "float64": "number",
    "string": "string",
    "slice": "array",
    "map": "object",
}


def _json_type(value: Any) -> str:
    return _OPENAPI_TYPES[go_kind(value)]


def _types_of(schema: Schema) -> list[str]:
    if schema.get("x-kubernetes-int-or-string"):
        return ["integer", "string"]
    declared = schema.get("type")
    if isinstance(declared, list):
        return [str(t) for t in declared]
    return [str(declared)] if declared else []


def _type_ok(value: Any, types: list[str]) -> bool:
    kind = _json_type(value)
    if kind in types:
        return True
    if kind == "integer" and "number" in types:
        return True
    # A float that is a whole number is an integer to kube-openapi.
    return kind == "number" and "integer" in types and float(value).is_integer()


def _validate(value: Any, schema: Schema, path: str) -> Iterator[FieldError]:
    types = _types_of(schema)
    name = path
    if value is None:
        if types and "null" not in types and not schema.get("nullable"):
            yield _type_error(name, ",".join(types), "null")
        yield from _enum(value, schema, name)
        return
    if types and not _type_ok(value, types):
        yield _type_error(name, ",".join(types), _json_type(value))
        if schema.get("type") == "integer" and isinstance(value, float):
            # The number validator's range check adds its own error, with no field path.
            yield FieldError("<nil>", INVALID, "", "Checked value must be of type integer "
                             f"(default format) in {_field_path(name)}")
    if isinstance(value, str):
        yield from _string(value, schema, name)
        yield from _format(value, schema, name)
    if isinstance(value, int | float) and not isinstance(value, bool):
        yield from _number(value, schema, name)
    if isinstance(value, list):
        yield from _array(value, schema, name)
    yield from _enum(value, schema, name)
    if isinstance(value, dict):
        yield from _object(value, schema, name)


def _type_error(name: str, expected: str, actual: str) -> FieldError:
    detail = f"{_in_body(name)} must be of type {expected}: {go_quote(actual)}"
    return FieldError(_field_path(name), TYPE_INVALID, actual, detail)


def _string(value: str, schema: Schema, name: str) -> Iterator[FieldError]:
    field_path = _field_path(name)
    # kube-openapi's string validator stops at the first of its checks that fails.
    max_length = schema.get("maxLength")
    if isinstance(max_length, int) and len(value) > max_length:
        unit = "byte" if max_length == 1 else "bytes"
        yield FieldError(field_path, TOO_LONG, value, f"may not be more than {max_length} {unit}")
        return
    min_length = schema.get("minLength")
    if isinstance(min_length, int) and len(value) < min_length:
        detail = f"{_in_body(name)} should be at least {min_length} chars long"
        yield FieldError(field_path, INVALID, value, detail)
        return
    pattern = schema.get("pattern")
    if isinstance(pattern, str) and re.search(pattern, value) is None:
        yield FieldError(field_path, INVALID, value, f"{_in_body(name)} should match '{pattern}'")


_DATE_TIME = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})")
_UUID = re.compile(r"(?i)[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}")


def _format_ok(value: str, fmt: str) -> bool:
    if fmt in ("date-time", "datetime"):
        if not _DATE_TIME.fullmatch(value):
            return False
        try:
            datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError:
            return False
        return True
    if fmt == "date":
        try:
            date.fromisoformat(value)
        except ValueError:
            return False
        return True
    if fmt == "uuid":
        return _UUID.fullmatch(value) is not None
    if fmt == "byte":
        try:
            base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            return False
        return True
    return True  # formats kubesim does not check are accepted, never refused


def _format(value: str, schema: Schema, name: str) -> Iterator[FieldError]:
    fmt = schema.get("format")
    if isinstance(fmt, str) and fmt and not _format_ok(value, fmt):
        detail = f"{_in_body(name)} must be of type {fmt}: {go_quote(value)}"
        yield FieldError(_field_path(name), TYPE_INVALID, value, detail)


def _bound(limit: Any, value: int | float) -> str:
    # kube-openapi compares integers as int64 and prints the bound the same way.
    if isinstance(value, int) and float(limit).is_integer():
        return str(int(limit))
    return go_float(float(limit))


def _number(value: int | float, schema: Schema, name: str) -> Iterator[FieldError]:
    field_path = _field_path(name)
    multiple = schema.get("multipleOf")
    if isinstance(multiple, int | float) and multiple > 0 and (value / multiple) % 1 != 0:
        detail = f"{_in_body(name)} should be a multiple of {_bound(multiple, value)}"
        yield FieldError(field_path, INVALID, value, detail)
    maximum = schema.get("maximum")
    if isinstance(maximum, int | float):
        exclusive = bool(schema.get("exclusiveMaximum"))
        if value > maximum or (exclusive and value == maximum):
            word = "less than" if exclusive else "less than or equal to"
            detail = f"{_in_body(name)} should be {word} {_bound(maximum, value)}"
            yield FieldError(field_path, INVALID, value, detail)
    minimum = schema.get("minimum")
    if isinstance(minimum, int | float):
        exclusive = bool(schema.get("exclusiveMinimum"))
        if value < minimum or (exclusive and value == minimum):
            word = "greater than" if exclusive else "greater than or equal to"
            detail = f"{_in_body(name)} should be {word} {_bound(minimum, value)}"
            yield FieldError(field_path, INVALID, value, detail)


def _array(value: list[Any], schema: Schema, name: str) -> Iterator[FieldError]:
    field_path = _field_path(name)
    max_items = schema.get("maxItems")
    if isinstance(max_items, int) and len(value) > max_items:
        noun = "item" if max_items == 1 else "items"
        yield FieldError(field_path, TOO_MANY, len(value), f"must have at most {max_items} {noun}")
    min_items = schema.get("minItems")
    if isinstance(min_items, int) and len(value) < min_items:
        detail = f"{_in_body(name)} should have at least {min_items} items"
        yield FieldError(field_path, INVALID, len(value), detail)
    items = schema.get("items")
    if isinstance(items, Mapping):
        for index, item in enumerate(value):
            yield from _validate(item, items, f"{name}[{index}]")


def _enum_equal(value: Any, allowed: Any) -> bool:
    if isinstance(value, bool) or isinstance(allowed, bool):
        return isinstance(value, bool) and isinstance(allowed, bool) and value == allowed
    if isinstance(value, int | float) and isinstance(allowed, int | float):
        return value == allowed
    return type(value) is type(allowed) and bool(value == allowed)


def _enum(value: Any, schema: Schema, name: str) -> Iterator[FieldError]:
    allowed = schema.get("enum")
    if not isinstance(allowed, list) or not allowed:
        return
    if any(_enum_equal(value, a) for a in allowed):
        return
    words = [a if isinstance(a, str) else json.dumps(a, separators=(",", ":")) for a in allowed]
    detail = "supported values: " + ", ".join(go_quote(w) for w in words)
    yield FieldError(_field_path(name), NOT_SUPPORTED, value, detail)


def _object(value: dict[str, Any], schema: Schema, name: str) -> Iterator[FieldError]:
    field_path = _field_path(name)
    max_properties = schema.get("maxProperties")
    if isinstance(max_properties, int) and len(value) > max_properties:
        noun = "item" if max_properties == 1 else "items"
        detail = f"must have at most {max_properties} {noun}"
        yield FieldError(field_path, TOO_MANY, len(value), detail)
    min_properties = schema.get("minProperties")
    if isinstance(min_properties, int) and len(value) < min_properties:
        detail = f"{_in_body(name)} should have at least {min_properties} properties"
        yield FieldError(field_path, INVALID, len(value), detail)
    properties: Mapping[str, Schema] = schema.get("properties") or {}
    additional = schema.get("additionalProperties")
    if isinstance(additional, Mapping):
        for key in sorted(value):
            if key not in properties:
                yield from _validate(value[key], additional, f"{name}.{key}")
    for key in sorted(properties):
        if key in value:
            child = key if not name else f"{name}.{key}"
            yield from _validate(value[key], properties[key], child)
    for key in schema.get("required") or []:
        if key not in value:
            yield FieldError(_field_path(f"{name}.{key}"), REQUIRED)


# --------------------------------------------------------------------------- list types


def list_type_errors(obj: Mapping[str, Any], schema: Schema | None) -> list[FieldError]:
    """``ValidateListSetsAndMaps``: a ``set`` list holds no item twice, a ``map`` list no key."""
    if not schema:
        return []
    return list(_list_types(obj, schema, ""))


def _list_types(value: Any, schema: Schema, path: str) -> Iterator[FieldError]:
    if isinstance(value, dict):
        properties: Mapping[str, Schema] = schema.get("properties") or {}
        additional = schema.get("additionalProperties")
        for key in sorted(value):
            child = properties.get(key)
            if child is None and isinstance(additional, Mapping):
                child = additional
            if child is not None:
                yield from _list_types(value[key], child, f"{path}.{key}" if path else key)
    elif isinstance(value, list):
        list_type = schema.get("x-kubernetes-list-type")
        keys = schema.get("x-kubernetes-list-map-keys") or []
        seen: set[str] = set()
        reported: set[str] = set()  # each repeated item is reported once, where it repeats
        for index, item in enumerate(value):
            if list_type == "set":
                shown = item
            elif list_type == "map" and isinstance(item, dict):
                shown = {k: item[k] for k in keys if k in item}
            else:
                continue
            identity = json.dumps(shown, sort_keys=True)
            if identity in seen and identity not in reported:
                yield FieldError(f"{path}[{index}]", DUPLICATE, shown)
                reported.add(identity)
            seen.add(identity)
        items = schema.get("items")
        if isinstance(items, Mapping):
            for index, item in enumerate(value):
                yield from _list_types(item, items, f"{path}[{index}]")


# --------------------------------------------------------------------------- all of it


def blocks_rules(reason: str) -> bool:
    """Whether an error of this cause type keeps the apiserver from running CEL rules."""
    return reason in _BLOCKING
