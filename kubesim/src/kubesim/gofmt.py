"""Go's fmt renderings of JSON values, so kubesim's messages read like a real apiserver's.

The apiserver builds many error messages with ``%v``, ``%#v`` and ``%q`` of decoded JSON
(``map[string]interface{}``, ``[]interface{}``, ``int64``, ``float64``); clients and tests
compare those strings, so we render Python values the same way.
"""

from __future__ import annotations

import json
import math
from decimal import Decimal
from typing import Any


def go_quote(text: str) -> str:
    """``%q`` of a string (strconv.Quote): double quotes, escapes, printable unicode kept."""
    return json.dumps(text, ensure_ascii=False)


def go_float(number: float) -> str:
    """``%v`` of a float64: shortest round-trip digits, ``%e`` form when exp < -4 or exp >= 6."""
    if math.isinf(number):
        return "+Inf" if number > 0 else "-Inf"
    if math.isnan(number):
        return "NaN"
    if number == 0:
        return "0"
    shortest = Decimal(repr(abs(number))).normalize()
    _, digit_tuple, power = shortest.as_tuple()
    digits = "".join(str(d) for d in digit_tuple)
    exponent = len(digits) - 1 + int(power)
    sign = "-" if number < 0 else ""
    # strconv's 'g' with the shortest precision decides on precision 6.
    if exponent < -4 or exponent >= 6:
        mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return f"{sign}{mantissa}e{'+' if exponent >= 0 else '-'}{abs(exponent):02d}"
    if exponent < 0:
        return f"{sign}0.{'0' * (-exponent - 1)}{digits}"
    if exponent + 1 >= len(digits):
        return f"{sign}{digits}{'0' * (exponent + 1 - len(digits))}"
    return f"{sign}{digits[: exponent + 1]}.{digits[exponent + 1 :]}"


def go_value(value: Any) -> str:
    """``%v`` of a decoded JSON value."""
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return go_float(value)
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        return "map[" + " ".join(f"{k}:{go_value(value[k])}" for k in sorted(value)) + "]"
    if isinstance(value, list):
        return "[" + " ".join(go_value(v) for v in value) + "]"
    return str(value)


def go_syntax(value: Any) -> str:
    """``%#v`` of a decoded JSON value held in an ``interface{}``."""
    if value is None:
        return "interface {}(nil)"
    if isinstance(value, str):
        return go_quote(value)
    if isinstance(value, dict):
        items = ", ".join(f"{go_quote(k)}:{go_syntax(value[k])}" for k in sorted(value))
        return "map[string]interface {}{" + items + "}"
    if isinstance(value, list):
        return "[]interface {}{" + ", ".join(go_syntax(v) for v in value) + "}"
    return go_value(value)


def go_kind(value: Any) -> str:
    """The Go type a decoded JSON value has: bool is not a number, int64 is not float64."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int64"
    if isinstance(value, float):
        return "float64"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "slice"
    return "map"
