"""Label and field selectors as LIST and WATCH accept them (``k8s.io/apimachinery/pkg/labels``)."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from kubesim import status

Json = dict[str, Any]

_TOKEN = re.compile(r"\s*(\(|\)|,|!=|==|=|!|[^\s(),!=]+)")


@dataclass(frozen=True)
class Requirement:
    key: str
    op: str  # "=", "!=", "in", "notin", "exists", "!"
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        present = self.key in labels
        if self.op == "exists":
            return present
        if self.op == "!":
            return not present
        if self.op in ("=", "in"):
            return present and labels[self.key] in self.values
        # != and notin also match objects without the label, as in the apiserver
        return not present or labels[self.key] not in self.values


LabelSelector = tuple[Requirement, ...]


def _tokens(text: str) -> list[str]:
    out: list[str] = []
    pos = 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match:
            if text[pos:].strip():
                raise status.bad_request(f"unable to parse requirement: found '{text[pos:]}'")
            break
        out.append(match.group(1))
        pos = match.end()
    return out


def parse_labels(text: str) -> LabelSelector:
    """Parse ``a=b,c!=d,e in (f,g),!h,i``; a malformed selector is 400 BadRequest."""
    tokens = _tokens(text)
    requirements: list[Requirement] = []
    i = 0

    def fail(why: str) -> status.ApiError:
        return status.bad_request(f"unable to parse requirement: {why}")

    while i < len(tokens):
        if tokens[i] == "!":
            if i + 1 >= len(tokens):
                raise fail("found '', expected: identifier")
            requirements.append(Requirement(tokens[i + 1], "!"))
            i += 2
        else:
            key = tokens[i]
            if key in ("(", ")", ",", "=", "==", "!="):
                raise fail(f"found '{key}', expected: !, identifier, or 'end of string'")
            i += 1
            op = tokens[i] if i < len(tokens) else ","
            if op == ",":
                requirements.append(Requirement(key, "exists"))
            elif op in ("=", "==", "!="):
                value = tokens[i + 1] if i + 1 < len(tokens) else ""
                if value in (",", "(", ")"):
                    value = ""
                    i += 1
                else:
                    i += 2
                requirements.append(Requirement(key, "!=" if op == "!=" else "=", (value,)))
            elif op in ("in", "notin"):
                if i + 1 >= len(tokens) or tokens[i + 1] != "(":
                    raise fail("found '', expected: '('")
                i += 2
                values: list[str] = []
                while i < len(tokens) and tokens[i] != ")":
                    if tokens[i] != ",":
                        values.append(tokens[i])
                    i += 1
                if i >= len(tokens):
                    raise fail("found '', expected: ')'")
                i += 1
                requirements.append(Requirement(key, op, tuple(values)))
            else:
                raise fail(f"found '{op}', expected: in, notin, =, ==, !=, gt, lt")
        if i < len(tokens):
            if tokens[i] != ",":
                raise fail(f"found '{tokens[i]}', expected: ',' or 'end of string'")
            i += 1
    for req in requirements:
        if req.key.startswith("-") or not req.key:
            raise fail(f"invalid label key \"{req.key}\"")
    return tuple(requirements)


def labels_match(selector: LabelSelector, obj: Json) -> bool:
    if not selector:
        return True
    labels = (obj.get("metadata") or {}).get("labels") or {}
    return all(req.matches(labels) for req in selector)


FieldSelector = tuple[tuple[str, bool, str], ...]  # (field, equal?, value)

_FIELD_GETTERS: dict[str, Callable[[Json], str]] = {
    "metadata.name": lambda o: str(o["metadata"].get("name", "")),
    "metadata.namespace": lambda o: str(o["metadata"].get("namespace", "")),
    "type": lambda o: str(o.get("type", "")),
    "status.phase": lambda o: str((o.get("status") or {}).get("phase", "")),
    "spec.nodeName": lambda o: str((o.get("spec") or {}).get("nodeName", "")),
}


def parse_fields(text: str, supported: tuple[str, ...]) -> FieldSelector:
    """Parse ``metadata.name=x,metadata.namespace!=y``; unknown fields are 400, as on the
    apiserver."""
    out: list[tuple[str, bool, str]] = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        op = next((o for o in ("!=", "==", "=") if o in part), None)
        if op is None:
            raise status.bad_request(f"invalid selector: '{text}'; can't understand '{part}'")
        field, _, value = part.partition(op)
        equal = op != "!="
        field = field.strip()
        if field not in supported:
            raise status.bad_request(f"field label not supported: {field}")
        out.append((field, equal, value.strip()))
    return tuple(out)


def fields_match(selector: FieldSelector, obj: Json) -> bool:
    return all((_FIELD_GETTERS[f](obj) == v) == equal for f, equal, v in selector)
