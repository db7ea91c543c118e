"""PATCH bodies applied the way kube-apiserver applies them.

- ``merge_patch``: RFC 7386 as implemented by ``evanphx/json-patch`` v4 ``MergePatch``.
- ``json_patch``: RFC 6902 as implemented by ``evanphx/json-patch`` v4 ``Patch.Apply``,
  including its quirks (``replace`` of a missing object key adds it, negative array
  indices count from the end, ``copy`` from a missing key copies ``null``).
- ``strategic_merge_patch``: ``apimachinery/pkg/util/strategicpatch`` (v0.36) with the
  patch metadata (``patchStrategy``/``patchMergeKey`` struct tags) of the built-in kinds
  kubesim serves.

Errors carry the HTTP code, reason and message the apiserver answers with; note that a
failed JSON patch operation is a bare 422 whose message does not say which operation
failed (``NewGenericServerResponse`` drops the library's text), which ``detail`` keeps
for debugging.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from kubesim.gofmt import go_kind, go_value
from kubesim.jsoncopy import clone

MAX_JSON_PATCH_OPERATIONS = 10000  # apiserver handlers/patch.go maxJSONPatchOperations

_INVALID_REQUEST = "the server rejected our request due to an error in our request"
_BAD_JSON_PATCH = "Invalid JSON Patch"  # jsonpatch.ErrBadJSONPatch


class PatchError(Exception):
    """A patch the apiserver refuses: ``code``, ``reason`` and ``message`` of its Status."""

    def __init__(self, code: int, reason: str, message: str, detail: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.detail = detail or message


def _invalid(detail: str) -> PatchError:
    # NewGenericServerResponse(422, ...) keeps only its canned message.
    return PatchError(422, "Invalid", _INVALID_REQUEST, detail)


def _bad_request(message: str) -> PatchError:
    return PatchError(400, "BadRequest", message)


def _internal(message: str) -> PatchError:
    # A plain Go error reaching the handler becomes a 500 with an empty reason.
    return PatchError(500, "", message)


# --------------------------------------------------------------------------- JSON values


def json_equal(left: Any, right: Any) -> bool:
    """Equality of decoded JSON values: ``True`` is not ``1``; ``1`` equals ``1.0``."""
    if isinstance(left, bool) or isinstance(right, bool):
        return isinstance(left, bool) and isinstance(right, bool) and left == right
    if isinstance(left, dict) and isinstance(right, dict):
        return left.keys() == right.keys() and all(json_equal(left[k], right[k]) for k in left)
    if isinstance(left, list) and isinstance(right, list):
        return len(left) == len(right) and all(map(json_equal, left, right))
    if isinstance(left, int | float) and isinstance(right, int | float):
        return left == right
    return type(left) is type(right) and bool(left == right)


_JSON_WORDS = {
    "bool": "bool",
    "int64": "number",
    "float64": "number",
    "string": "string",
    "slice": "array",
    "map": "object",
    "null": "null",
}


def _go_json_type_word(value: Any) -> str:
    """The word encoding/json uses in ``cannot unmarshal <word> into Go value``."""
    return _JSON_WORDS[go_kind(value)]


# --------------------------------------------------------------------------- RFC 7386


def merge_patch(target: Any, patch: Any) -> Any:
    """Apply a JSON merge patch to a decoded object; the result may be a non-object."""
    if patch is None or not isinstance(patch, dict | list):
        raise _bad_request(_BAD_JSON_PATCH)
    if isinstance(patch, list):
        # An array patch replaces the document; nulls inside nested objects go away.
        return _prune_array_nulls(clone(patch))
    if not isinstance(target, dict):
        return _prune_doc_nulls(clone(patch))
    result = clone(target)
    _merge_docs(result, clone(patch))
    return result


def _merge_docs(doc: dict[str, Any], patch: dict[str, Any]) -> None:
    for key, value in patch.items():
        if value is None:
            doc.pop(key, None)
            continue
        current = doc.get(key)
        if current is None or not isinstance(current, dict):
            doc[key] = _prune_nulls(value)
        elif not isinstance(value, dict):
            doc[key] = value
        else:
            _merge_docs(current, value)


def _prune_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return _prune_doc_nulls(value)
    if isinstance(value, list):
        return _prune_array_nulls(value)
    return value


def _prune_doc_nulls(doc: dict[str, Any]) -> dict[str, Any]:
    for key in [k for k, v in doc.items() if v is None]:
        del doc[key]
    for value in doc.values():
        _prune_nulls(value)
    return doc


def _prune_array_nulls(items: list[Any]) -> list[Any]:
    # json-patch v4 keeps null array entries and only cleans objects inside them.
    for item in items:
        if item is not None:
            _prune_nulls(item)
    return items


# --------------------------------------------------------------------------- RFC 6902


def json_patch(target: Any, ops: Any) -> Any:
    """Apply an RFC 6902 patch (already decoded JSON) to a decoded document."""
    if ops is None:
        return clone(target)  # "null" decodes to an empty Patch
    if not isinstance(ops, list):
        word = _go_json_type_word(ops)
        raise _bad_request(f"json: cannot unmarshal {word} into Go value of type jsonpatch.Patch")
    for op in ops:
        if op is not None and not isinstance(op, dict):
            raise _bad_request(
                f"json: cannot unmarshal {_go_json_type_word(op)} "
                "into Go value of type jsonpatch.Operation"
            )
    if len(ops) > MAX_JSON_PATCH_OPERATIONS:
        raise PatchError(
            413,
            "RequestEntityTooLarge",
            "Request entity too large: The allowed maximum operations in a JSON patch is "
            f"{MAX_JSON_PATCH_OPERATIONS}, got {len(ops)}",
        )
    document = clone(target)
    root = _Root(document)
    for op in ops:
        _apply_operation(root, op or {})
    return root.value


class _Root:
    """Holder so operations can treat the document like any container."""

    def __init__(self, value: Any) -> None:
        self.value = value


def _op_string(op: Mapping[str, Any], name: str, what: str) -> str:
    value = op.get(name)
    if value is None:
        raise _invalid(f"{what}: missing value")
    if not isinstance(value, str):
        raise _invalid(
            f"json: cannot unmarshal {_go_json_type_word(value)} into Go value of type string"
        )
    return value


def _decode_key(key: str) -> str:
    return key.replace("~1", "/").replace("~0", "~")


_INDEX = re.compile(r"[+-]?[0-9]+")


def _index(key: str) -> int:
    if not _INDEX.fullmatch(key):
        raise _invalid(f'strconv.Atoi: parsing "{key}": invalid syntax')
    return int(key)


def _find_container(root: _Root, path: str) -> tuple[Any, str] | None:
    """json-patch v4 ``findObject``: the parent container of ``path`` and the last key."""
    split = path.split("/")
    if len(split) < 2:
        return None
    container: Any = root.value
    for part in split[1:-1]:
        key = _decode_key(part)
        if isinstance(container, dict):
            child = container.get(key)
        elif isinstance(container, list):
            try:
                index = _index(key)
            except PatchError:
                return None
            if index < 0 or index >= len(container):
                return None
            child = container[index]
        else:
            return None
        if not isinstance(child, dict | list):
            return None
        container = child
    if not isinstance(container, dict | list):
        return None
    return container, _decode_key(split[-1])


def _get(container: Any, key: str) -> Any:
    if isinstance(container, dict):
        return container.get(key)  # a missing key reads as null, not as an error
    index = _index(key)
    if index < 0 or index >= len(container):
        raise _invalid(f"Unable to access invalid index: {index}: invalid index referenced")
    return container[index]


def _add(container: Any, key: str, value: Any) -> None:
    if isinstance(container, dict):
        container[key] = value
        return
    if key == "-":
        container.append(value)
        return
    index = _index(key)
    size = len(container) + 1
    if index >= size or index < -size:
        raise _invalid(f"Unable to access invalid index: {index}: invalid index referenced")
    if index < 0:
        index += size
    container.insert(index, value)


def _remove(container: Any, key: str) -> None:
    if isinstance(container, dict):
        if key not in container:
            raise _invalid(f"Unable to remove nonexistent key: {key}: missing value")
        del container[key]
        return
    index = _index(key)
    if index >= len(container) or index < -len(container):
        raise _invalid(f"Unable to access invalid index: {index}: invalid index referenced")
    del container[index]


def _apply_operation(root: _Root, op: Mapping[str, Any]) -> None:
    kind = op.get("op")
    kind = kind if isinstance(kind, str) else "unknown"
    value = clone(op.get("value"))
    if kind in ("add", "remove", "replace", "test"):
        path = _op_string(op, "path", f"{kind} operation failed to decode path")
        found = _find_container(root, path)
        if found is None:
            raise _invalid(f'{kind} operation does not apply: doc is missing path: "{path}"')
        container, key = found
        if kind == "add":
            _add(container, key, value)
        elif kind == "remove":
            _remove(container, key)
        elif kind == "replace":
            _get(container, key)  # only an out-of-range index fails; a missing key is added
            if isinstance(container, dict):
                container[key] = value
            else:
                container[_index(key)] = value
        elif not _test_passes(_get(container, key), value):
            raise _invalid(f"testing value {path} failed: test failed")
        return
    if kind in ("move", "copy"):
        source = _op_string(op, "from", f"{kind} operation failed to decode from")
        found = _find_container(root, source)
        if found is None:
            raise _invalid(f"{kind} operation does not apply: doc is missing from path: {source}")
        container, key = found
        moved = _get(container, key)
        if kind == "move":
            _remove(container, key)
        else:
            moved = clone(moved)
        path = _op_string(op, "path", f"{kind} operation failed to decode path")
        found = _find_container(root, path)
        if found is None:
            raise _invalid(
                f"{kind} operation does not apply: doc is missing destination path: {path}"
            )
        _add(found[0], found[1], moved)
        return
    raise _invalid(f"Unexpected kind: {kind}")


def _test_passes(current: Any, expected: Any) -> bool:
    # A missing value and null are the same to json-patch v4 (both are nil nodes).
    if current is None or expected is None:
        return current is None and expected is None
    return json_equal(current, expected)


# --------------------------------------------------------------------------- strategic merge

_DIRECTIVE = "$patch"
_RETAIN_KEYS = "$retainKeys"
_DELETE_FROM_PRIMITIVE_LIST = "$deleteFromPrimitiveList"
_SET_ELEMENT_ORDER = "$setElementOrder"

_ERR_PRIMITIVE_LIST = "invalid patch format of primitive list"
_ERR_RETAIN_KEYS = "invalid patch format of retainKeys"
_ERR_SET_ELEMENT_ORDER = "invalid patch format of setElementOrder list"
_ERR_LIST_OF_LISTS = "lists of lists are not supported"


@dataclass(frozen=True)
class PatchMeta:
    """The ``patchStrategy``/``patchMergeKey`` tags of a field and of the fields below it."""

    strategy: str = ""  # "", "merge", "replace", "retainKeys" or "merge,retainKeys"
    merge_key: str = ""
    fields: Mapping[str, PatchMeta] = field(default_factory=dict)

    def child(self, name: str) -> PatchMeta:
        return self.fields.get(name, _NO_META)

    @property
    def merge_strategy(self) -> str:
        """The strategy once ``retainKeys`` is set aside, as extractRetainKeysPatchStrategy does."""
        parts = [p for p in self.strategy.split(",") if p and p != "retainKeys"]
        return parts[0] if parts else ""


_NO_META = PatchMeta()


def _merge_list(key: str, element: PatchMeta | None = None, strategy: str = "merge") -> PatchMeta:
    return PatchMeta(strategy, key, element.fields if element else {})


def _struct(**fields: PatchMeta) -> PatchMeta:
    return PatchMeta(fields=fields)


_CONDITIONS = _merge_list("type")
_OBJECT_META = _struct(
    ownerReferences=_merge_list("uid"),
    finalizers=PatchMeta("merge"),
)
_CONTAINER = _struct(
    env=_merge_list("name"),
    ports=_merge_list("containerPort"),
    volumeMounts=_merge_list("mountPath"),
    volumeDevices=_merge_list("devicePath"),
)
_POD_SPEC = _struct(
    containers=_merge_list("name", _CONTAINER),
    initContainers=_merge_list("name", _CONTAINER),
    ephemeralContainers=_merge_list("name", _CONTAINER),
    volumes=_merge_list("name", strategy="merge,retainKeys"),
    imagePullSecrets=_merge_list("name"),
    hostAliases=_merge_list("ip"),
)
_POD_TEMPLATE = _struct(metadata=_OBJECT_META, spec=_POD_SPEC)
_WORKLOAD_STATUS = _struct(conditions=_CONDITIONS)


def _kind_meta(**fields: PatchMeta) -> PatchMeta:
    return _struct(metadata=_OBJECT_META, **fields)


BUILTIN_PATCH_META: Mapping[tuple[str, str], PatchMeta] = {
    ("", "Pod"): _kind_meta(
        spec=_POD_SPEC,
        status=_struct(conditions=_CONDITIONS, podIPs=_merge_list("ip"), hostIPs=_merge_list("ip")),
    ),
    ("", "PodTemplate"): _kind_meta(template=_POD_TEMPLATE),
    ("", "Secret"): _kind_meta(),
    ("", "ConfigMap"): _kind_meta(),
    ("", "ServiceAccount"): _kind_meta(secrets=_merge_list("name")),
    ("", "Namespace"): _kind_meta(status=_struct(conditions=_CONDITIONS)),
    ("", "Service"): _kind_meta(spec=_struct(ports=_merge_list("port"))),
    ("", "Node"): _kind_meta(status=_struct(conditions=_CONDITIONS, addresses=_merge_list("type"))),
    ("apps", "Deployment"): _kind_meta(
        spec=_struct(template=_POD_TEMPLATE, strategy=PatchMeta("retainKeys")),
        status=_WORKLOAD_STATUS,
    ),
    ("apps", "ReplicaSet"): _kind_meta(
        spec=_struct(template=_POD_TEMPLATE), status=_WORKLOAD_STATUS
    ),
    ("apps", "StatefulSet"): _kind_meta(
        spec=_struct(template=_POD_TEMPLATE), status=_WORKLOAD_STATUS
    ),
    ("apps", "DaemonSet"): _kind_meta(
        spec=_struct(template=_POD_TEMPLATE), status=_WORKLOAD_STATUS
    ),
    ("batch", "Job"): _kind_meta(spec=_struct(template=_POD_TEMPLATE), status=_WORKLOAD_STATUS),
    ("batch", "CronJob"): _kind_meta(
        spec=_struct(
            jobTemplate=_struct(metadata=_OBJECT_META, spec=_struct(template=_POD_TEMPLATE))
        )
    ),
}


def patch_meta_for(kind: str, group: str = "") -> PatchMeta:
    """The patch metadata of a built-in kind; unknown built-ins still get ObjectMeta's."""
    return BUILTIN_PATCH_META.get((group, kind), _kind_meta())


def strategic_merge_patch(
    target: dict[str, Any], patch: dict[str, Any], kind: str, *, group: str = ""
) -> dict[str, Any]:
    """Apply a strategic merge patch to a built-in object (as StrategicMergeMapPatch does)."""
    if not isinstance(patch, dict):
        raise _bad_request(
            f"json: cannot unmarshal {_go_json_type_word(patch)} "
            "into Go value of type map[string]interface {}"
        )
    return _merge_map(clone(target), clone(patch), patch_meta_for(kind, group))


def _merge_map(
    original: dict[str, Any] | None, patch: dict[str, Any], meta: PatchMeta
) -> dict[str, Any]:
    if _DIRECTIVE in patch:
        return _map_directive(patch[_DIRECTIVE], patch)
    if original is None:
        original = {}
    _apply_retain_keys(original, patch)
    _merge_with_element_order(original, patch, meta)
    for raw_key, patch_value in list(patch.items()):
        key, is_delete_list = raw_key, False
        if raw_key.startswith(_DELETE_FROM_PRIMITIVE_LIST):
            key, is_delete_list = _extract_key(raw_key, _DELETE_FROM_PRIMITIVE_LIST), True
        if patch_value is None:
            original.pop(key, None)
            continue
        if key not in original or go_kind(original[key]) != go_kind(patch_value):
            if not is_delete_list:
                _set_without_directives(original, key, _discard_nulls(patch_value))
            continue
        current = original[key]
        child = meta.child(key)
        if isinstance(current, dict):
            if child.merge_strategy == "replace":
                original[key] = patch_value
            else:
                original[key] = _merge_map(current, patch_value, child)
        elif isinstance(current, list):
            if child.merge_strategy == "merge":
                original[key] = _merge_slice(current, patch_value, child, is_delete_list)
            else:
                original[key] = patch_value
        else:
            _set_without_directives(original, key, patch_value)
    return original


def _map_directive(directive: Any, patch: dict[str, Any]) -> dict[str, Any]:
    if directive == "replace":
        del patch[_DIRECTIVE]
        return patch
    if directive == "delete":
        return {}
    raise _internal(f"unknown patch type: {go_value(directive)} in map: {go_value(patch)}")


def _set_without_directives(original: dict[str, Any], key: str, value: Any) -> None:
    cleaned, keep = _remove_directives(value)
    if keep:
        original[key] = cleaned
    else:
        original.pop(key, None)


def _remove_directives(value: Any) -> tuple[Any, bool]:
    """A value taken from the patch as is loses every map that carries ``$patch``."""
    if isinstance(value, dict):
        if _DIRECTIVE in value:
            return None, False
        for key in list(value):
            cleaned, keep = _remove_directives(value[key])
            if keep:
                value[key] = cleaned
            else:
                del value[key]
        return value, True
    if isinstance(value, list):
        kept = []
        for item in value:
            cleaned, keep = _remove_directives(item)
            if keep:
                kept.append(cleaned)
        return kept, True
    return value, True


def _discard_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        for key in [k for k, v in value.items() if v is None]:
            del value[key]
        for item in value.values():
            _discard_nulls(item)
    elif isinstance(value, list):
        for item in value:
            _discard_nulls(item)
    return value


def _extract_key(directive_key: str, prefix: str) -> str:
    head, sep, rest = directive_key.partition("/")
    if not sep or head != prefix:
        raise _bad_request(
            _ERR_PRIMITIVE_LIST if prefix == _DELETE_FROM_PRIMITIVE_LIST else _ERR_SET_ELEMENT_ORDER
        )
    return rest


def _apply_retain_keys(original: dict[str, Any], patch: dict[str, Any]) -> None:
    if _RETAIN_KEYS not in patch:
        return
    retained = patch.pop(_RETAIN_KEYS)
    if not isinstance(retained, list):
        raise _bad_request(_ERR_RETAIN_KEYS)
    for key, value in patch.items():
        if value is None or key.startswith((_DELETE_FROM_PRIMITIVE_LIST, _SET_ELEMENT_ORDER)):
            continue
        if key not in retained:
            raise _bad_request(_ERR_RETAIN_KEYS)
    for key in [k for k in original if k not in retained]:
        del original[key]


def _merge_with_element_order(
    original: dict[str, Any], patch: dict[str, Any], meta: PatchMeta
) -> None:
    """``$setElementOrder/<field>``: merge that list now and order it as the directive says."""
    for directive_key in [k for k in patch if k.startswith(_SET_ELEMENT_ORDER)]:
        order = patch.pop(directive_key)
        if not isinstance(order, list):
            raise _bad_arg_type("[]interface {}", order)
        key = _extract_key(directive_key, _SET_ELEMENT_ORDER)
        child = meta.child(key)
        merge_key = child.merge_key
        original_list = original.get(key)
        patch_list = patch.get(key)
        if key in original and not isinstance(original_list, list):
            raise _bad_arg_type("[]interface {}", original_list)
        if key in patch and not isinstance(patch_list, list):
            raise _bad_arg_type("[]interface {}", patch_list)
        _validate_element_order(
            patch_list if isinstance(patch_list, list) else [], order, merge_key
        )
        if key in original and key not in patch:
            merged = list(original_list or [])
        elif key in patch and key not in original:
            merged = _remove_directives(patch_list)[0]
        elif key in original:
            if child.merge_strategy == "merge":
                merged = _merge_slice(original_list or [], patch_list or [], child, False)
            else:
                merged = patch_list or []
        else:
            continue
        element_kind = _slice_element_kind(list(original_list or []), list(patch_list or []))
        if merge_key:
            in_order, server_only = _partition_maps(merged, order, merge_key)
        else:
            in_order, server_only = _partition_primitives(merged, order)
        original[key] = _normalize_element_order(
            in_order, server_only, order, list(original_list or []), merge_key, element_kind
        )
        patch.pop(key, None)


def _bad_arg_type(expected: str, actual: Any) -> PatchError:
    return _internal(f"expected a {expected}, but received a {_go_type_name(actual)}")


def _go_type_name(value: Any) -> str:
    return {
        "null": "%!s(<nil>)",
        "bool": "bool",
        "int64": "int64",
        "float64": "float64",
        "string": "string",
        "slice": "[]interface {}",
        "map": "map[string]interface {}",
    }[go_kind(value)]


def _validate_element_order(patch_list: list[Any], order: list[Any], merge_key: str) -> None:
    if not order or not patch_list:
        return
    items = (
        [i for i in patch_list if not (isinstance(i, dict) and i.get(_DIRECTIVE) == "delete")]
        if merge_key
        else patch_list
    )
    patch_index = order_index = 0
    while patch_index < len(items) and order_index < len(order):
        item = items[patch_index]
        if isinstance(item, dict) and _DIRECTIVE in item:
            patch_index += 1
            continue
        if _merge_key_equal(item, order[order_index], merge_key):
            patch_index += 1
        order_index += 1
    if patch_index < len(items) and order_index >= len(order):
        raise _internal(
            f"the order in patch list:\n{go_value(patch_list)}\n doesn't match "
            f"{_SET_ELEMENT_ORDER} list:\n{go_value(order)}"
        )


def _merge_key_equal(left: Any, right: Any, merge_key: str) -> bool:
    if not merge_key:
        return _same_scalar(left, right)
    for side in (left, right):
        if not isinstance(side, dict):
            raise _bad_arg_type("map[string]interface {}", side)
        if merge_key not in side:
            raise _internal(_no_merge_key(side, merge_key))
    return _same_scalar(left[merge_key], right[merge_key])


def _same_scalar(left: Any, right: Any) -> bool:
    # Go compares interface{} values: equal only with the same dynamic type.
    return go_kind(left) == go_kind(right) and bool(left == right)


def _no_merge_key(item: Mapping[str, Any], merge_key: str) -> str:
    return f"map: {go_value(dict(item))} does not contain declared merge key: {merge_key}"


def _slice_element_kind(*lists: list[Any]) -> str:
    kind = ""
    for items in lists:
        for item in items:
            item_kind = go_kind(item)
            if not kind:
                if item_kind == "slice":
                    raise _invalid(_ERR_LIST_OF_LISTS)
                kind = item_kind
            elif item_kind != kind:
                raise _internal(
                    "list element types are not identical: " + go_value([list(x) for x in lists])
                )
    if not kind:
        raise _internal("no elements in any of the given slices")
    return kind


def _merge_slice(
    original: list[Any], patch: list[Any], meta: PatchMeta, is_delete_list: bool
) -> list[Any]:
    if not original and not patch:
        return original
    element_kind = _slice_element_kind(original, patch)
    merge_key = meta.merge_key
    if element_kind != "map":
        if is_delete_list:
            return [v for v in original if not any(_same_scalar(v, d) for d in patch)]
        merged = _dedupe_scalars(original + patch)
        in_patch, server_only = _partition_primitives(merged, patch)
    else:
        if not merge_key:
            raise _internal("cannot merge lists without merge key for type map")
        original, patch = _merge_special_elements(original, patch, merge_key)
        merged = _merge_without_special_elements(original, patch, merge_key, meta)
        in_patch, server_only = _partition_maps(merged, patch, merge_key)
    return _normalize_element_order(in_patch, server_only, patch, original, merge_key, element_kind)


def _dedupe_scalars(items: list[Any]) -> list[Any]:
    # apimachinery's in-place dedupe moves the last element into each duplicate's slot.
    items = list(items)
    length = len(items) - 1
    i = 0
    while i < length:
        j = i + 1
        while j <= length:
            if _same_scalar(items[i], items[j]):
                items[j] = items[length]
                items = items[:length]
                length -= 1
                j -= 1
            j += 1
        i += 1
    return items


def _merge_special_elements(
    original: list[Any], patch: list[Any], merge_key: str
) -> tuple[list[Any], list[Any]]:
    plain: list[Any] = []
    replace = False
    for item in patch:
        if _DIRECTIVE not in item:
            plain.append(item)
            continue
        directive = item[_DIRECTIVE]
        if directive == "delete":
            if merge_key not in item:
                raise _internal(_no_merge_key(item, merge_key))
            original = [
                o
                for o in original
                if not (merge_key in o and _same_scalar(o[merge_key], item[merge_key]))
            ]
        elif directive == "replace":
            replace = True
        elif directive == "merge":
            raise _internal("merging lists cannot yet be specified in the patch")
        else:
            raise _internal(f"unknown patch type: {go_value(directive)} in map: {go_value(item)}")
    if replace:
        return plain, []
    return original, plain


def _find_by_key(items: list[Any], merge_key: str, value: Any) -> int:
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise _internal(f"value for key {index} is not a map.")
        if merge_key in item and _same_scalar(item[merge_key], value):
            return index
    return -1


def _merge_without_special_elements(
    original: list[Any], patch: list[Any], merge_key: str, meta: PatchMeta
) -> list[Any]:
    original = list(original)
    for item in patch:
        if merge_key not in item:
            raise _internal(_no_merge_key(item, merge_key))
        index = _find_by_key(original, merge_key, item[merge_key])
        if index >= 0:
            original[index] = _merge_map(original[index], item, meta)
        else:
            original.append(item)
    return original


def _partition_primitives(items: list[Any], by: list[Any]) -> tuple[list[Any], list[Any]]:
    present = [i for i in items if any(_same_scalar(i, b) for b in by)]
    absent = [i for i in items if not any(_same_scalar(i, b) for b in by)]
    return present, absent


def _partition_maps(items: list[Any], by: list[Any], merge_key: str) -> tuple[list[Any], list[Any]]:
    present: list[Any] = []
    absent: list[Any] = []
    for item in items:
        if not isinstance(item, dict):
            raise _bad_arg_type("map[string]interface {}", item)
        if merge_key not in item:
            raise _internal(_no_merge_key(item, merge_key))
        (present if _find_by_key(by, merge_key, item[merge_key]) >= 0 else absent).append(item)
    return present, absent


def _position(items: list[Any], value: Any, merge_key: str, element_kind: str) -> int:
    def key_of(item: Any) -> Any:
        if element_kind == "map":
            return item.get(merge_key) if isinstance(item, dict) else None
        return item

    wanted = key_of(value)
    for index, item in enumerate(items):
        if _same_scalar(key_of(item), wanted):
            return index
    return -1


def _normalize_element_order(
    patch_items: list[Any],
    server_only: list[Any],
    patch_order: list[Any],
    server_order: list[Any],
    merge_key: str,
    element_kind: str,
) -> list[Any]:
    """Order patch items as the patch does, server items as the live list does, then interleave."""
    patch_items = _sort_by_order(patch_items, patch_order, merge_key, element_kind)
    server_only = _sort_by_order(server_only, server_order, merge_key, element_kind)
    merged: list[Any] = []
    i = j = 0
    while i < len(server_only) or j < len(patch_items):
        if i >= len(server_only):
            merged.append(patch_items[j])
            j += 1
        elif j >= len(patch_items):
            merged.append(server_only[i])
            i += 1
        else:
            left = _position(server_order, server_only[i], merge_key, element_kind)
            right = _position(server_order, patch_items[j], merge_key, element_kind)
            if left >= 0 and right >= 0 and left < right:
                merged.append(server_only[i])
                i += 1
            else:
                merged.append(patch_items[j])
                j += 1
    return merged


def _sort_by_order(
    items: list[Any], order: list[Any], merge_key: str, element_kind: str
) -> list[Any]:
    to_delete: list[Any] = []
    if element_kind == "map":
        for item in [*items, *order]:
            if not isinstance(item, dict):
                raise _bad_arg_type("map[string]interface {}", item)
            if merge_key not in item:
                raise _internal(_no_merge_key(item, merge_key))
        to_delete = [i for i in items if i.get(_DIRECTIVE) == "delete"]
        items = [i for i in items if i.get(_DIRECTIVE) != "delete"]

    def less(a: Any, b: Any) -> bool:
        # sort.SliceStable's comparator: unknown positions sort first.
        ia = _position(order, a, merge_key, element_kind)
        if ia >= 0:
            ib = _position(order, b, merge_key, element_kind)
            if ib >= 0:
                return ia < ib
        return True

    return _insertion_sort(list(items), less) + to_delete


def _insertion_sort(items: list[Any], less: Callable[[Any, Any], bool]) -> list[Any]:
    for i in range(1, len(items)):
        j = i
        while j > 0 and less(items[j], items[j - 1]):
            items[j], items[j - 1] = items[j - 1], items[j]
            j -= 1
    return items
