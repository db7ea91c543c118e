"""The objects, and what the apiserver's generic registry does to them on every write.

One lock guards everything; stored objects are never mutated in place (every write stores a new
dict), so a reader may serialize what it got after the lock is released.

Object semantics follow ``k8s.io/apiserver/pkg/registry/generic/registry.Store`` and the
strategies of the kinds kubesim serves: system fields, resourceVersion, generation, the status
subresource, finalizers and deletion, namespace lifecycle admission, managedFields.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import builtins
import json
import queue
import random
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from kubesim import cel, fields, gojson, schema, status, validation
from kubesim.controls import Controls
from kubesim.jsoncopy import clone
from kubesim.registry import CRD_GROUP, CRD_PLURAL, Registry, ResourceType
from kubesim.selectors import FieldSelector, LabelSelector, fields_match, labels_match

Json = dict[str, Any]
ObjKey = tuple[str, str, str, str]  # group, plural, namespace, name

# The alphabet and length of names.SimpleNameGenerator.
_NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
_GENERATED_SUFFIX = 5
_MAX_GENERATE_NAME_PREFIX = 63 - _GENERATED_SUFFIX

_OBJECT_META_FIELDS = frozenset({
    "name", "generateName", "namespace", "selfLink", "uid", "resourceVersion", "generation",
    "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "labels",
    "annotations", "ownerReferences", "finalizers", "managedFields",
})
_STRING_META_FIELDS = ("name", "generateName", "namespace", "selfLink", "uid", "resourceVersion")
# Top-level fields of the built-in kinds; others are dropped on decode, as typed decoding does.
_BUILTIN_FIELDS: dict[str, frozenset[str]] = {
    "Namespace": frozenset({"spec", "status"}),
    "Secret": frozenset({"data", "stringData", "type", "immutable"}),
    "ConfigMap": frozenset({"data", "binaryData", "immutable"}),
    "ServiceAccount": frozenset({"secrets", "imagePullSecrets", "automountServiceAccountToken"}),
    "Pod": frozenset({"spec", "status"}),
    "Event": frozenset({
        "involvedObject", "reason", "message", "source", "firstTimestamp", "lastTimestamp",
        "count", "type", "eventTime", "series", "action", "related", "reportingComponent",
        "reportingInstance"}),
    "ClusterRole": frozenset({"rules", "aggregationRule"}),
    "Role": frozenset({"rules"}),
    "ClusterRoleBinding": frozenset({"subjects", "roleRef"}),
    "RoleBinding": frozenset({"subjects", "roleRef"}),
    "CustomResourceDefinition": frozenset({"spec", "status"}),
}
_CONFIG_KEY_CHARS = frozenset("-._abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
CRD_CLEANUP_FINALIZER = "customresourcecleanup.apiextensions.k8s.io"
FOREGROUND_FINALIZER = "foregroundDeletion"
ORPHAN_FINALIZER = "orphan"
CONTINUE_EXPIRED_MESSAGE = (
    "The provided continue parameter is too old to display a consistent list result. You can "
    "start a new list without the continue parameter, or use the continue token in this response "
    "to retrieve the remainder of the results. Continuing with the provided token results in an "
    "inconsistent list - objects that were created, modified, or deleted between the time the "
    "first chunk was returned and now may show up in the list.")
EVENT_HISTORY = 50_000  # watch events kept; a watch from before them gets 410 Expired


_now_cache: tuple[int, str] = (0, "")


def now_rfc3339() -> str:
    global _now_cache
    second = int(time.time())
    if _now_cache[0] != second:
        _now_cache = (second, time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(second)))
    return _now_cache[1]


def at_version(obj: Json, rt: ResourceType, version: str) -> Json:
    """The object as read at ``version``: conversion strategy None only relabels it."""
    api_version = rt.api_version(version)
    if obj.get("apiVersion") == api_version:
        return obj
    return {**obj, "apiVersion": api_version}


@dataclass
class WriteContext:
    """Who writes, at which version, and how (query parameters of the request)."""

    manager: str
    version: str = ""
    dry_run: bool = False
    field_validation: str = "Warn"  # Ignore, Warn, Strict
    warnings: list[str] = field(default_factory=list)
    admit: bool = True  # run the admission hook (HTTP writes; in-process seeding skips it)


@dataclass(frozen=True)
class Event:
    rv: int
    group: str
    plural: str
    namespace: str
    type: str  # ADDED, MODIFIED, DELETED
    obj: Json
    old: Json | None


@dataclass(frozen=True)
class ListResult:
    items: list[Json]
    resource_version: str
    continue_token: str
    remaining: int | None


class Store:
    def __init__(self, registry: Registry, controls: Controls) -> None:
        self.registry = registry
        self.controls = controls
        self._lock = threading.RLock()
        self.changed = threading.Condition(self._lock)
        self._objects: dict[tuple[str, str], dict[tuple[str, str], Json]] = {}
        self._rv = 1000
        self._uids: dict[str, ObjKey] = {}
        self._dependents: dict[str, set[ObjKey]] = {}
        self._events: builtins.list[Event] = []
        self._events_base = 0  # absolute index of _events[0]
        self._events_dropped_rv = 0  # newest rv no longer in the history
        #: Work for the built-in controllers (lifecycle.py): ("crd"|"namespace"|"gc-object"|
        #: "gc-owner"|"namespace-created", key).
        self.tasks: queue.Queue[tuple[str, Any]] = queue.Queue()
        self.gc = False

    # ---------------------------------------------------------------- in-process API

    def get(self, group: str, plural: str, namespace: str, name: str) -> Json | None:
        obj = self._bucket(group, plural).get((namespace or "", name))
        return clone(obj) if obj is not None else None

    def list(self, group: str, plural: str, namespace: str | None = None) -> builtins.list[Json]:
        with self._lock:
            bucket = self._bucket(group, plural)
            keys = sorted(k for k in bucket if namespace is None or k[0] == namespace)
            return [clone(bucket[k]) for k in keys]

    def create(self, obj: Json, manager: str = "seed") -> Json:
        """Create ``obj`` (its apiVersion and kind pick the resource), as a POST would."""
        rt, version = self._type_of(obj)
        namespace = (obj.get("metadata") or {}).get("namespace") or ""
        ctx = WriteContext(manager=manager, version=version, admit=False)
        return clone(self.create_object(rt, namespace if rt.namespaced else "", obj, ctx))

    def mutate(self, group: str, plural: str, namespace: str, name: str,
               fn: Callable[[Json], Json | None], manager: str = "kubesim",
               subresource: str = "") -> Json | None:
        """Apply ``fn`` to a copy of the live object and store the result as an update would.

        Atomic: nothing else writes between the read and the write. ``None`` from ``fn`` (or a
        missing object) leaves everything as it is and returns None.
        """
        rt = self._require_type(group, plural)
        with self._lock:
            live = self._bucket(group, plural).get((namespace or "", name))
            if live is None:
                return None
            new = fn(clone(live))
            if new is None:
                return None
            new.setdefault("metadata", {})["resourceVersion"] = live["metadata"]["resourceVersion"]
            ctx = WriteContext(manager=manager, version=rt.storage_version, admit=False)
            result = self.update_object(rt, namespace or "", name, new, ctx, subresource)
            return clone(result)

    def delete(self, group: str, plural: str, namespace: str, name: str,
               propagation: str | None = None) -> None:
        """Delete as a DELETE would: objects with finalizers only get a deletionTimestamp."""
        rt = self._require_type(group, plural)
        self.delete_object(rt, namespace or "", name, {"propagationPolicy": propagation}
                           if propagation else {}, WriteContext(manager="", admit=False))

    # ---------------------------------------------------------------- lookups

    def _bucket(self, group: str, plural: str) -> dict[tuple[str, str], Json]:
        bucket = self._objects.get((group, plural))
        if bucket is None:
            bucket = self._objects.setdefault((group, plural), {})
        return bucket

    def _type_of(self, obj: Json) -> tuple[ResourceType, str]:
        api_version = str(obj.get("apiVersion") or "")
        group, _, version = api_version.rpartition("/")
        rt = self.registry.by_kind(group, str(obj.get("kind") or ""))
        if rt is None or not rt.serves(version):
            raise status.not_found_path()
        return rt, version

    def _require_type(self, group: str, plural: str) -> ResourceType:
        rt = self.registry.get(group, plural)
        if rt is None:
            raise status.not_found_path()
        return rt

    def _next_rv(self) -> str:
        self._rv += 1
        return str(self._rv)

    @property
    def resource_version(self) -> str:
        return str(self._rv)

    def find(self, key: ObjKey) -> Json | None:
        return self._objects.get((key[0], key[1]), {}).get((key[2], key[3]))

    def by_uid(self, uid: str) -> tuple[ObjKey, Json] | None:
        key = self._uids.get(uid)
        if key is None:
            return None
        obj = self.find(key)
        return (key, obj) if obj is not None else None

    def dependents_of(self, uid: str) -> builtins.list[ObjKey]:
        with self._lock:
            return sorted(self._dependents.get(uid, ()))

    def objects_with_owners(self) -> builtins.list[ObjKey]:
        with self._lock:
            return sorted({k for keys in self._dependents.values() for k in keys})

    def awaiting_collector(self) -> builtins.list[str]:
        """UIDs of the objects deleted with the orphan or foregroundDeletion finalizer."""
        with self._lock:
            return [obj["metadata"]["uid"] for bucket in self._objects.values()
                    for obj in bucket.values() if obj["metadata"].get("deletionTimestamp")
                    and {ORPHAN_FINALIZER, FOREGROUND_FINALIZER}
                    & set(obj["metadata"].get("finalizers") or ())]

    # ---------------------------------------------------------------- reads

    def get_object(self, rt: ResourceType, namespace: str, name: str) -> Json:
        obj = self._objects.get((rt.group, rt.plural), {}).get((namespace, name))
        if obj is None:
            raise status.not_found(rt.group, rt.plural, name)
        return obj

    def list_objects(self, rt: ResourceType, namespace: str | None, labels: LabelSelector,
                     field_selector: FieldSelector, limit: int = 0,
                     continue_token: str = "") -> ListResult:
        start = ""
        list_rv = ""
        if continue_token:
            list_rv, start = _decode_continue(continue_token)
            if self.controls.expire_continue_tokens:
                raise status.gone(CONTINUE_EXPIRED_MESSAGE)
        with self._lock:
            bucket = self._objects.get((rt.group, rt.plural), {})
            current_rv = str(self._rv)
            keys = sorted(k for k in bucket if namespace is None or k[0] == namespace)
            objs = [bucket[k] for k in keys]
        if start:
            namespace_of_start, _, name_of_start = start.partition("/")
            first = bisect.bisect_right(keys, (namespace_of_start, name_of_start))
            keys, objs = keys[first:], objs[first:]
        filtered = bool(labels or field_selector)
        items: builtins.list[Json] = []
        next_token = ""
        remaining: int | None = None
        for i, obj in enumerate(objs):
            if (labels and not labels_match(labels, obj)) or (
                    field_selector and not fields_match(field_selector, obj)):
                continue
            if limit and len(items) == limit:
                last = items[-1]["metadata"]
                next_token = _encode_continue(list_rv or current_rv,
                                              f"{last.get('namespace', '')}/{last['name']}")
                if not filtered:
                    remaining = len(objs) - i
                break
            items.append(obj)
        return ListResult(items, list_rv or current_rv, next_token, remaining)

    # ---------------------------------------------------------------- create

    def create_object(self, rt: ResourceType, namespace: str, body: Json, ctx: WriteContext,
                      applied: Callable[[Json], Json] | None = None) -> Json:
        """POST semantics. ``applied`` turns the prepared object into its server-side-apply
        result (managedFields included) when the create comes from an apply patch."""
        version = ctx.version or rt.storage_version
        obj = self._decode(rt, body, version, ctx)
        meta = obj["metadata"]
        if rt.namespaced:
            meta["namespace"] = namespace
        if rt.terminating:
            raise status.ApiError(
                405, "MethodNotAllowed",
                "create not allowed while custom resource definition is terminating",
                {"group": rt.group, "kind": rt.plural} if rt.group else {"kind": rt.plural})
        with self._lock:
            if rt.namespaced:
                self._admit_namespace(rt, namespace, str(meta.get("name") or ""))
            if not meta.get("name") and meta.get("generateName"):
                prefix = str(meta["generateName"])[:_MAX_GENERATE_NAME_PREFIX]
                meta["name"] = prefix + "".join(random.choices(_NAME_ALPHABET,
                                                               k=_GENERATED_SUFFIX))
            name = str(meta.get("name") or "")
            given_rv = meta.get("resourceVersion")
            for system_field in ("uid", "resourceVersion", "creationTimestamp", "selfLink",
                                 "deletionTimestamp", "deletionGracePeriodSeconds", "generation",
                                 "managedFields"):
                meta.pop(system_field, None)
            self._prepare_create(rt, obj)
            errors: builtins.list[Any] = validation.metadata_errors(meta, rt.kind == "Namespace",
                                                           not rt.namespaced)
            obj, kind_errors = self._kind_errors(rt, obj, None, version, ctx, errors)
            errors += kind_errors
            if errors:
                raise status.invalid(rt.group, rt.kind, name, errors)
            meta = obj["metadata"]
            if rt.generation:
                meta["generation"] = 1
            meta["uid"] = str(uuid.uuid4())
            meta["creationTimestamp"] = now_rfc3339()
            if applied is not None:
                obj = applied(obj)
            else:
                obj["metadata"]["managedFields"] = fields.record_update(
                    None, obj, ctx.manager, now_rfc3339(), schema=rt.schemas.get(version),
                    status_subresource=rt.status_subresource)
            if not obj["metadata"]["managedFields"]:
                del obj["metadata"]["managedFields"]
            if applied is None and not ctx.dry_run and _parses_as_nonzero_rv(given_rv):
                # The storage layer refuses it, after validation and before the name is taken.
                raise status.ApiError(500, "", "resourceVersion should not be set on objects to "
                                      "be created")
            bucket = self._bucket(rt.group, rt.plural)
            if (namespace, name) in bucket:
                raise status.already_exists(rt.group, rt.plural, name)
            self._admit(ctx, "create", obj)
            if ctx.dry_run:
                return at_version(obj, rt, rt.storage_version)
            obj["metadata"]["resourceVersion"] = ""
            obj = _reorder(at_version(obj, rt, rt.storage_version))
            obj["metadata"]["resourceVersion"] = self._next_rv()
            self._store(rt, obj, None)
            return obj

    def _decode(self, rt: ResourceType, body: Any, version: str, ctx: WriteContext) -> Json:
        """Decode the request body into a fresh object at ``version``; drops unknown fields."""
        if not isinstance(body, dict):
            raise status.bad_request(f"the object provided is unrecognized (must be of type "
                                     f"{rt.kind}): expected an object")
        obj = clone(body)
        meta = obj.get("metadata")
        if meta is None:
            meta = obj["metadata"] = {}
        if not isinstance(meta, dict):
            raise status.bad_request(f"{rt.kind} in version \"{version}\" cannot be handled as a "
                                     f"{rt.kind}: metadata must be an object")
        # Typed decoding names the field from the object (built-ins) or from ObjectMeta (CRs).
        meta_path = "ObjectMeta.metadata." if rt.builtin else "ObjectMeta."
        for key in _STRING_META_FIELDS:
            if meta.get(key) is not None and not isinstance(meta[key], str):
                raise status.bad_request(
                    f'{rt.kind} in version "{version}" cannot be handled as a {rt.kind}: '
                    f"json: cannot unmarshal {gojson.unmarshal_kind(meta[key])} into Go "
                    f"struct field {meta_path}{key} of type string")
        unknown_meta = [k for k in meta if k not in _OBJECT_META_FIELDS]
        for key in unknown_meta:
            del meta[key]
        unknown = [f"metadata.{k}" for k in unknown_meta]
        if rt.builtin:
            allowed = _BUILTIN_FIELDS.get(rt.kind)
            if allowed is not None:
                for key in [k for k in obj if k not in allowed and k not in
                            ("apiVersion", "kind", "metadata")]:
                    del obj[key]
                    unknown.append(key)
        obj["apiVersion"] = rt.api_version(version)
        obj["kind"] = rt.kind
        if unknown:
            self._unknown_fields(unknown, ctx, rt, version)
        return obj

    @staticmethod
    def _unknown_fields(paths: builtins.list[str], ctx: WriteContext, rt: ResourceType,
                        version: str) -> None:
        if ctx.field_validation == "Strict":
            # The decoder's error, wrapped as every decoding error of a body is.
            raise status.bad_request(
                f'{rt.kind} in version "{version}" cannot be handled as a {rt.kind}: strict '
                "decoding error: " + ", ".join(f'unknown field "{p}"' for p in paths))
        if ctx.field_validation == "Warn":
            ctx.warnings.extend(f'unknown field "{p}"' for p in paths)

    def _admit_namespace(self, rt: ResourceType, namespace: str, name: str) -> None:
        """The NamespaceLifecycle admission plugin: runs before validation."""
        ns = self._objects.get(("", "namespaces"), {}).get(("", namespace))
        if ns is None:
            raise status.not_found("", "namespaces", namespace)
        if ns["metadata"].get("deletionTimestamp"):
            error = status.forbidden(
                rt.group, rt.plural, name,
                f"unable to create new content in namespace {namespace} because it is being "
                "terminated")
            assert error.details is not None
            error.details["causes"] = [{"reason": "NamespaceTerminating",
                                        "message": f"namespace {namespace} is being terminated",
                                        "field": "metadata.namespace"}]
            raise error

    def _admit(self, ctx: WriteContext, verb: str, obj: Json) -> None:
        if ctx.admit:
            denial = self.controls.admit(verb, obj)
            if denial is not None:
                raise status.ApiError(403, "Forbidden", denial)

    def _prepare_create(self, rt: ResourceType, obj: Json) -> None:
        """The strategies' PrepareForCreate."""
        kind = rt.kind
        if rt.status_subresource and not rt.builtin:
            obj.pop("status", None)
        if not rt.builtin:
            return
        if kind == "Secret":
            _merge_string_data(obj)
            if not obj.get("type"):
                obj["type"] = "Opaque"
        elif kind == "Namespace":
            name = obj["metadata"].get("name", "")
            obj["metadata"].setdefault("labels", {})
            if obj["metadata"]["labels"] is None:
                obj["metadata"]["labels"] = {}
            obj["metadata"]["labels"]["kubernetes.io/metadata.name"] = name
            spec: Json = obj["spec"] if isinstance(obj.get("spec"), dict) else {}
            finalizers = list(spec.get("finalizers") or [])
            if "kubernetes" not in finalizers:
                finalizers.append("kubernetes")
            obj["spec"] = {**spec, "finalizers": finalizers}
            obj["status"] = {"phase": "Active"}
        elif kind == "Pod":
            obj["status"] = {"phase": "Pending"}
        elif kind == "CustomResourceDefinition":
            validation.default_crd(obj)
            storage = [v.get("name") for v in (obj.get("spec") or {}).get("versions") or []
                       if isinstance(v, dict) and v.get("storage")]
            obj["status"] = {"conditions": [], "acceptedNames": {"plural": "", "kind": ""},
                             "storedVersions": storage[:1]}

    def _kind_errors(self, rt: ResourceType, obj: Json, old: Json | None, version: str,
                     ctx: WriteContext, prior: builtins.list[Any]
                     ) -> tuple[Json, builtins.list[Any]]:
        """Strategy validation; custom resources are pruned, defaulted and schema-validated
        first (so the object returned may be a new one). ``prior``: the metadata errors."""
        if not rt.builtin:
            blocked = any(schema.blocks_rules(status.cause_of(e)["reason"]) for e in prior
                          if isinstance(e, str))
            return self._custom_resource(rt, obj, old, version, ctx, blocked)
        kind = rt.kind
        errors: builtins.list[Any] = []
        if kind in ("Secret", "ConfigMap"):
            errors = _data_errors(obj, old)
        elif kind == "CustomResourceDefinition":
            errors = validation.crd_errors(obj)
            if old is not None and not errors:
                errors += validation.crd_update_errors(old, obj)
        elif kind == "Pod" and not (obj.get("spec") or {}).get("containers"):
            errors = [validation.required("spec.containers")]
        return obj, errors

    def _custom_resource(self, rt: ResourceType, obj: Json, old: Json | None, version: str,
                         ctx: WriteContext, blocked: bool) -> tuple[Json, builtins.list[Any]]:
        """Decoding of a custom resource: prune, drop non-nullable nulls, default, validate."""
        schema_of = rt.schemas.get(version) or {}
        if not schema_of:
            return obj, []
        pruned = schema.prune(obj, schema_of)
        dropped = _dropped_paths(obj, pruned)
        if dropped:
            self._unknown_fields(dropped, ctx, rt, version)
        # ``pruned`` is a fresh copy: normalise it in place rather than copying it twice more.
        pruned = schema.apply_defaults(schema.prune_nulls(pruned, schema_of, copy=False),
                                       schema_of, copy=False)
        return pruned, list(cel.custom_resource_errors(pruned, schema_of, old,
                                                          blocked=blocked))

    # ---------------------------------------------------------------- update

    def update_object(self, rt: ResourceType, namespace: str, name: str, body: Json,
                      ctx: WriteContext, subresource: str = "", applied: bool = False,
                      patched: bool = False) -> Json:
        """PUT semantics (also the second half of every PATCH).

        ``applied``: ``body`` is a server-side apply result whose managedFields stand as they are.
        ``patched``: ``body`` is a patch result, whose uid is no precondition but a field of
        the object, and immutable (kube-apiserver: 422, where a PUT's other uid is a 409).
        """
        version = ctx.version or rt.storage_version
        new = self._decode(rt, body, version, ctx)
        meta = new["metadata"]
        if meta.get("name") and meta["name"] != name:
            raise status.bad_request(f"the name of the object ({meta['name']}) does not match the "
                                     f"name on the URL ({name})")
        if rt.namespaced and meta.get("namespace") and meta["namespace"] != namespace:
            raise status.bad_request("the namespace of the provided object does not match the "
                                     "namespace sent on the request")
        with self._lock:
            live = self._objects.get((rt.group, rt.plural), {}).get((namespace, name))
            if live is None:
                raise status.not_found(rt.group, rt.plural, name)
            old = at_version(live, rt, version)
            given_rv = str(meta.get("resourceVersion") or "")
            if not given_rv and not rt.unconditional_update:
                raise status.invalid(rt.group, rt.plural, name, [
                    "metadata.resourceVersion: Invalid value: 0: must be specified for an "
                    "update"])
            if given_rv and given_rv != live["metadata"]["resourceVersion"]:
                raise status.conflict(rt.group, rt.plural, name)
            if patched and meta.get("uid") and meta["uid"] != live["metadata"]["uid"]:
                raise status.invalid(rt.group, rt.kind, name, [
                    validation.invalid("metadata.uid", meta["uid"], "field is immutable")])
            _check_uid(rt, name, meta.get("uid"), live)
            new = self._prepare_update(rt, old, new, subresource)
            errors: builtins.list[Any] = []
            if subresource != "status":
                errors = validation.metadata_errors(new["metadata"], rt.kind == "Namespace",
                                                    not rt.namespaced)
            if subresource != "status" or not rt.builtin:
                new, kind_errors = self._kind_errors(rt, new, old, version, ctx, errors)
                errors += kind_errors
            errors += _finalizer_errors(old, new)
            if errors:
                raise status.invalid(rt.group, rt.kind, name, errors)
            if rt.generation:
                new["metadata"]["generation"] = old["metadata"].get("generation", 1) + (
                    1 if _spec_changed(rt, old, new) else 0)
            if not applied:
                given = new["metadata"].get("managedFields")
                # A non-empty managedFields in the request replaces the recorded ones.
                if not given or subresource:
                    new["metadata"]["managedFields"] = old["metadata"].get("managedFields", [])
                new["metadata"]["managedFields"] = fields.record_update(
                    old, new, ctx.manager, now_rfc3339(), subresource,
                    schema=rt.schemas.get(version), status_subresource=rt.status_subresource)
            if not new["metadata"].get("managedFields"):
                new["metadata"].pop("managedFields", None)
            stored = _reorder(at_version(new, rt, rt.storage_version))
            stored["metadata"]["resourceVersion"] = live["metadata"]["resourceVersion"]
            if stored == live:
                return live  # a no-op write changes nothing, not even the resourceVersion
            self._admit(ctx, "update", new)
            if ctx.dry_run:
                return stored
            deleting = bool(stored["metadata"].get("deletionTimestamp"))
            stored["metadata"]["resourceVersion"] = self._next_rv()
            self._store(rt, stored, live)
            if deleting and not stored["metadata"].get("finalizers"):
                self._remove(rt, stored)
            return stored

    def _prepare_update(self, rt: ResourceType, old: Json, new: Json, subresource: str) -> Json:
        """The strategies' PrepareForUpdate plus ``rest.BeforeUpdate``'s system fields."""
        if subresource == "status":
            result = clone(old)
            result["metadata"]["managedFields"] = new["metadata"].get("managedFields")
            if "status" in new:
                result["status"] = new["status"]
            else:
                result.pop("status", None)
            return result
        meta, old_meta = new["metadata"], old["metadata"]
        for system_field in ("uid", "creationTimestamp", "deletionTimestamp",
                             "deletionGracePeriodSeconds", "generation", "namespace", "name",
                             "selfLink"):
            meta.pop(system_field, None)
            if system_field in old_meta:
                meta[system_field] = old_meta[system_field]
        if rt.status_subresource:
            if "status" in old:
                new["status"] = old["status"]
            else:
                new.pop("status", None)
        if rt.builtin:
            if rt.kind == "Secret":
                _merge_string_data(new)
                if not new.get("type"):
                    new["type"] = old.get("type", "Opaque")
            elif rt.kind == "Namespace":
                new.setdefault("metadata", {}).setdefault("labels", {})
                if new["metadata"]["labels"] is None:
                    new["metadata"]["labels"] = {}
                new["metadata"]["labels"]["kubernetes.io/metadata.name"] = old_meta["name"]
                new["spec"] = old.get("spec", {})
        return new

    # ---------------------------------------------------------------- delete

    def delete_object(self, rt: ResourceType, namespace: str, name: str, options: Json,
                      ctx: WriteContext) -> Json:
        """DELETE semantics; returns the object (still there) or a Success Status (gone)."""
        with self._lock:
            live = self._objects.get((rt.group, rt.plural), {}).get((namespace, name))
            if live is None:
                raise status.not_found(rt.group, rt.plural, name)
            preconditions = options.get("preconditions") or {}
            _check_uid(rt, name, preconditions.get("uid"), live)
            rv = preconditions.get("resourceVersion")
            if rv and rv != live["metadata"]["resourceVersion"]:
                raise status.conflict(
                    rt.group, rt.plural, name,
                    f"Precondition failed: ResourceVersion in precondition: {rv}, "
                    f"ResourceVersion in object meta: {live['metadata']['resourceVersion']}")
            self._admit(ctx, "delete", live)
            meta = live["metadata"]
            if rt.kind == "Namespace" and rt.builtin:
                return self._delete_namespace(rt, live, ctx)
            if rt.kind == "CustomResourceDefinition" and rt.builtin:
                return self._delete_crd(rt, live, ctx)
            # The apiserver adds these whether or not a garbage collector runs to remove them.
            finalizers = _deletion_finalizers(list(meta.get("finalizers") or []), options)
            if finalizers:
                if meta.get("deletionTimestamp") and finalizers == (meta.get("finalizers") or []):
                    return live
                marked = _marked_deleting(live, finalizers)
                if ctx.dry_run:
                    return marked
                marked["metadata"]["resourceVersion"] = self._next_rv()
                self._store(rt, marked, live)
                return marked
            if not ctx.dry_run:
                self._remove(rt, live)
            return status.success(name, rt.group, rt.plural, meta["uid"])

    def _delete_namespace(self, rt: ResourceType, live: Json, ctx: WriteContext) -> Json:
        if live["metadata"].get("deletionTimestamp"):
            return live
        marked = clone(live)
        marked["metadata"]["deletionTimestamp"] = now_rfc3339()
        marked["metadata"]["deletionGracePeriodSeconds"] = 0
        marked["status"] = {**(marked.get("status") or {}), "phase": "Terminating"}
        if ctx.dry_run:
            return marked
        marked["metadata"]["resourceVersion"] = self._next_rv()
        self._store(rt, marked, live)
        self.tasks.put(("namespace", live["metadata"]["name"]))
        return marked

    def _delete_crd(self, rt: ResourceType, live: Json, ctx: WriteContext) -> Json:
        """The CRD REST's Delete: add the cleanup finalizer and a Terminating condition."""
        marked = clone(live)
        meta = marked["metadata"]
        meta.setdefault("deletionTimestamp", now_rfc3339())
        finalizers = meta.setdefault("finalizers", [])
        if CRD_CLEANUP_FINALIZER not in finalizers:
            finalizers.append(CRD_CLEANUP_FINALIZER)
        set_condition(marked, "Terminating", "True", "InstanceDeletionPending",
                      "CustomResourceDefinition marked for deletion; CustomResource deletion will "
                      "begin soon")
        if ctx.dry_run or marked == live:
            return marked
        meta["resourceVersion"] = self._next_rv()
        self._store(rt, marked, live)
        return marked

    # ---------------------------------------------------------------- storage + events

    def _store(self, rt: ResourceType, obj: Json, old: Json | None) -> None:
        meta = obj["metadata"]
        namespace = meta.get("namespace", "")
        key: ObjKey = (rt.group, rt.plural, namespace, meta["name"])
        self._bucket(rt.group, rt.plural)[(namespace, meta["name"])] = obj
        self._uids[meta["uid"]] = key
        old_owners = _owner_uids(old) if old is not None else ()
        new_owners = _owner_uids(obj)
        if old_owners != new_owners:
            for uid in old_owners:
                self._dependents.get(uid, set()).discard(key)
            for uid in new_owners:
                self._dependents.setdefault(uid, set()).add(key)
        # Without GC the collector has nothing to do; turning GC on re-checks every object.
        if self.gc and new_owners and (old is None or old_owners != new_owners):
            self.tasks.put(("gc-object", key))
        if meta.get("deletionTimestamp") and (
                FOREGROUND_FINALIZER in (meta.get("finalizers") or ())
                or ORPHAN_FINALIZER in (meta.get("finalizers") or ())):
            self.tasks.put(("gc-owner", meta["uid"]))
        self._emit(rt, namespace, "ADDED" if old is None else "MODIFIED", obj, old)
        if rt.builtin and rt.plural == CRD_PLURAL and rt.group == CRD_GROUP:
            self.tasks.put(("crd", meta["name"]))
        elif rt.builtin and rt.plural == "namespaces" and not rt.group and old is None:
            self.tasks.put(("namespace-created", meta["name"]))

    def _remove(self, rt: ResourceType, obj: Json) -> None:
        meta = obj["metadata"]
        namespace = meta.get("namespace", "")
        key: ObjKey = (rt.group, rt.plural, namespace, meta["name"])
        self._bucket(rt.group, rt.plural).pop((namespace, meta["name"]), None)
        self._uids.pop(meta["uid"], None)
        for uid in _owner_uids(obj):
            self._dependents.get(uid, set()).discard(key)
            self.tasks.put(("gc-owner", uid))  # a foreground owner may wait for this one
        gone = {**obj, "metadata": {**meta, "resourceVersion": self._next_rv()}}
        self._emit(rt, namespace, "DELETED", gone, obj)
        self.tasks.put(("gc-owner", meta["uid"]))
        if namespace:
            ns = self._objects.get(("", "namespaces"), {}).get(("", namespace))
            if ns is not None and ns["metadata"].get("deletionTimestamp"):
                self.tasks.put(("namespace", namespace))
        if rt.crd_name is not None and rt.terminating:
            self.tasks.put(("crd", rt.crd_name))
        if rt.builtin and rt.plural == CRD_PLURAL and rt.group == CRD_GROUP:
            self.tasks.put(("crd-removed", meta["name"]))

    def drop_all(self, group: str, plural: str) -> None:
        """Forget every object of a resource whose CRD is gone (no events: nobody can watch)."""
        with self._lock:
            bucket = self._objects.pop((group, plural), {})
            for obj in bucket.values():
                self._uids.pop(obj["metadata"]["uid"], None)

    def _emit(self, rt: ResourceType, namespace: str, kind: str, obj: Json,
              old: Json | None) -> None:
        self._events.append(Event(int(obj["metadata"]["resourceVersion"]), rt.group, rt.plural,
                                  namespace, kind, obj, old))
        if len(self._events) > EVENT_HISTORY:
            half = len(self._events) // 2
            self._events_dropped_rv = self._events[half - 1].rv
            del self._events[:half]
            self._events_base += half
        self.changed.notify_all()

    # ---------------------------------------------------------------- watch

    def compact(self) -> None:
        """Forget the event history, as an etcd compaction does: older watches get 410."""
        with self._lock:
            self._events_dropped_rv = self._rv
            self._events_base += len(self._events)
            self._events.clear()

    def watch_start(self, since_rv: int | None) -> int:
        """The absolute event position a watch from ``since_rv`` starts at (410 if too old)."""
        with self._lock:
            if since_rv is None:
                return self._events_base + len(self._events)
            if since_rv < self._events_dropped_rv:
                raise status.gone(f"too old resource version: {since_rv} ({self._rv})")
            position = self._events_base
            for event in self._events:
                if event.rv > since_rv:
                    break
                position += 1
            return position

    def events_from(self, position: int, timeout: float) -> tuple[builtins.list[Event], int]:
        """Events at ``position`` and after; waits up to ``timeout`` seconds for one."""
        with self._lock:
            if position < self._events_base:
                raise status.gone(f"too old resource version: {position} ({self._rv})")
            index = position - self._events_base
            if index >= len(self._events) and timeout > 0:
                self.changed.wait(timeout)
                index = position - self._events_base
                if index < 0:
                    raise status.gone(f"too old resource version ({self._rv})")
            events = self._events[index:]
            return events, position + len(events)

    def snapshot(self, rt: ResourceType, namespace: str | None) -> tuple[builtins.list[Json], int]:
        """Current objects (as synthetic ADDED events) and the event position after them."""
        with self._lock:
            bucket = self._objects.get((rt.group, rt.plural), {})
            objs = [bucket[k] for k in sorted(bucket) if namespace is None or k[0] == namespace]
            return objs, self._events_base + len(self._events)

    def finalize_namespace(self, name: str) -> None:
        """The namespace's /finalize: drop the ``kubernetes`` finalizer; without finalizers left
        the namespace is gone."""
        rt = self.registry.get("", "namespaces")
        assert rt is not None
        with self._lock:
            live = self.find(("", "namespaces", "", name))
            if live is None or not live["metadata"].get("deletionTimestamp"):
                return
            finalizers = [f for f in live.get("spec", {}).get("finalizers") or []
                          if f != "kubernetes"]
            if finalizers != live.get("spec", {}).get("finalizers"):
                updated = {**live, "spec": {**live.get("spec", {}), "finalizers": finalizers},
                           "metadata": {**live["metadata"], "resourceVersion": self._next_rv()}}
                self._store(rt, updated, live)
                live = updated
            if not finalizers and not live["metadata"].get("finalizers"):
                self._remove(rt, live)

    def lock(self) -> threading.RLock:
        return self._lock

    def iter_namespaced(self, namespace: str) -> Iterator[tuple[ResourceType, Json]]:
        with self._lock:
            for rt in self.registry.all():
                if not rt.namespaced:
                    continue
                for (ns, _), obj in list(self._objects.get((rt.group, rt.plural), {}).items()):
                    if ns == namespace:
                        yield rt, obj


# ------------------------------------------------------------------ object rules



def _owner_uids(obj: Json) -> tuple[str, ...]:
    refs = obj["metadata"].get("ownerReferences")
    if not refs:
        return ()
    return tuple(sorted({str(r.get("uid")) for r in refs if isinstance(r, dict)}))


def _deletion_finalizers(existing: list[str], options: Json) -> list[str]:
    """``deletionFinalizersForGarbageCollection``: the finalizers a DELETE leaves.

    An explicit ``orphanDependents`` or ``propagationPolicy`` decides (so a later DELETE may swap
    or drop the finalizer an earlier one added); without one, a GC finalizer already there
    stays. No kind kubesim serves orphans by default (only legacy extensions/apps betas did).
    """
    gc_finalizers = (ORPHAN_FINALIZER, FOREGROUND_FINALIZER)
    orphan_dependents = options.get("orphanDependents")
    policy = options.get("propagationPolicy")
    if orphan_dependents is not None:
        wanted = ORPHAN_FINALIZER if orphan_dependents else None
    elif policy in ("Orphan", "Foreground", "Background"):
        wanted = {"Orphan": ORPHAN_FINALIZER, "Foreground": FOREGROUND_FINALIZER}.get(policy)
    else:
        wanted = next((f for f in existing if f in gc_finalizers), None)
    finalizers = [f for f in existing if f not in gc_finalizers] + ([wanted] if wanted else [])
    return existing if set(finalizers) == set(existing) else finalizers


def _marked_deleting(live: Json, finalizers: list[str]) -> Json:
    """``markAsDeleting``: deletionTimestamp, a zero grace period, and a generation bump."""
    marked = clone(live)
    meta = marked["metadata"]
    if not meta.get("deletionTimestamp") and meta.get("generation", 0) > 0:
        meta["generation"] += 1
    meta.setdefault("deletionTimestamp", now_rfc3339())
    meta["deletionGracePeriodSeconds"] = 0
    meta["finalizers"] = finalizers
    return marked


def _spec_changed(rt: ResourceType, old: Json, new: Json) -> bool:
    if rt.builtin:  # only CRDs among the built-ins track generation: spec changes bump it
        return bool(old.get("spec") != new.get("spec"))
    skip = {"metadata", "apiVersion", "kind"}
    if rt.status_subresource:
        skip.add("status")
    return {k: v for k, v in old.items() if k not in skip} != {
        k: v for k, v in new.items() if k not in skip}


def _finalizer_errors(old: Json, new: Json) -> list[str]:
    if not old["metadata"].get("deletionTimestamp"):
        return []
    added = [f for f in new["metadata"].get("finalizers") or []
             if f not in (old["metadata"].get("finalizers") or [])]
    if not added:
        return []
    rendered = ", ".join(json.dumps(f) for f in added)
    return ["metadata.finalizers: Forbidden: no new finalizers can be added if the object is "
            f"being deleted, found new finalizers []string{{{rendered}}}"]


def _merge_string_data(secret: Json) -> None:
    string_data = secret.pop("stringData", None)
    if isinstance(string_data, dict) and string_data:
        data = secret.get("data")
        if not isinstance(data, dict):
            data = secret["data"] = {}
        for key, value in string_data.items():
            data[key] = base64.b64encode(str(value).encode()).decode()


def _parses_as_nonzero_rv(value: Any) -> bool:
    """Whether etcd3's versioner reads ``value`` as a resourceVersion (a uint64) other than 0."""
    if not isinstance(value, str) or not value.isascii() or not value.isdigit():
        return False
    return 0 < int(value) < 2**64


def _data_errors(obj: Json, old: Json | None) -> list[str]:
    errors: list[str] = []
    kind = obj["kind"]
    for field_name in ("data", "binaryData"):
        data = obj.get(field_name)
        if data is None:
            continue
        base64_field = kind == "Secret" or field_name == "binaryData"
        go_type = "[]uint8" if base64_field else "string"
        if not isinstance(data, dict):
            raise status.bad_request(f'{kind} in version "v1" cannot be handled as a {kind}: '
                                     f"json: cannot unmarshal {gojson.unmarshal_kind(data)} into "
                                     f"Go struct field {kind}.{field_name} of type "
                                     f"map[string]{go_type}")
        for key, value in data.items():
            if not key or not set(key) <= _CONFIG_KEY_CHARS or key in (".", ".."):
                errors.append(validation.invalid(
                    f"{field_name}[{key}]", key,
                    "a valid config key must consist of alphanumeric characters, '-', '_' or '.' "
                    "(e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation "
                    "is '[-._a-zA-Z0-9]+')"))
            if not isinstance(value, str):
                raise status.bad_request(f'{kind} in version "v1" cannot be handled as a {kind}: '
                                         f"json: cannot unmarshal {gojson.unmarshal_kind(value)} "
                                         f"into Go struct field {kind}.{field_name} of type "
                                         f"{go_type}")
            if base64_field:
                try:
                    base64.b64decode(value, validate=True)
                except (binascii.Error, ValueError):
                    position = next((i for i, c in enumerate(value) if c not in
                                     "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                     "0123456789+/="), len(value) - len(value) % 4)
                    raise status.bad_request(
                        f'{kind} in version "v1" cannot be handled as a {kind}: illegal base64 '
                        f"data at input byte {position}") from None
    if old is not None and old.get("immutable") is True:
        for field_name in ("data", "binaryData"):
            if obj.get(field_name) != old.get(field_name):
                errors.append(f"{field_name}: Forbidden: field is immutable when `immutable` is "
                              "set")
        if obj.get("immutable") is not True:
            errors.append("immutable: Forbidden: field is immutable when `immutable` is set")
    if old is not None and kind == "Secret" and obj.get("type") != old.get("type"):
        errors.append(validation.invalid("type", obj.get("type"), "field is immutable"))
    return errors


def _dropped_paths(original: Any, pruned: Any, path: str = "") -> list[str]:
    """Fields present in ``original`` that pruning removed, as dotted paths."""
    out: list[str] = []
    if isinstance(original, dict) and isinstance(pruned, dict):
        for key, value in original.items():
            child = f"{path}.{key}" if path else key
            if key not in pruned:
                out.append(child)
            else:
                out.extend(_dropped_paths(value, pruned[key], child))
    elif isinstance(original, list) and isinstance(pruned, list):
        for i, (a, b) in enumerate(zip(original, pruned, strict=False)):
            out.extend(_dropped_paths(a, b, f"{path}[{i}]"))
    return out


_META_ORDER = ("name", "generateName", "namespace", "uid", "resourceVersion", "generation",
               "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "labels",
               "annotations", "ownerReferences", "finalizers", "managedFields")


def _reorder(obj: Json) -> Json:
    """apiVersion, kind, metadata first, metadata fields in the apiserver's order."""
    meta = obj["metadata"]
    ordered_meta = {k: meta[k] for k in _META_ORDER if k in meta}
    out = {"apiVersion": obj["apiVersion"], "kind": obj["kind"], "metadata": ordered_meta}
    for key, value in obj.items():
        if key not in out:
            out[key] = value
    return out


def set_condition(obj: Json, type_: str, status_: str, reason: str, message: str) -> None:
    conditions = obj.setdefault("status", {}).setdefault("conditions", [])
    if conditions is None:
        conditions = obj["status"]["conditions"] = []
    for condition in conditions:
        if condition.get("type") == type_:
            if (condition.get("status"), condition.get("reason"), condition.get("message")) != (
                    status_, reason, message):
                if condition.get("status") != status_:
                    condition["lastTransitionTime"] = now_rfc3339()
                condition.update(status=status_, reason=reason, message=message)
            return
    conditions.append({"type": type_, "status": status_, "lastTransitionTime": now_rfc3339(),
                       "reason": reason, "message": message})


def _encode_continue(rv: str, start: str) -> str:
    payload = json.dumps({"v": "meta.k8s.io/v1", "rv": int(rv), "start": start},
                         separators=(",", ":"))
    return base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")


def _decode_continue(token: str) -> tuple[str, str]:
    try:
        padded = token + "=" * (-len(token) % 4)
        payload = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if payload.get("v") != "meta.k8s.io/v1":
            raise ValueError("continue key is not valid: incorrect encoded start resourceVersion "
                             "(version meta.k8s.io/v1)")
        return str(int(payload["rv"])), str(payload["start"])
    except (ValueError, KeyError, TypeError, binascii.Error) as err:
        why = str(err)
        if not why.startswith("continue key"):
            why = f"continue key is not valid: {why}"
        raise status.bad_request(why) from None


def _check_uid(rt: ResourceType, name: str, given: Any, live: Json) -> None:
    """A write or delete that names a uid applies only to the object that still has it."""
    if given and given != live["metadata"]["uid"]:
        raise status.conflict(
            rt.group, rt.plural, name,
            f"Precondition failed: UID in precondition: {given}, UID in object meta: "
            f"{live['metadata']['uid']}")
