"""What an unquoted YAML scalar, or a JSON number, may be in a bundle: only what every reader
reads the same way.

Three readers meet a bundle: movekit itself (PyYAML, YAML 1.1), kubectl and the Go tooling of
Kubernetes (``sigs.k8s.io/yaml``, a YAML 1.1 dialect of its own) and any YAML 1.2 reader a
reviewer may use. They disagree on unquoted scalars: ``yes`` and ``on`` are booleans to the
first two and strings to YAML 1.2, ``y`` is a boolean to Go only, ``0755`` is 493 to YAML 1.1
and 755 to YAML 1.2, ``1e3`` a number to Go and YAML 1.2 but a string to PyYAML, ``1:20`` is 80
to PyYAML alone, ``2001-01-01`` a date to some, ``<<`` merges mappings in Go. A bundle carries
what a JSON document could say, and a reviewer must see what is imported, so an unquoted
scalar is accepted only when it is a string to all of them, or a number, boolean or null
written as JSON writes it; anything else must be quoted. JSON numbers must fit what the API
server keeps: 64-bit integers and 64-bit floats that hold the written value exactly.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal
from typing import Any

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1

# The tags PyYAML's resolvers give unquoted scalars (movekit's resolvers never give the rest).
STR_TAG = "tag:yaml.org,2002:str"
NULL_TAG = "tag:yaml.org,2002:null"
BOOL_TAG = "tag:yaml.org,2002:bool"
INT_TAG = "tag:yaml.org,2002:int"
FLOAT_TAG = "tag:yaml.org,2002:float"

# Numbers as JSON writes them, in the forms PyYAML also reads as numbers (a float needs its
# '.', an exponent its sign: JSON's 1e3 is a string to PyYAML, and refused below).
_JSON_INT = re.compile(r"-?(?:0|[1-9][0-9]*)\Z")
_JSON_FLOAT = re.compile(r"-?(?:0|[1-9][0-9]*)\.[0-9]+(?:[eE][-+][0-9]+)?\Z")
_NOT_FINITE = re.compile(r"[-+]?\.(?:inf|nan)\Z", re.IGNORECASE)

# Strings to PyYAML that another reader takes for something else: Go's booleans (y, n) and
# merge key, YAML 1.1's value key (=), dates (PyYAML's own timestamps, which movekit reads as
# strings), and every number of Go or YAML 1.2 (Go drops '_' before it looks). Case-insensitive
# words and a leading-digit date are broader than any reader: quoting costs nothing.
_OTHER_READERS_WORDS = re.compile(r"(?:y|n|yes|no|on|off|true|false|null|~|<<|=)\Z",
                                  re.IGNORECASE)
_OTHER_READERS_NUMBER = re.compile(
    r"""[-+]?(?:
          (?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?   # Go and YAML 1.2 decimals
        | 0[xX][0-9a-fA-F]+ | 0[oO][0-7]+ | 0[bB][01]+           # Go and YAML 1.2 prefixes
        )\Z
      | [0-9]{4}-[0-9]{1,2}-[0-9]{1,2}(?:[Tt\ ].*)?\Z            # dates and times
    """,
    re.VERBOSE | re.DOTALL,
)
_NUMBER_START = frozenset("0123456789+-.")


class Refused:
    """Why an unquoted scalar is refused: ``problem`` completes "<the scalar> ..."."""

    __slots__ = ("problem",)

    def __init__(self, problem: str) -> None:
        self.problem = problem


_READ_OTHERWISE = Refused("is a string here but a boolean, number, date or merge key to other "
                          "YAML readers (Go's, YAML 1.2); quote it")
_YAML11_BOOLEAN = Refused("is a boolean to YAML 1.1 but a string to YAML 1.2; write true or "
                          "false, or quote it")
_NOT_JSON_INT = Refused("is an integer not written as JSON writes it (octal, hexadecimal, "
                        "binary, sexagesimal, '_' or '+' read differently by YAML 1.1 and 1.2); "
                        "write it in decimal, or quote it")
_NOT_JSON_FLOAT = Refused("is a number not written as JSON writes it (readers differ on its "
                          "value); write it as 1.5 or 1.5e+3, or quote it")
_INFINITE = Refused("is infinity or NaN (or too large for a 64-bit float), which JSON cannot "
                     "say")
_WIDE_INT = Refused("is an integer beyond 64 bits, which the API server cannot hold")
_INEXACT_FLOAT = Refused("is a number a 64-bit float cannot hold exactly; readers would see "
                         "another value")


def plain_scalar(text: str, tag: str) -> Any:
    """The value of an unquoted scalar ``text`` that PyYAML (with movekit's resolvers) tags
    ``tag``, or a :class:`Refused` saying why no reader may be trusted to read it so."""
    if tag == STR_TAG:
        if text and text[0] in _NUMBER_START:
            if _OTHER_READERS_NUMBER.match(text.replace("_", "")):
                return _READ_OTHERWISE
        elif _OTHER_READERS_WORDS.match(text):
            return _READ_OTHERWISE
        return text
    if tag == NULL_TAG:
        return None  # ~, null, Null, NULL and nothing: null to every reader
    if tag == BOOL_TAG:
        lowered = text.lower()
        if lowered in ("true", "false"):  # and True, TRUE: the same to every reader
            return lowered == "true"
        return _YAML11_BOOLEAN
    if tag == INT_TAG:
        if not _JSON_INT.match(text):
            return _NOT_JSON_INT
        return json_int(text)
    if tag == FLOAT_TAG:
        if _NOT_FINITE.match(text):
            return _INFINITE
        if not _JSON_FLOAT.match(text):
            return _NOT_JSON_FLOAT
        return json_float(text)
    return Refused(f"resolves to {tag}, which JSON cannot say; quote it")


def json_int(text: str) -> Any:
    """The integer ``text`` (decimal digits), or :class:`Refused` beyond 64 bits."""
    if len(text) > 20:
        return _WIDE_INT
    value = int(text)
    return value if INT64_MIN <= value <= INT64_MAX else _WIDE_INT


def json_float(text: str) -> Any:
    """The float ``text`` (a JSON number with a fraction or exponent), or :class:`Refused`
    when a 64-bit float does not hold exactly the value written (too many digits, overflow to
    infinity, underflow to zero)."""
    value = float(text)
    if math.isinf(value):
        return _INFINITE
    # The shortest repr is the float's exact decimal meaning; "0.10" and "1.0e+3" say the same.
    if Decimal(text) != Decimal(repr(value)):
        return _INEXACT_FLOAT
    return value


def writable_number(value: int | float) -> None:
    """ValueError unless a reader would read ``value`` back as it is."""
    if isinstance(value, bool):
        return
    if isinstance(value, int):
        if not INT64_MIN <= value <= INT64_MAX:
            raise ValueError(f"integer {value} is beyond 64 bits and cannot be written to a "
                             "bundle")
    elif not math.isfinite(value):
        raise ValueError(f"{value} cannot be written to a bundle: JSON has no such number")
