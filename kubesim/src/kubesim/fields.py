"""``metadata.managedFields`` and server-side apply, as ``sigs.k8s.io/structured-merge-diff``
and the apiserver's ``managedfields`` package compute them.

A field set is a set of paths; a path is a tuple of FieldsV1 path elements exactly as they
appear as keys in ``fieldsV1``: ``f:<field>``, ``k:<json object of the key fields>`` for an
item of a list keyed by some fields (``metadata.ownerReferences`` by ``uid``), ``v:<json>``
for an item of a set list (``metadata.finalizers``), ``i:<n>`` for an index.

How the apiserver uses these (and how kubesim's server should call them):

- Every write that is not an apply (create, update, every patch but apply) calls
  ``record_update(old, new, manager, now, subresource)``. ``new`` is the object the request
  produced, *including the managedFields the request carried*: when those are non-empty (and
  the write is not to a subresource) they are taken as the starting point instead of the live
  ones - this is how a client restores field owners with a merge patch. A create is the same
  call with ``old=None``: everything in the object is "added", so the creating manager takes
  every field and any managedFields sent with the create fall away (managers left without
  fields are dropped). Setting ``managedFields: [{}]`` clears them.
- Apply calls ``apply(live, applied, manager, force, now)`` and stores what it returns.
- Neither function validates the object; the server does that after.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from kubesim.gofmt import go_kind, go_quote
from kubesim.jsoncopy import clone
from kubesim.patch import PatchError, json_equal

Path = tuple[str, ...]
FieldSet = set[Path]

UPDATE = "Update"
APPLY = "Apply"

# Paths the apiserver never records (fieldmanager's stripMetaManager).
_STRIPPED: frozenset[Path] = frozenset(
    {
        ("f:apiVersion",),
        ("f:kind",),
        ("f:metadata",),
        *(
            ("f:metadata", f"f:{name}")
            for name in (
                "name",
                "namespace",
                "creationTimestamp",
                "selfLink",
                "uid",
                "clusterName",
                "generation",
                "managedFields",
                "resourceVersion",
            )
        ),
    }
)
_STATUS: Path = ("f:status",)


class ApplyConflict(Exception):
    """Server-side apply refused: other managers own fields whose values would change.

    ``conflicts`` lists ``(".spec.paused", "manager-x")`` pairs; ``message`` and ``causes``
    are what the apiserver puts in its 409 Conflict Status.
    """

    def __init__(
        self, conflicts: list[tuple[str, str]], message: str, causes: list[dict[str, str]]
    ):
        super().__init__(message)
        self.conflicts = conflicts
        self.message = message
        self.causes = causes


# --------------------------------------------------------------------------- field types

_OPEN = "x-kubesim-open-struct"  # unknown keys count as declared fields (partial built-in schemas)
_DEDUCED: Mapping[str, Any] = {"x-kubernetes-preserve-unknown-fields": True}


def _map_list(*keys: str, items: Mapping[str, Any] | None = None) -> dict[str, Any]:
    return {
        "type": "array",
        "x-kubernetes-list-type": "map",
        "x-kubernetes-list-map-keys": list(keys),
        "items": dict(items or {_OPEN: True}),
    }


def _string_map() -> dict[str, Any]:
    return {"type": "object", "additionalProperties": {"type": "string"}}


def _open(**properties: Any) -> dict[str, Any]:
    return {"type": "object", _OPEN: True, "properties": properties}


OBJECT_META_SCHEMA: Mapping[str, Any] = _open(
    labels=_string_map(),
    annotations=_string_map(),
    ownerReferences=_map_list("uid"),
    finalizers={"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "string"}},
    managedFields={"type": "array", "x-kubernetes-list-type": "atomic"},
)
_CONTAINER = _open(
    env=_map_list("name"),
    ports=_map_list("containerPort", "protocol"),
    volumeMounts=_map_list("mountPath"),
)
_POD_SPEC = _open(
    containers=_map_list("name", items=_CONTAINER),
    initContainers=_map_list("name", items=_CONTAINER),
    volumes=_map_list("name"),
    imagePullSecrets=_map_list("name"),
)
_CONDITIONS_STATUS = _open(conditions=_map_list("type"))
_TEMPLATED = _open(template=_open(metadata=OBJECT_META_SCHEMA, spec=_POD_SPEC))

# The few built-in kinds whose list and map types matter to kubesim; other fields default
# to declared struct fields, granular maps and atomic lists.
BUILTIN_SCHEMAS: Mapping[tuple[str, str], Mapping[str, Any]] = {
    ("", "Secret"): _open(data=_string_map(), stringData=_string_map()),
    ("", "ConfigMap"): _open(data=_string_map(), binaryData=_string_map()),
    ("", "Namespace"): _open(status=_CONDITIONS_STATUS),
    ("", "Pod"): _open(spec=_POD_SPEC, status=_CONDITIONS_STATUS),
    ("", "Service"): _open(spec=_open(ports=_map_list("port", "protocol"))),
    ("apps", "Deployment"): _open(spec=_TEMPLATED, status=_CONDITIONS_STATUS),
}

# What ``New()`` of a built-in kind serializes to: struct-typed spec/status are present
# (not omitempty), so creating one never "adds" them.
_EMPTY_OBJECTS: Mapping[tuple[str, str], Mapping[str, Any]] = {
    ("", "Namespace"): {"spec": {}, "status": {}},
    ("", "Pod"): {"spec": {"containers": []}, "status": {}},
    ("", "Service"): {"spec": {}, "status": {"loadBalancer": {}}},
    ("apps", "Deployment"): {
        "spec": {"template": {"metadata": {}, "spec": {"containers": []}}},
        "status": {},
    },
}


@dataclass(frozen=True)
class _Type:
    """The schema of one node: how its maps and lists take part in ownership."""

    schema: Mapping[str, Any] | None  # None: no schema known, an open struct

    def child(self, key: str) -> tuple[_Type, bool]:
        """The type of a map entry and whether it is a declared field (not a map key)."""
        if self.schema is None:
            return _Type(None), True
        properties = self.schema.get("properties") or {}
        if key in properties:
            return _Type(properties[key]), True
        additional = self.schema.get("additionalProperties")
        if isinstance(additional, Mapping):
            return _Type(additional), False
        if self.schema.get(_OPEN):
            return _Type(None), True
        return _Type(_DEDUCED), False

    @property
    def items(self) -> _Type:
        if self.schema is None:
            return _Type(None)
        items = self.schema.get("items")
        return _Type(items if isinstance(items, Mapping) else _DEDUCED)

    @property
    def map_atomic(self) -> bool:
        return self.schema is not None and self.schema.get("x-kubernetes-map-type") == "atomic"

    @property
    def list_type(self) -> str:
        if self.schema is None:
            return "atomic"
        return str(self.schema.get("x-kubernetes-list-type") or "atomic")

    @property
    def list_keys(self) -> tuple[str, ...]:
        if self.schema is None:
            return ()
        return tuple(self.schema.get("x-kubernetes-list-map-keys") or ())


def _root_type(obj: Mapping[str, Any], schema: Mapping[str, Any] | None) -> _Type:
    """The object's type: the CRD schema or a built-in table, with the real ObjectMeta."""
    group, _, _version = str(obj.get("apiVersion", "")).rpartition("/")
    base = schema if schema is not None else BUILTIN_SCHEMAS.get((group, str(obj.get("kind"))))
    root: dict[str, Any] = dict(base or {_OPEN: True})
    properties = dict(root.get("properties") or {})
    properties["metadata"] = OBJECT_META_SCHEMA
    properties.setdefault("apiVersion", {"type": "string"})
    properties.setdefault("kind", {"type": "string"})
    root["properties"] = properties
    return _Type(root)


def _empty_object(obj: Mapping[str, Any]) -> dict[str, Any]:
    group, _, _version = str(obj.get("apiVersion", "")).rpartition("/")
    return clone(dict(_EMPTY_OBJECTS.get((group, str(obj.get("kind"))), {})))


# --------------------------------------------------------------------------- path elements


def _field(name: str) -> str:
    return f"f:{name}"


def _compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _item_element(item: Any, list_type: _Type, index: int) -> str | None:
    """The path element of a list item, or None when the item cannot be keyed."""
    if list_type.list_type == "set":
        if isinstance(item, dict | list):
            return None
        return "v:" + _compact(item)
    if list_type.list_type == "map":
        keys = list_type.list_keys
        if not isinstance(item, dict) or not keys:
            return None
        present = sorted(k for k in keys if k in item)
        if not present or any(k not in item for k in keys if k not in _DEFAULTED_KEYS):
            return None
        return "k:" + _compact({k: item[k] for k in present})
    return f"i:{index}"


# A map key that has a default in its schema may be omitted (protocol defaults to TCP).
_DEFAULTED_KEYS = frozenset({"protocol"})


def _keyed_items(items: list[Any], list_type: _Type) -> list[tuple[str, Any]] | None:
    """Items with their path elements, first occurrence wins; None when not keyable."""
    keyed: list[tuple[str, Any]] = []
    seen: set[str] = set()
    for index, item in enumerate(items):
        element = _item_element(item, list_type, index)
        if element is None:
            return None
        if element not in seen:
            seen.add(element)
            keyed.append((element, item))
    return keyed


def _is_granular_list(value: Any, node: _Type) -> bool:
    return isinstance(value, list) and node.list_type in ("set", "map")


# --------------------------------------------------------------------------- sets


def fieldset_paths(fields_v1: Mapping[str, Any]) -> FieldSet:
    """The member paths of a FieldsV1 document."""
    paths: FieldSet = set()

    def walk(node: Mapping[str, Any], prefix: Path) -> None:
        for key, child in node.items():
            if key == ".":
                paths.add(prefix)
                continue
            path = (*prefix, key)
            if not child:
                paths.add(path)
            else:
                walk(child, path)

    walk(fields_v1, ())
    return paths


def _element_sort_key(element: str) -> tuple[int, Any]:
    rank = {"f": 0, "k": 1, "v": 2, "i": 3}.get(element[:1], 4)
    if rank == 3:
        return rank, (int(element[2:]), "")
    return rank, (0, element[2:])


def fields_v1(paths: Iterable[Path]) -> dict[str, Any]:
    """The FieldsV1 document of a set of paths (``"."`` marks a member that has children)."""
    tree: dict[str, Any] = {}
    members: set[Path] = set()
    for path in paths:
        node = tree
        for element in path:
            node = node.setdefault(element, {})
        members.add(path)

    def emit(node: dict[str, Any], prefix: Path) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if node and prefix in members:
            out["."] = {}
        for element in sorted(node, key=_element_sort_key):
            out[element] = emit(node[element], (*prefix, element))
        return out

    return emit(tree, ())


def fieldset(obj: Mapping[str, Any], *, schema: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """FieldsV1 of the fields an object sets, as an applier of it would own them."""
    return fields_v1(_strip(_to_set(obj, _root_type(obj, schema))))


def _to_set(obj: Mapping[str, Any], root: _Type) -> FieldSet:
    """structured-merge-diff's ``ToFieldSet``."""
    out: FieldSet = set()

    def walk(value: Any, node: _Type, path: Path) -> None:
        if isinstance(value, dict):
            if node.map_atomic:
                out.add(path)
                return
            for key, child in value.items():
                child_type, declared = node.child(key)
                child_path = (*path, _field(key))
                walk(child, child_type, child_path)
                empty_map = isinstance(child, dict) and not child
                if child is None or empty_map or not declared:
                    out.add(child_path)
        elif isinstance(value, list):
            keyed = _keyed_items(value, node) if _is_granular_list(value, node) else None
            if keyed is None:
                out.add(path)
                return
            for element, item in keyed:
                walk(item, node.items, (*path, element))
                out.add((*path, element))
        else:
            out.add(path)

    walk(dict(obj), root, ())
    return out


def _strip(paths: FieldSet) -> FieldSet:
    return {p for p in paths if p not in _STRIPPED}


def _under(path: Path, prefix: Path) -> bool:
    return path[: len(prefix)] == prefix


def _filter_for(subresource: str, status_subresource: bool) -> Callable[[Path], bool]:
    """The paths a write may own: a /status write owns status, a main write everything else."""

    def keep(path: Path) -> bool:
        if subresource == "status":
            return _under(path, _STATUS)
        return not (status_subresource and _under(path, _STATUS))

    return keep


# --------------------------------------------------------------------------- compare

_MISSING: Any = object()


@dataclass
class _Comparison:
    added: FieldSet = field(default_factory=set)
    modified: FieldSet = field(default_factory=set)
    removed: FieldSet = field(default_factory=set)

    def filtered(self, keep: Callable[[Path], bool]) -> _Comparison:
        return _Comparison(
            {p for p in self.added if keep(p) and p not in _STRIPPED},
            {p for p in self.modified if keep(p) and p not in _STRIPPED},
            {p for p in self.removed if keep(p) and p not in _STRIPPED},
        )

    def is_same(self) -> bool:
        return not (self.added or self.modified or self.removed)


def _compare(lhs: Any, rhs: Any, root: _Type) -> _Comparison:
    """structured-merge-diff's ``TypedValue.Compare``: leaves and items added/changed/removed."""
    result = _Comparison()

    def leaf(left: Any, right: Any, path: Path) -> None:
        if left is _MISSING:
            result.added.add(path)
        elif right is _MISSING:
            result.removed.add(path)
        elif not json_equal(left, right):
            result.modified.add(path)

    def item_hook(left: Any, right: Any, path: Path) -> None:
        if left is _MISSING:
            result.added.add(path)
        elif right is _MISSING:
            result.removed.add(path)

    def walk(left: Any, right: Any, node: _Type, path: Path) -> None:
        left_kind, right_kind = _kind(left), _kind(right)
        if left_kind != right_kind and "missing" not in (left_kind, right_kind):
            # Different shapes: a scalar side is a change, container sides gain/lose children.
            if "scalar" in (left_kind, right_kind):
                result.modified.add(path)
            if left_kind != "scalar":
                walk(left, _MISSING, node, path)
            if right_kind != "scalar":
                walk(_MISSING, right, node, path)
            return
        kind = right_kind if right_kind != "missing" else left_kind
        if kind == "scalar":
            leaf(left, right, path)
            return
        both_empty = not _items_of(left) and not _items_of(right)
        if kind == "map":
            if node.map_atomic or both_empty:
                leaf(left, right, path)
                return
            left_map = left if isinstance(left, dict) else {}
            right_map = right if isinstance(right, dict) else {}
            for key in {**left_map, **right_map}:
                child_type, _declared = node.child(key)
                walk(
                    left_map.get(key, _MISSING),
                    right_map.get(key, _MISSING),
                    child_type,
                    (*path, _field(key)),
                )
            item_hook(left, right, path)
            return
        left_items = _keyed_items(left, node) if isinstance(left, list) else []
        right_items = _keyed_items(right, node) if isinstance(right, list) else []
        granular = node.list_type in ("set", "map") and left_items is not None
        if not granular or right_items is None or both_empty:
            leaf(left, right, path)
            return
        left_by = dict(left_items or [])
        right_by = dict(right_items)
        for element in {**left_by, **right_by}:
            walk(
                left_by.get(element, _MISSING),
                right_by.get(element, _MISSING),
                node.items,
                (*path, element),
            )
        item_hook(left, right, path)

    walk(lhs, rhs, root, ())
    return result


def _kind(value: Any) -> str:
    if value is _MISSING:
        return "missing"
    return {"map": "map", "slice": "list"}.get(go_kind(value), "scalar")


def _items_of(value: Any) -> bool:
    return isinstance(value, dict | list) and bool(value)


# --------------------------------------------------------------------------- managers


@dataclass
class ManagedFieldsEntry:
    """One ``metadata.managedFields`` entry with its fields as a set of paths."""

    manager: str
    operation: str
    api_version: str
    time: str | None
    subresource: str
    fields: FieldSet

    @property
    def identity(self) -> tuple[str, str, str, str]:
        # Appliers are one manager across versions; updaters are one per apiVersion.
        version = "" if self.operation == APPLY else self.api_version
        return self.manager, self.operation, version, self.subresource

    def encode(self) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "manager": self.manager,
            "operation": self.operation,
            "apiVersion": self.api_version,
        }
        if self.time is not None:
            entry["time"] = self.time
        entry["fieldsType"] = "FieldsV1"
        entry["fieldsV1"] = fields_v1(self.fields)
        if self.subresource:
            entry["subresource"] = self.subresource
        return entry


class _BadManagedFields(ValueError):
    pass


def parse_managed_fields(entries: Any) -> list[ManagedFieldsEntry]:
    """Decode ``metadata.managedFields``; raises ValueError where the apiserver would refuse."""
    if not isinstance(entries, list):
        raise _BadManagedFields("managedFields must be a list")
    decoded: list[ManagedFieldsEntry] = []
    seen: set[tuple[str, str, str, str]] = set()
    for raw in entries:
        if not isinstance(raw, dict):
            raise _BadManagedFields("managedFields entries must be objects")
        fields_type = raw.get("fieldsType", "")
        document = raw.get("fieldsV1") or {}
        if (fields_type or document) and fields_type != "FieldsV1":
            raise _BadManagedFields(f"invalid fieldsType {fields_type!r}")
        if not isinstance(document, dict):
            raise _BadManagedFields("fieldsV1 must be an object")
        entry = ManagedFieldsEntry(
            manager=str(raw.get("manager", "")),
            operation=str(raw.get("operation", "")),
            api_version=str(raw.get("apiVersion", "")),
            time=raw.get("time"),
            subresource=str(raw.get("subresource", "")),
            fields=fieldset_paths(document),
        )
        if entry.identity in seen:
            raise _BadManagedFields(f"duplicate entry for manager {entry.manager!r}")
        seen.add(entry.identity)
        decoded.append(entry)
    return decoded


def _time_seconds(stamp: str | None) -> float:
    if not stamp:
        return 0.0
    try:
        return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return 0.0


def _encode(managers: list[ManagedFieldsEntry]) -> list[dict[str, Any]]:
    """Entries in the apiserver's order: operation, then time, manager, apiVersion, subresource."""
    ordered = sorted(
        (m for m in managers if m.fields),
        key=lambda m: (
            m.operation,
            int(_time_seconds(m.time)),
            m.manager,
            m.api_version,
            m.subresource,
        ),
    )
    return [m.encode() for m in ordered]


def _managers_from(obj: Mapping[str, Any] | None) -> list[ManagedFieldsEntry]:
    if obj is None:
        return []
    try:
        return parse_managed_fields((obj.get("metadata") or {}).get("managedFields") or [])
    except ValueError:
        return []


def _starting_managers(
    old: Mapping[str, Any] | None, new: Mapping[str, Any], subresource: str
) -> list[ManagedFieldsEntry]:
    """The request's managedFields when it carries valid ones, else the live object's."""
    if not subresource:
        requested = (new.get("metadata") or {}).get("managedFields")
        if requested:
            try:
                return parse_managed_fields(requested)
            except ValueError:
                pass
    return _managers_from(old)


def _without_managed_fields(obj: Mapping[str, Any]) -> dict[str, Any]:
    """``obj`` without managedFields, for reading only: below the top level and metadata it
    shares ``obj``'s values (every caller compares or merges into fresh copies)."""
    copied = dict(obj)
    metadata = copied.get("metadata")
    if isinstance(metadata, dict) and "managedFields" in metadata:
        copied["metadata"] = {k: v for k, v in metadata.items() if k != "managedFields"}
    return copied


# --------------------------------------------------------------------------- update


def record_update(
    old: Mapping[str, Any] | None,
    new: Mapping[str, Any],
    manager: str,
    now: str,
    subresource: str = "",
    operation: str = UPDATE,
    *,
    schema: Mapping[str, Any] | None = None,
    status_subresource: bool = True,
) -> list[dict[str, Any]]:
    """The managedFields to store after a non-apply write of ``new`` over ``old``.

    The writer owns what it added or changed; every manager loses what was changed or
    removed by someone else; managers left with nothing are dropped. ``schema`` is the
    CRD version's openAPIV3Schema (list and map types); ``status_subresource`` says the
    kind has a status subresource, so main-resource writes never own ``.status``.
    """
    managers = _starting_managers(old, new, subresource)
    live = _without_managed_fields(old) if old is not None else _empty_object(new)
    target = _without_managed_fields(new)
    keep = _filter_for(subresource, status_subresource)
    comparison = _compare(live, target, _root_type(target, schema)).filtered(keep)
    if comparison.is_same():
        return _encode(managers)
    taken = comparison.added | comparison.modified
    for entry in managers:
        entry.fields -= taken | comparison.removed
    managers = [m for m in managers if m.fields]
    if taken:
        api_version = str(new.get("apiVersion", ""))
        writer = ManagedFieldsEntry(manager, operation, api_version, now, subresource, set(taken))
        for entry in managers:
            if entry.identity == writer.identity:
                entry.fields |= taken
                entry.time = now
                break
        else:
            managers.append(writer)
    return _encode(managers)


# --------------------------------------------------------------------------- apply


def apply(
    live: Mapping[str, Any] | None,
    applied: Mapping[str, Any],
    manager: str,
    force: bool,
    now: str,
    *,
    schema: Mapping[str, Any] | None = None,
    status_subresource: bool = True,
    subresource: str = "",
) -> dict[str, Any]:
    """Server-side apply of ``applied`` over ``live`` (None: create); the merged object.

    The result carries the new managedFields. Fields this manager applied before and no
    longer applies are removed unless another manager owns them. Raises ApplyConflict
    when another manager owns a field whose value would change (unless ``force``), and
    PatchError (400) when the applied object carries managedFields.
    """
    applied_meta = applied.get("metadata")
    if isinstance(applied_meta, dict) and applied_meta.get("managedFields") is not None:
        raise PatchError(400, "BadRequest", "metadata.managedFields must be nil")
    managers = _managers_from(live)
    live_obj = _without_managed_fields(live) if live is not None else _empty_object(applied)
    config = _without_managed_fields(applied)
    root = _root_type(config, schema)
    keep = _filter_for(subresource, status_subresource)

    merged: dict[str, Any] = _merge(live_obj, config, root)
    identity = (manager, APPLY, "", subresource)
    previous = next((m for m in managers if m.identity == identity), None)
    applied_set = {p for p in _to_set(config, root) if keep(p)}
    if previous is not None:
        last_set = set(previous.fields)
        previous.fields = set(applied_set)
        previous.api_version = str(applied.get("apiVersion", ""))
        applier = previous
    else:
        last_set = set()
        applier = ManagedFieldsEntry(
            manager, APPLY, str(applied.get("apiVersion", "")), now, subresource, set(applied_set)
        )
        managers.append(applier)
    if last_set:
        owned = set().union(*(m.fields for m in managers))
        merged = _prune(merged, last_set, owned, root)

    comparison = _compare(live_obj, merged, root).filtered(keep)
    changed = comparison.added | comparison.modified
    conflicts: list[tuple[ManagedFieldsEntry, Path]] = []
    for entry in managers:
        if entry is applier:
            continue
        conflicts.extend((entry, p) for p in sorted(entry.fields & changed))
    if conflicts and not force:
        raise _conflict_error(conflicts)
    for entry in managers:
        if entry is not applier:
            entry.fields -= changed | comparison.removed
    applier.fields = _strip(applier.fields)
    if not comparison.is_same() or applier.time is None:
        applier.time = now
    result = merged
    result.setdefault("metadata", {})["managedFields"] = _encode(managers)
    return result


def _merge(lhs: Any, rhs: Any, node: _Type) -> Any:
    """structured-merge-diff's merge: the applied value wins, granular maps and lists combine."""
    if isinstance(lhs, dict) and isinstance(rhs, dict) and not node.map_atomic:
        out = clone(lhs)
        for key, value in rhs.items():
            child_type, _declared = node.child(key)
            out[key] = _merge(lhs[key], value, child_type) if key in lhs else clone(value)
        return out
    if isinstance(lhs, list) and isinstance(rhs, list) and node.list_type in ("set", "map"):
        left_items = _keyed_items(lhs, node)
        right_items = _keyed_items(rhs, node)
        if left_items is not None and right_items is not None:
            return _merge_list_items(left_items, right_items, node)
    return clone(rhs)


def _merge_list_items(
    left: list[tuple[str, Any]], right: list[tuple[str, Any]], node: _Type
) -> list[Any]:
    """Keyed list merge in the order structured-merge-diff produces (applied order wins)."""
    left_by = dict(left)
    right_by = dict(right)
    shared = [e for e, _ in right if e in left_by]
    out: list[Any] = []
    li = ri = 0
    next_shared = shared.pop(0) if shared else None
    while li < len(left) or ri < len(right):
        if li < len(left) and ri < len(right):
            element = left[li][0]
            if element == right[ri][0]:
                out.append(_merge(left_by[element], right_by[element], node.items))
                li += 1
                ri += 1
                next_shared = shared.pop(0) if shared else None
                continue
            if element in right_by and next_shared is not None and next_shared != element:
                li += 1
                continue
        if li < len(left) and left[li][0] not in right_by:
            out.append(clone(left[li][1]))
            li += 1
            continue
        if ri < len(right):
            element = right[ri][0]
            if element in left_by:
                out.append(_merge(left_by[element], right_by[element], node.items))
            else:
                out.append(clone(right_by[element]))
            ri += 1
            if next_shared == element:
                next_shared = shared.pop(0) if shared else None
        elif li < len(left):
            li += 1
    return out


def _prune(obj: dict[str, Any], last_set: FieldSet, owned: FieldSet, root: _Type) -> dict[str, Any]:
    """Remove what the applier applied last time, no longer applies, and nobody owns.

    As structured-merge-diff does (EnsureNamedFieldsAreMembers), a struct field above an
    applied path counts as applied and owned too: a struct the applier filled that nobody
    owns anything in any more goes away whole. The object's metadata always stays (every
    applied object names itself).
    """
    candidates = last_set | _named_prefixes(last_set, root)
    kept = owned | _named_prefixes(owned, root) | {("f:metadata",)}
    removed: list[Path] = []
    for path in sorted(candidates, key=len):
        if path in kept or any(_under(path, r) for r in removed):
            continue
        if any(len(o) > len(path) and _under(o, path) for o in owned):
            continue  # someone owns something below it: keep the container
        _remove_path(obj, path, root)
        removed.append(path)
    return obj


def _named_prefixes(paths: FieldSet, root: _Type) -> FieldSet:
    """The proper prefixes of ``paths`` that end in a declared (struct) field."""
    named: FieldSet = set()
    for path in paths:
        node = root
        for depth, element in enumerate(path[:-1], start=1):
            if element.startswith("f:"):
                node, declared = node.child(element[2:])
                if declared:
                    named.add(path[:depth])
            else:
                node = node.items
    return named


def _remove_path(obj: dict[str, Any], path: Path, root: _Type) -> None:
    """Delete the map entry or list item at ``path``, if it is there."""
    container: Any = obj
    node = root
    for depth, element in enumerate(path):
        last = depth == len(path) - 1
        if element.startswith("f:"):
            if not isinstance(container, dict) or element[2:] not in container:
                return
            if last:
                del container[element[2:]]
                return
            node, _declared = node.child(element[2:])
            container = container[element[2:]]
            continue
        if not isinstance(container, list):
            return
        index = next(
            (i for i, item in enumerate(container) if _item_element(item, node, i) == element),
            None,
        )
        if index is None:
            return
        if last:
            del container[index]
            return
        node = node.items
        container = container[index]


def _conflict_error(conflicts: list[tuple[ManagedFieldsEntry, Path]]) -> ApplyConflict:
    pairs = sorted((_path_string(p), e.manager, _manager_display(e)) for e, p in conflicts)
    causes = [
        {"reason": "FieldManagerConflict", "message": f"conflict with {display}", "field": path}
        for path, _manager, display in pairs
    ]
    if len(pairs) == 1:
        path, _manager, display = pairs[0]
        message = f"Apply failed with 1 conflict: conflict with {display}: {path}"
    else:
        lines: list[str] = []
        for display in sorted({d for _p, _m, d in pairs}):
            lines.append(f"conflicts with {display}:")
            lines.extend(f"- {p}" for p, _m, d in pairs if d == display)
        message = f"Apply failed with {len(pairs)} conflicts: " + "\n".join(lines)
    return ApplyConflict([(p, m) for p, m, _d in pairs], message, causes)


def _manager_display(entry: ManagedFieldsEntry) -> str:
    text = go_quote(entry.manager)
    if entry.subresource:
        text += f" with subresource {go_quote(entry.subresource)}"
    if entry.operation == UPDATE:
        text += f" using {entry.api_version}"
    return text


def _path_string(path: Path) -> str:
    """fieldpath.Path.String(): ``.spec.paused``, ``[uid="x"]``, ``[="v"]``, ``[0]``."""
    parts: list[str] = []
    for element in path:
        kind, text = element[:2], element[2:]
        if kind == "f:":
            parts.append("." + text)
        elif kind == "k:":
            keys = json.loads(text)
            parts.append("[" + ",".join(f"{k}={_compact(v)}" for k, v in keys.items()) + "]")
        elif kind == "v:":
            parts.append(f"[={text}]")
        else:
            parts.append(f"[{text}]")
    return "".join(parts)
