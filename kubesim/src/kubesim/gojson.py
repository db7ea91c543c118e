"""JSON request bodies read as the apiserver reads them: Go's ``encoding/json``, not Python's.

Python's ``json`` accepts ``NaN``, ``Infinity`` and ``-Infinity`` (and ``json.dumps`` writes
them); Go refuses them as syntax errors. ``loads`` refuses what Go refuses, and its errors carry
Go's message (``invalid character 'N' looking for beginning of value``), found by running Go's
scanner state machine over the body once Python's parser has failed.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

_SPACE = b" \t\r\n"
_DIGITS = b"0123456789"
_HEX = b"0123456789abcdefABCDEF"
_ESCAPES = b'bfnrt\\/"'
_UNMARSHAL_KINDS = {list: "array", str: "string", int: "number", float: "number", bool: "bool"}
# The struct ``SimpleMetaFactory.Interpret`` decodes a body into to find its apiVersion and kind.
TYPE_META_STRUCT = ('struct { APIVersion string "json:\\"apiVersion,omitempty\\""; '
                    'Kind string "json:\\"kind,omitempty\\"" }')


class GoSyntaxError(ValueError):
    """A body ``encoding/json`` would refuse; ``str()`` is Go's message."""


class GoRangeError(ValueError):
    """A number too large for a float64 (``1e999``): ``json: cannot unmarshal number ...``."""

    def __init__(self, literal: str) -> None:
        super().__init__(f"json: cannot unmarshal number {literal} into Go value of type float64")
        self.literal = literal


def loads(data: bytes | str) -> Any:
    """The decoded document, refused exactly where Go's decoder refuses it."""
    raw = data.encode() if isinstance(data, str) else data
    if raw.startswith(b"\xef\xbb\xbf"):  # Python skips a byte-order mark; Go does not
        raise GoSyntaxError(syntax_error(raw) or "invalid JSON")
    try:
        return json.loads(raw, parse_constant=_refuse_constant, parse_float=_finite_float)
    except GoRangeError:
        raise
    except ValueError:
        raise GoSyntaxError(syntax_error(raw) or "invalid JSON") from None


def _refuse_constant(name: str) -> Any:
    raise ValueError(name)


def _finite_float(literal: str) -> float:
    value = float(literal)
    if math.isinf(value):
        raise GoRangeError(literal)
    return value


def unmarshal_kind(value: Any) -> str:
    """What ``json: cannot unmarshal <kind> into ...`` names a decoded value."""
    return _UNMARSHAL_KINDS.get(type(value), "object")


def summarize(data: bytes, limit: int = 30) -> str:
    """``summarizeData``: the head of a JSON object body, else its bytes in hex."""
    if not data:
        return "<empty>"
    head = data[:limit]
    suffix = " ..." if len(data) > limit else ""
    if data[:1] == b"{":
        return head.decode(errors="replace") + suffix
    return head.hex() + suffix


def _quote_char(c: int) -> str:
    """``quoteChar``: the offending byte as Go prints it, in single quotes."""
    if c == ord("'"):
        return "'\\''"
    if c == ord('"'):
        return "'\"'"
    named = {7: "\\a", 8: "\\b", 9: "\\t", 10: "\\n", 11: "\\v", 12: "\\f", 13: "\\r"}
    if c in named:
        return f"'{named[c]}'"
    if c < 0x20 or c == 0x7F:
        return f"'\\x{c:02x}'"
    if 0x80 <= c <= 0xA0 or c == 0xAD:
        return f"'\\u{c:04x}'"
    return f"'{chr(c)}'"


class _Scanner:
    """``encoding/json``'s scanner, reduced to finding the first error and its message."""

    def __init__(self) -> None:
        self.step: Callable[[int], None] = self.begin_value
        self.stack: list[str] = []  # "key", "value" (in an object), "array"
        self.done = False

    def fail(self, c: int, context: str) -> None:
        raise GoSyntaxError(f"invalid character {_quote_char(c)} {context}")

    # ------------------------------------------------------------ values

    def begin_value_or_empty(self, c: int) -> None:
        if c in _SPACE:
            return
        if c == ord("]"):
            self.end_value(c)
            return
        self.begin_value(c)

    def begin_value(self, c: int) -> None:
        if c in _SPACE:
            return
        if c == ord("{"):
            self.stack.append("key")
            self.step = self.begin_string_or_empty
        elif c == ord("["):
            self.stack.append("array")
            self.step = self.begin_value_or_empty
        elif c == ord('"'):
            self.step = self.in_string
        elif c == ord("-"):
            self.step = self.negative
        elif c == ord("0"):
            self.step = self.zero
        elif c in b"123456789":
            self.step = self.one
        elif c in b"tfn":
            literal = {ord("t"): "true", ord("f"): "false", ord("n"): "null"}[c]
            self.step = self.literal(literal, 1)
        else:
            self.fail(c, "looking for beginning of value")

    def begin_string_or_empty(self, c: int) -> None:
        if c in _SPACE:
            return
        if c == ord("}"):
            self.stack[-1] = "value"
            self.end_value(c)
            return
        self.begin_string(c)

    def begin_string(self, c: int) -> None:
        if c in _SPACE:
            return
        if c == ord('"'):
            self.step = self.in_string
            return
        self.fail(c, "looking for beginning of object key string")

    def end_value(self, c: int) -> None:
        if not self.stack:
            self.step = self.end_top
            self.end_top(c)
            return
        if c in _SPACE:
            self.step = self.end_value
            return
        top = self.stack[-1]
        if top == "key":
            if c == ord(":"):
                self.stack[-1] = "value"
                self.step = self.begin_value
                return
            self.fail(c, "after object key")
        elif top == "value":
            if c == ord(","):
                self.stack[-1] = "key"
                self.step = self.begin_string
                return
            if c == ord("}"):
                self.stack.pop()
                self.step = self.end_value
                if not self.stack:
                    self.step = self.end_top
                return
            self.fail(c, "after object key:value pair")
        else:
            if c == ord(","):
                self.step = self.begin_value
                return
            if c == ord("]"):
                self.stack.pop()
                self.step = self.end_value
                if not self.stack:
                    self.step = self.end_top
                return
            self.fail(c, "after array element")

    def end_top(self, c: int) -> None:
        self.done = True
        if c not in _SPACE:
            self.fail(c, "after top-level value")

    # ------------------------------------------------------------ strings

    def in_string(self, c: int) -> None:
        if c == ord('"'):
            self.step = self.end_value
        elif c == ord("\\"):
            self.step = self.in_string_escape
        elif c < 0x20:
            self.fail(c, "in string literal")

    def in_string_escape(self, c: int) -> None:
        if c in _ESCAPES:
            self.step = self.in_string
        elif c == ord("u"):
            self.step = self.in_unicode_escape(4)
        else:
            self.fail(c, "in string escape code")

    def in_unicode_escape(self, left: int) -> Callable[[int], None]:
        def step(c: int) -> None:
            if c not in _HEX:
                self.fail(c, "in \\u hexadecimal character escape")
            self.step = self.in_string if left == 1 else self.in_unicode_escape(left - 1)
        return step

    # ------------------------------------------------------------ numbers and literals

    def negative(self, c: int) -> None:
        if c == ord("0"):
            self.step = self.zero
        elif c in b"123456789":
            self.step = self.one
        else:
            self.fail(c, "in numeric literal")

    def one(self, c: int) -> None:
        if c in _DIGITS:
            return
        self.zero(c)

    def zero(self, c: int) -> None:
        if c == ord("."):
            self.step = self.dot
        elif c in b"eE":
            self.step = self.exponent
        else:
            self.end_value(c)

    def dot(self, c: int) -> None:
        if c in _DIGITS:
            self.step = self.dot_digits
            return
        self.fail(c, "after decimal point in numeric literal")

    def dot_digits(self, c: int) -> None:
        if c in _DIGITS:
            return
        if c in b"eE":
            self.step = self.exponent
            return
        self.end_value(c)

    def exponent(self, c: int) -> None:
        if c in b"+-":
            self.step = self.exponent_sign
            return
        self.exponent_sign(c)

    def exponent_sign(self, c: int) -> None:
        if c in _DIGITS:
            self.step = self.exponent_digits
            return
        self.fail(c, "in exponent of numeric literal")

    def exponent_digits(self, c: int) -> None:
        if c in _DIGITS:
            return
        self.end_value(c)

    def literal(self, word: str, at: int) -> Callable[[int], None]:
        def step(c: int) -> None:
            expected = word[at]
            if c != ord(expected):
                self.fail(c, f"in literal {word} (expecting {_quote_char(ord(expected))})")
            self.step = self.end_value if at + 1 == len(word) else self.literal(word, at + 1)
        return step


def syntax_error(data: bytes) -> str | None:
    """Go's message for the first syntax error in ``data``; None when it is valid JSON."""
    scanner = _Scanner()
    try:
        for c in data:
            scanner.step(c)
        if not scanner.done:
            scanner.step(ord(" "))
    except GoSyntaxError as err:
        return str(err)
    if not scanner.done:
        return "unexpected end of JSON input"
    return None
