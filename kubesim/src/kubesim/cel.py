"""``x-kubernetes-validations``: the CEL rules of a CRD's structural schema, checked as the
apiextensions-apiserver checks them (``apiextensions-apiserver/pkg/apiserver/schema/cel``).

Each rule runs with ``self`` bound to the value at its schema node (typed by the schema, as
the apiserver types it: ``number`` is a double, ``format: date-time`` a timestamp), for every
value present in the object; rules that read ``oldSelf`` (transition rules) run on updates
only, where the old object has a value at the same place. A false result is a field error at
the node (or at the rule's ``fieldPath``), with the rule's ``reason`` and its message,
``messageExpression`` or ``failed rule: <rule>``; an evaluation error is reported the way
cel-go words it. The CEL itself is ``cel-python`` (``celpy``).

Not modelled: the CRD-time compile and cost checks (a rule kubesim cannot compile fails the
objects it guards instead), runtime cost budgets, ``optionalOldSelf`` and validation ratcheting.
"""

from __future__ import annotations

import base64
import binascii
import functools
import re
from collections.abc import Iterator, Mapping
from typing import Any

from kubesim.schema import (
    DUPLICATE,
    FORBIDDEN,
    INVALID,
    NO_VALUE,
    REQUIRED,
    RULES_NOT_CHECKED,
    FieldError,
    Schema,
    blocks_rules,
    list_type_errors,
    validation_errors,
)

_TRANSITION = re.compile(r"\boldSelf\b")
_REASONS = {"FieldValueForbidden": FORBIDDEN, "FieldValueRequired": REQUIRED,
            "FieldValueDuplicate": DUPLICATE, "FieldValueInvalid": INVALID}
_FIELD_PATH_STEP = re.compile(r"\.([A-Za-z_$][A-Za-z0-9_$]*)|\['((?:[^'\\]|\\.)*)'\]|\[(\d+)\]")
_has_rules_cache: dict[int, tuple[Schema, bool]] = {}


def has_rules(schema: Schema | None) -> bool:
    """Whether any node of ``schema`` carries ``x-kubernetes-validations``."""
    if not schema:
        return False
    cached = _has_rules_cache.get(id(schema))
    if cached is not None and cached[0] is schema:
        return cached[1]
    found = _has_rules(schema)
    _has_rules_cache[id(schema)] = (schema, found)  # the schema is kept so its id stays its own
    return found


def _has_rules(schema: Any) -> bool:
    if not isinstance(schema, Mapping):
        return False
    if schema.get("x-kubernetes-validations"):
        return True
    children = list((schema.get("properties") or {}).values())
    children += [schema.get("items"), schema.get("additionalProperties")]
    return any(_has_rules(child) for child in children)


def rule_errors(obj: Mapping[str, Any], schema: Schema, old: Mapping[str, Any] | None = None
                ) -> list[FieldError]:
    """The field errors of every failing rule, ``old`` being the object before an update."""
    return list(_walk(obj, schema, "", old, old is not None))


# --------------------------------------------------------------------------- the walk


def _walk(value: Any, schema: Schema, path: str, old: Any, has_old: bool
          ) -> Iterator[FieldError]:
    if value is None:
        return
    for rule in schema.get("x-kubernetes-validations") or ():
        if isinstance(rule, Mapping):
            yield from _check(rule, value, schema, path, old, has_old)
    if isinstance(value, dict):
        properties: Mapping[str, Schema] = schema.get("properties") or {}
        additional = schema.get("additionalProperties")
        old_map = old if has_old and isinstance(old, dict) else None
        for key in sorted(value):
            child = properties.get(key)
            if child is None and isinstance(additional, Mapping):
                child = additional
            if child is None or (not path and key == "metadata"):
                continue
            child_path = f"{path}.{key}" if path else key
            yield from _walk(value[key], child, child_path, (old_map or {}).get(key),
                             old_map is not None and key in old_map)
    elif isinstance(value, list):
        items = schema.get("items")
        if not isinstance(items, Mapping):
            return
        keyed = _old_items_by_key(schema, old) if has_old else {}
        for index, item in enumerate(value):
            key = _map_key(schema, item)
            found = key is not None and key in keyed
            yield from _walk(item, items, f"{path}[{index}]", keyed.get(key) if found else None,
                             found)


def _map_key(schema: Schema, item: Any) -> tuple[Any, ...] | None:
    """The key of an item of a ``x-kubernetes-list-type: map`` list (only those correlate)."""
    if schema.get("x-kubernetes-list-type") != "map" or not isinstance(item, dict):
        return None
    keys = schema.get("x-kubernetes-list-map-keys") or []
    return tuple(repr(item.get(k)) for k in keys)


def _old_items_by_key(schema: Schema, old: Any) -> dict[tuple[Any, ...] | None, Any]:
    if not isinstance(old, list):
        return {}
    return {key: item for item in old if (key := _map_key(schema, item)) is not None}


# --------------------------------------------------------------------------- one rule


def _check(rule: Mapping[str, Any], value: Any, schema: Schema, path: str, old: Any,
           has_old: bool) -> Iterator[FieldError]:
    text = str(rule.get("rule") or "")
    transition = _TRANSITION.search(text) is not None
    if transition and not has_old:
        return
    activation = {"self": to_cel(value, schema)}
    if transition:
        activation["oldSelf"] = to_cel(old, schema)
    try:
        result = _program(text).evaluate(activation)
    except Exception as err:  # celpy raises its own errors and Python's from inside rules
        detail = f"{_eval_error(err)} evaluating rule: {_rule_message(rule)}"
        yield FieldError(path or "<nil>", INVALID, _type_name(schema, value), detail)
        return
    if not _is_cel_bool(result):
        detail = f"rule did not evaluate to a bool evaluating rule: {_rule_message(rule)}"
        yield FieldError(path or "<nil>", INVALID, _type_name(schema, value), detail)
        return
    if result:
        return
    message = _message(rule, activation)
    reason = _REASONS.get(str(rule.get("reason") or ""), INVALID)
    target = _join_field_path(path, str(rule.get("fieldPath") or ""))
    shown = value if isinstance(value, str | int | float | bool) else NO_VALUE
    if reason in (FORBIDDEN, REQUIRED):
        shown = NO_VALUE
    yield FieldError(target or "<nil>", reason, shown, "" if reason == DUPLICATE else message)


def _is_cel_bool(result: Any) -> bool:
    from celpy import celtypes

    return isinstance(result, celtypes.BoolType)


def _rule_message(rule: Mapping[str, Any]) -> str:
    """``ruleErrorString``: the rule's message, else ``failed rule: <rule>``."""
    message = str(rule.get("message") or "").strip()
    return message or f"failed rule: {str(rule.get('rule') or '').strip()}"


def _message(rule: Mapping[str, Any], activation: dict[str, Any]) -> str:
    expression = str(rule.get("messageExpression") or "")
    if expression:
        try:
            result = _program(expression).evaluate(activation)
        except Exception:  # a failing messageExpression falls back to the message
            result = None
        if isinstance(result, str) and result.strip() and "\n" not in result:
            return result
    return _rule_message(rule)


def _eval_error(err: Exception) -> str:
    """The evaluation error as cel-go words the common ones."""
    args: tuple[Any, ...] = tuple(err.args)
    cause = args[1] if len(args) > 1 else None
    if cause is KeyError:
        found = re.search(r"'([^']*)'", str(args[0]))
        return f"no such key: {found.group(1) if found else args[0]}"
    if cause is IndexError:
        return "index out of bounds"
    if cause is ZeroDivisionError:
        return "division by zero"
    return str(args[0]) if args else str(err)


def _join_field_path(path: str, field_path: str) -> str:
    """The node's path extended by a rule's ``fieldPath`` (``.a.b``, ``['k']``, ``[0]``)."""
    joined = path
    for step in _FIELD_PATH_STEP.finditer(field_path):
        name, key, index = step.groups()
        if name is not None:
            joined = f"{joined}.{name}" if joined else name
        elif key is not None:
            joined = f"{joined}[{key}]"
        else:
            joined = f"{joined}[{index}]"
    return joined


def _type_name(schema: Schema, value: Any) -> str:
    declared = schema.get("type")
    if isinstance(declared, str) and declared:
        return declared
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    return "string" if isinstance(value, str) else "integer"


@functools.lru_cache(maxsize=1024)
def _program(text: str) -> Any:
    import celpy

    environment = celpy.Environment()
    return environment.program(environment.compile(text))


# --------------------------------------------------------------------------- values


def to_cel(value: Any, schema: Schema | None) -> Any:
    """``value`` as a CEL value of the type its schema gives it."""
    from celpy import celtypes
    from celpy.adapter import json_to_cel

    schema = schema or {}
    if value is None:
        return None
    if schema.get("x-kubernetes-preserve-unknown-fields") and not schema.get("properties"):
        return json_to_cel(value)
    if schema.get("x-kubernetes-int-or-string"):
        if isinstance(value, str):
            return celtypes.StringType(value)
        return celtypes.IntType(int(value))
    declared = schema.get("type")
    if isinstance(value, bool):
        return celtypes.BoolType(value)
    if isinstance(value, int | float):
        if declared == "number":
            return celtypes.DoubleType(float(value))
        if isinstance(value, float) and not value.is_integer():
            return celtypes.DoubleType(value)
        return celtypes.IntType(int(value))
    if isinstance(value, str):
        return _string(value, str(schema.get("format") or ""))
    if isinstance(value, list):
        items = schema.get("items")
        return celtypes.ListType(
            [to_cel(v, items if isinstance(items, Mapping) else None) for v in value])
    if isinstance(value, dict):
        properties: Mapping[str, Schema] = schema.get("properties") or {}
        additional = schema.get("additionalProperties")
        converted = {}
        for key, child in value.items():
            child_schema = properties.get(key)
            if child_schema is None and isinstance(additional, Mapping):
                child_schema = additional
            converted[celtypes.StringType(key)] = to_cel(child, child_schema)
        return celtypes.MapType(converted)
    return json_to_cel(value)


def _string(value: str, fmt: str) -> Any:
    from celpy import celtypes

    try:
        if fmt == "byte":
            return celtypes.BytesType(base64.b64decode(value, validate=True))
        if fmt in ("date-time", "datetime", "date"):
            return celtypes.TimestampType(value if fmt != "date" else f"{value}T00:00:00Z")
        if fmt == "duration":
            return celtypes.DurationType(value)
    except (binascii.Error, ValueError, TypeError):
        pass  # a malformed value already failed the format check; CEL sees it as a string
    return celtypes.StringType(value)


def custom_resource_errors(obj: Mapping[str, Any], schema: Schema | None,
                           old: Mapping[str, Any] | None = None, *, blocked: bool = False
                           ) -> list[FieldError]:
    """What the custom resource strategy's ``Validate`` reports from the schema: kube-openapi's
    errors, the list-type invariants, then the CEL rules, which are not run (and a note says
    so) once an error such as a wrong type or a missing field (``blocked``: one from outside
    the schema, in metadata) makes them meaningless."""
    errors = validation_errors(obj, schema) + list_type_errors(obj, schema)
    if not has_rules(schema):
        return errors
    assert schema is not None
    if blocked or any(blocks_rules(e.reason) for e in errors):
        return [*errors, FieldError("<nil>", INVALID, None, RULES_NOT_CHECKED)]
    return errors + rule_errors(obj, schema, old)


