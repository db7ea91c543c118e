"""A fast yes to "is this document valid?", for schemas made of a few plain keywords.

jsonschema walks a 30,000-object manifest in tens of seconds. The manifest schema uses only
keywords whose meaning is simple, so :func:`compile_check` turns it into nested closures that
answer in well under a second. The closures are never more lenient than jsonschema: where the
meaning is subtle (1 == 1.0 == True, say) they say no, and the caller asks jsonschema, which
also words the error. A schema with any keyword not handled here does not compile at all.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from functools import cache
from typing import Any

from jsonschema import Draft202012Validator, ValidationError, validators

Check = Callable[[Any], bool]

# Keywords that only annotate; they never make a document invalid.
_ANNOTATIONS = frozenset({"$schema", "$id", "$defs", "title", "description"})
_TYPES: dict[str, Check] = {
    "object": lambda v: type(v) is dict,
    "array": lambda v: type(v) is list,
    "string": lambda v: type(v) is str,
    "boolean": lambda v: type(v) is bool,
    "null": lambda v: v is None,
    "integer": lambda v: type(v) is int,  # jsonschema also takes 1.0: the caller asks it then
    "number": lambda v: type(v) is int or type(v) is float,
}


@cache
def ecma_pattern(pattern: str) -> re.Pattern[str]:
    """``pattern`` as JSON Schema means it (ECMA-262): ``$`` is the end of the text. In Python
    it also matches before a final newline, which would let ``"c1\n"`` pass as a name."""
    out: list[str] = []
    escaped = in_class = False
    for char in pattern:
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == "[":
            in_class = True
        elif char == "]":
            in_class = False
        elif char == "$" and not in_class:
            out.append(r"\Z")
            continue
        out.append(char)
    return re.compile("".join(out))


def _ecma_pattern_keyword(validator: Any, pattern: str, instance: Any,
                          _schema: Mapping[str, Any]) -> Iterator[ValidationError]:
    if validator.is_type(instance, "string") and not ecma_pattern(pattern).search(instance):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


#: Draft 2020-12, with ``pattern`` read as ECMA-262 reads it (see :func:`ecma_pattern`).
Validator: Any = validators.extend(Draft202012Validator, {"pattern": _ecma_pattern_keyword})


class Unsupported(ValueError):
    """The schema uses a keyword this module does not check."""


def compile_check(schema: Mapping[str, Any]) -> Check:
    """A function that is True only for documents valid under ``schema`` (without $refs)."""
    checks: list[Check] = []
    for keyword, value in schema.items():
        if keyword in _ANNOTATIONS:
            continue
        checks.append(_keyword(keyword, value, schema))
    if len(checks) == 1:
        return checks[0]
    return lambda v: all(check(v) for check in checks)


def _keyword(keyword: str, value: Any, schema: Mapping[str, Any]) -> Check:
    if keyword == "type":
        names = [value] if isinstance(value, str) else list(value)
        tests = [_TYPES[name] for name in names]
        return lambda v: any(test(v) for test in tests)
    if keyword == "const":
        return lambda v: type(v) is type(value) and v == value
    if keyword == "enum":
        return lambda v: any(type(v) is type(e) and v == e for e in value)
    if keyword == "pattern":
        search = ecma_pattern(value).search
        return lambda v: type(v) is not str or search(v) is not None
    if keyword == "maxLength":
        return lambda v: type(v) is not str or len(v) <= value
    if keyword == "minLength":
        return lambda v: type(v) is not str or len(v) >= value
    if keyword == "maxItems":
        return lambda v: type(v) is not list or len(v) <= value
    if keyword == "minItems":
        return lambda v: type(v) is not list or len(v) >= value
    if keyword in ("minimum", "maximum"):
        low = keyword == "minimum"
        return lambda v: type(v) not in (int, float) or (v >= value if low else v <= value)
    if keyword == "required":
        names = list(value)
        return lambda v: type(v) is not dict or all(name in v for name in names)
    if keyword == "properties":
        return _properties(value, schema.get("additionalProperties", True))
    if keyword == "additionalProperties":
        if "properties" in schema:
            return lambda v: True  # checked together with the properties
        return _properties({}, value)
    if keyword == "propertyNames":
        check = compile_check(value)
        return lambda v: type(v) is not dict or all(check(k) for k in v)
    if keyword == "items":
        check = compile_check(value)
        return lambda v: type(v) is not list or all(check(item) for item in v)
    if keyword == "uniqueItems":
        if not value:
            return lambda v: True
        # Only strings are compared here: jsonschema's equality of numbers and booleans differs
        # from Python's.
        return lambda v: type(v) is not list or (all(type(i) is str for i in v)
                                                 and len(set(v)) == len(v))
    if keyword == "if":
        # The branch taken must be the one jsonschema takes, so the condition must be exact.
        if not _exact(value):
            raise Unsupported("if (with a condition that is not checked exactly)")
        condition = compile_check(value)
        then = compile_check(schema.get("then", {}))
        otherwise = compile_check(schema.get("else", {}))
        return lambda v: then(v) if condition(v) else otherwise(v)
    if keyword in ("then", "else"):
        return lambda v: True  # checked together with if
    if keyword == "oneOf":
        options = [compile_check(option) for option in value]
        return lambda v: sum(1 for option in options if option(v)) == 1
    raise Unsupported(keyword)


def _properties(properties: Mapping[str, Any], additional: Any) -> Check:
    known = {name: compile_check(sub) for name, sub in properties.items()}
    rest: Check
    if additional is False:
        rest = lambda _value: False  # noqa: E731
    elif additional is True:
        rest = lambda _value: True  # noqa: E731
    else:
        rest = compile_check(additional)

    def check(v: Any) -> bool:
        if type(v) is not dict:
            return True
        for name, item in v.items():
            sub = known.get(name)
            if not (sub(item) if sub is not None else rest(item)):
                return False
        return True

    return check


_EXACT_SCALARS = (str, bool, type(None))


def _exact(schema: Any) -> bool:
    """Whether :func:`compile_check` answers exactly as jsonschema for ``schema`` (not merely
    never more leniently): no integers, numbers or numeric constants, no uniqueness."""
    if not isinstance(schema, Mapping):
        return False
    for keyword, value in schema.items():
        if keyword in _ANNOTATIONS or keyword in ("pattern", "maxLength", "minLength",
                                                   "required", "maxItems", "minItems"):
            continue
        if keyword == "type":
            names = [value] if isinstance(value, str) else list(value)
            if any(name in ("integer", "number") for name in names):
                return False
        elif keyword == "const":
            if type(value) not in _EXACT_SCALARS:
                return False
        elif keyword == "enum":
            if any(type(e) not in _EXACT_SCALARS for e in value):
                return False
        elif keyword in ("properties",):
            if not all(_exact(sub) for sub in value.values()):
                return False
        elif keyword in ("additionalProperties", "items", "propertyNames"):
            if not isinstance(value, bool) and not _exact(value):
                return False
        else:
            return False
    return True
