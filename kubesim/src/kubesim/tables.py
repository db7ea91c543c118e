"""``meta.k8s.io/v1`` Table responses, which ``kubectl get`` asks for (server-side printing)."""

from __future__ import annotations

import calendar
import re
import time
from typing import Any

from kubesim.registry import PrinterColumn, ResourceType

Json = dict[str, Any]

_NAME = {"name": "Name", "type": "string", "format": "name", "priority": 0,
         "description": "Name must be unique within a namespace. Is required when creating "
                        "resources, although some resources may allow a client to request the "
                        "generation of an appropriate name automatically. Name is primarily "
                        "intended for creation idempotence and configuration definition. Cannot "
                        "be updated. More info: https://kubernetes.io/docs/concepts/overview/"
                        "working-with-objects/names#names"}
_AGE = {"name": "Age", "type": "date", "format": "", "priority": 0,
        "description": "CreationTimestamp is a timestamp representing the server time when "
                       "this object was created. It is not guaranteed to be set in happens-before "
                       "order across separate operations. Clients may not set this value. It is "
                       "represented in RFC3339 form and is in UTC."}

_AGE_COLUMN = [("Age", "date")]
_CREATED_AT = [("Created At", "date")]
_BUILTIN_COLUMNS: dict[str, list[tuple[str, str]]] = {
    # kind -> (name, type) columns after Name, as the apiserver's printers define them
    "Secret": [("Type", "string"), ("Data", "string"), *_AGE_COLUMN],
    "ConfigMap": [("Data", "string"), *_AGE_COLUMN],
    "Namespace": [("Status", "string"), *_AGE_COLUMN],
    "ServiceAccount": [("Secrets", "string"), *_AGE_COLUMN],
    "CustomResourceDefinition": _CREATED_AT,
    "Role": _CREATED_AT,
    "ClusterRole": _CREATED_AT,
    "RoleBinding": [("Role", "string"), *_AGE_COLUMN],
    "ClusterRoleBinding": [("Role", "string"), *_AGE_COLUMN],
    "Pod": [("Status", "string"), *_AGE_COLUMN],
}


def human_duration(seconds: float) -> str:
    """``duration.HumanDuration``, as kubectl prints ages."""
    s = int(seconds)
    if s < 0:
        return "<invalid>"
    if s < 120:
        return f"{s}s"
    minutes = s // 60
    if minutes < 10:
        return f"{minutes}m{s % 60}s" if s % 60 else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    hours = s // 3600
    if hours < 8:
        return f"{hours}h{minutes % 60}m" if minutes % 60 else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        return f"{hours // 24}d{hours % 24}h" if hours % 24 else f"{hours // 24}d"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    return f"{hours // (24 * 365)}y{(hours // 24) % 365}d"


def _age(timestamp: str | None) -> str:
    if not timestamp:
        return "<unknown>"
    try:
        then = calendar.timegm(time.strptime(timestamp, "%Y-%m-%dT%H:%M:%SZ"))
    except ValueError:
        return "<unknown>"
    return human_duration(time.time() - then)


_FILTER = re.compile(r"\[\?\(@\.([\w.-]+)\s*==\s*[\"']([^\"']*)[\"']\)\]")


def json_path(obj: Any, path: str) -> Any:
    """The subset of JSONPath printer columns use: ``.a.b``, ``.a[0]``, ``.a[?(@.k=="v")].b``."""
    path = path.strip().removeprefix("{").removesuffix("}").strip()
    current: Any = obj
    for part in re.findall(r"\[\?\([^]]*\)\]|\[\d+\]|[^.\[\]]+", path):
        if current is None:
            return None
        filtered = _FILTER.fullmatch(part)
        if filtered:
            key, value = filtered.groups()
            current = next((item for item in current or []
                            if isinstance(item, dict) and str(json_path(item, "." + key)) ==
                            value), None) if isinstance(current, list) else None
        elif part.startswith("["):
            index = int(part[1:-1])
            current = current[index] if isinstance(current, list) and index < len(current) \
                else None
        else:
            current = current.get(part) if isinstance(current, dict) else None
    return current


def _cell(column: PrinterColumn, obj: Json) -> Any:
    value = json_path(obj, column.json_path)
    if value is None:
        return None
    if column.type == "date":
        return _age(str(value))
    if isinstance(value, (dict, list)):
        return str(value)
    return value


def table(rt: ResourceType, version: str, objects: list[Json], list_meta: Json,
          include_object: str) -> Json:
    """A Table of ``objects``; ``include_object`` is None, Metadata (default) or Object."""
    columns: list[Json]
    cells_of: Any
    printer = rt.printer_columns.get(version) if not rt.builtin else None
    if printer:
        columns = [_NAME] + [{"name": c.name, "type": c.type, "format": c.format,
                              "description": c.description, "priority": c.priority}
                             for c in printer]

        def cells_of(obj: Json) -> list[Any]:
            return [obj["metadata"]["name"]] + [_cell(c, obj) for c in printer]
    else:
        extra = _BUILTIN_COLUMNS.get(rt.kind, _AGE_COLUMN) if rt.builtin else _AGE_COLUMN
        columns = [_NAME] + [_AGE if n == "Age" else {"name": n, "type": t, "format": "",
                                                       "description": "", "priority": 0}
                             for n, t in extra]

        def cells_of(obj: Json) -> list[Any]:
            return [obj["metadata"]["name"]] + [_builtin_cell(n, obj) for n, _ in extra]
    rows = []
    for obj in objects:
        row: Json = {"cells": cells_of(obj)}
        if include_object == "Object":
            row["object"] = obj
        elif include_object != "None":
            row["object"] = {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                             "metadata": obj["metadata"]}
        rows.append(row)
    return {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": list_meta,
            "columnDefinitions": columns, "rows": rows}


def _builtin_cell(column: str, obj: Json) -> Any:
    if column == "Age":
        return _age(obj["metadata"].get("creationTimestamp"))
    if column == "Role":
        ref = obj.get("roleRef") or {}
        return f"{ref.get('kind', '')}/{ref.get('name', '')}"
    if column == "Data":
        return len(obj.get("data") or {}) + len(obj.get("binaryData") or {})
    if column == "Type":
        return obj.get("type", "")
    if column == "Status":
        return (obj.get("status") or {}).get("phase", "")
    if column == "Secrets":
        return len(obj.get("secrets") or [])
    if column == "Created At":
        return obj["metadata"].get("creationTimestamp", "")
    return ""
