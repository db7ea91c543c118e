"""What the target would refuse, and what the operator did not ask for: checked before any write.

A bundle that verifies is still untrusted: its author may have recomputed every checksum. So
every object is checked, before the first write, against two sets of rules, and every problem
becomes a plan error:

- **Confinement** (:class:`Confinement`): an import writes only in the namespaces of the
  bundle's selection (after ``--namespace-map``) and those its objects' owners and soft owners
  live in (a ClusterClass another namespace holds), the global identities' Secrets in the
  namespaces where both the bundle and the target run a provider (where the target runs one,
  for a bundle that records no providers, as a clusterctl directory), and namespaces named by
  ``--allow-namespace``. With no selection (``--all-namespaces``, or a directory written by
  ``clusterctl move --to-directory``) any namespace but the system ones (``kube-system``,
  ``kube-public``, ``kube-node-lease``) and those where the target runs providers. A Secret
  whose type grants access to the API (a service account token, a bootstrap token) needs
  ``--allow-secret-type``; a namespace created with ``pod-security.kubernetes.io/`` labels or
  annotations needs ``--allow-pod-security-labels``.
- **Admission** (:func:`object_problems`): what the API server checks on create and would
  otherwise refuse half-way through an import — the scope the target serves the kind with,
  ObjectMeta syntax (names, labels, annotations, finalizers, ownerReferences), the data of
  Secrets and ConfigMaps, the size etcd accepts — and that the ownerReferences in the object
  are exactly the owners the manifest lists, so every owner is in place before its dependents.

Pure: objects and facts in, problem lines out.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from movekit.bundle import ObjectEntry
from movekit.model import Provider, Selection
from movekit.refs import GroupKind, ObjectRef, split_api_version
from movekit.sanitize import SERVER_SET_METADATA

SYSTEM_NAMESPACES = frozenset({"kube-system", "kube-public", "kube-node-lease"})
POD_SECURITY_PREFIX = "pod-security.kubernetes.io/"
# Secrets whose type makes the API server treat their content as credentials to itself.
API_ACCESS_SECRET_TYPES = frozenset({"kubernetes.io/service-account-token",
                                     "bootstrap.kubernetes.io/token"})

MAX_OBJECT_BYTES = 3 * 512 * 1024  # etcd's request limit (1.5 MiB), which bounds an object
MAX_ANNOTATIONS_BYTES = 256 * 1024  # the API server's limit on all annotations together
MAX_DATA_BYTES = 1024 * 1024  # the API server's limit on a Secret's or a ConfigMap's data

NAMESPACE = GroupKind("", "Namespace")
SECRET = GroupKind("", "Secret")
CONFIG_MAP = GroupKind("", "ConfigMap")

_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_QUALIFIED_NAME = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")
_LABEL_VALUE = re.compile(r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?")
_CONFIG_KEY = re.compile(r"[-._a-zA-Z0-9]+")
_CONFLICTING_FINALIZERS = frozenset({"orphan", "foregroundDeletion"})


def is_namespace_name(name: str) -> bool:
    """Whether ``name`` can name a Namespace: a DNS-1123 label of at most 63 characters."""
    return len(name) <= 63 and _DNS_LABEL.fullmatch(name) is not None


@dataclass(frozen=True)
class Confinement:
    """Where an import may write, in the target's namespace names."""

    selected: frozenset[str] | None  # the selection's namespaces; None: every namespace
    provider_namespaces: frozenset[str]  # where both the bundle and the target run a provider
    target_provider_namespaces: frozenset[str]  # where the target runs providers
    allowed: frozenset[str] = frozenset()  # --allow-namespace
    secret_types: frozenset[str] = frozenset()  # --allow-secret-type
    pod_security_labels: bool = False  # --allow-pod-security-labels

    def namespace_problem(self, namespace: str, shared: bool) -> str | None:
        """Why an object may not be written in ``namespace``, or None. ``shared``: a global
        identity's credentials (owned only by global objects), which live with its provider."""
        if namespace in self.allowed:
            return None
        if namespace in SYSTEM_NAMESPACES:
            why = f"{namespace} is a system namespace"
        elif shared and namespace in self.provider_namespaces:
            return None
        elif self.selected is not None:
            if namespace in self.selected:
                return None
            why = (f"namespace {namespace} is outside the bundle's selection "
                   f"({', '.join(sorted(self.selected))})")
        elif namespace in self.target_provider_namespaces:
            why = f"the target runs providers in namespace {namespace}"
        else:
            return None
        return f"{why}; --allow-namespace {namespace} permits it"


def confinement(selection: Selection, entries: Iterable[ObjectEntry],
                bundle_providers: Iterable[Provider], target_providers: Iterable[Provider],
                namespace_map: Mapping[str, str], *, allowed: Iterable[str] = (),
                secret_types: Iterable[str] = (), pod_security_labels: bool = False
                ) -> Confinement:
    """The confinement of an import of a bundle with ``selection``, ``entries`` and
    ``bundle_providers``."""
    selected = None
    if selection.namespace is not None:
        reached = reached_namespaces(entries, selection.namespace)
        selected = frozenset(namespace_map.get(ns, ns) for ns in reached)
    target = frozenset(p.namespace for p in target_providers)
    # The bundle records providers in source namespaces; a namespace map does not move them.
    # A directory clusterctl wrote records none: its identities go where the target has them.
    recorded = frozenset(p.namespace for p in bundle_providers) or target
    return Confinement(selected, recorded & target, target, frozenset(allowed),
                       frozenset(secret_types), pod_security_labels)


def reached_namespaces(entries: Iterable[ObjectEntry], namespace: str) -> set[str]:
    """``namespace`` and the namespaces of every owner and soft owner, transitively, of the
    entries in it: what an export of ``namespace`` takes along (a ClusterClass elsewhere)."""
    by_ref = {e.ref: e for e in entries}
    seen: set[ObjectRef] = set()
    todo = [e.ref for e in by_ref.values() if e.ref.namespace == namespace]
    while todo:
        ref = todo.pop()
        entry = by_ref.get(ref)
        if ref in seen or entry is None:
            continue
        seen.add(ref)
        todo.extend(o.ref for o in entry.owners)
        todo.extend(entry.soft_owners)
    return {namespace} | {ref.namespace for ref in seen if ref.namespace}


def object_problems(entry: ObjectEntry, target: ObjectRef, obj: Any, *,
                    namespaced: bool | None, shared: bool, owner_kinds: Mapping[str, GroupKind],
                    confined: Confinement) -> list[str]:
    """Every reason to refuse ``obj`` (the object of ``entry``, to be written as ``target``).

    ``namespaced`` is the scope the target serves the kind with (None when it does not serve
    it: the plan reports that). ``owner_kinds`` maps each entry's source UID to its kind.
    """
    problems: list[str] = []
    if not isinstance(obj, Mapping):
        return [f"{target}: the object is not a mapping"]
    if namespaced is not None and namespaced != bool(target.namespace):
        scope = "namespaced" if namespaced else "cluster-scoped"
        problems.append(f"{target}: {entry.ref.group_kind} is {scope} in the target, but the "
                        "bundle " + ("gives it no namespace" if namespaced else
                                     "gives it a namespace"))
    if target.namespace:
        problem = confined.namespace_problem(target.namespace, shared)
        if problem:
            problems.append(f"{target}: {problem}")
    if entry.ref.group_kind == NAMESPACE:
        problem = confined.namespace_problem(target.name, False)
        if problem:
            problems.append(f"{target}: {problem}")
    meta = obj.get("metadata")
    if not isinstance(meta, Mapping):
        return [*problems, f"{target}: metadata is not a mapping"]
    problems.extend(f"{target}: {p}" for p in _metadata_problems(entry, meta, owner_kinds))
    for field_name in ("spec",):
        if obj.get(field_name) is not None and not isinstance(obj[field_name], Mapping):
            problems.append(f"{target}: {field_name} is {_type(obj[field_name])}, not a mapping")
    if entry.ref.group_kind == SECRET:
        problems.extend(f"{target}: {p}" for p in _secret_problems(obj, confined))
    elif entry.ref.group_kind == CONFIG_MAP:
        problems.extend(f"{target}: {p}" for p in _config_map_problems(obj))
    size = _size(obj)
    if size > MAX_OBJECT_BYTES:
        problems.append(f"{target}: the object is {size} bytes; the API server stores at most "
                        f"{MAX_OBJECT_BYTES} (1.5 MiB)")
    return problems


def namespace_label_problems(name: str, labels: Any, annotations: Any,
                             confined: Confinement, where: str) -> list[str]:
    """Why namespace ``name`` may not be created with these labels and annotations."""
    if confined.pod_security_labels:
        return []
    keys = [str(k) for field in (labels, annotations) if isinstance(field, Mapping)
            for k in field]
    found = sorted(k for k in keys if k.startswith(POD_SECURITY_PREFIX))
    if not found:
        return []
    return [f"namespace {name} would be created with {', '.join(found)} from {where}, which "
            "sets what Pods may run there; --allow-pod-security-labels permits it"]


def duplicate_uid_problems(entries: Iterable[ObjectEntry]) -> list[str]:
    """Source UIDs name owners when the importer rewrites ownerReferences: each must be one
    object's."""
    seen: dict[str, ObjectRef] = {}
    problems = []
    for entry in entries:
        first = seen.setdefault(entry.source_uid, entry.ref)
        if first != entry.ref:
            problems.append(f"{entry.ref}: source UID {entry.source_uid} is also {first}'s")
    return problems


# --- ObjectMeta -----------------------------------------------------------------------------

def _metadata_problems(entry: ObjectEntry, meta: Mapping[str, Any],
                       owner_kinds: Mapping[str, GroupKind]) -> list[str]:
    problems: list[str] = []
    name = meta.get("name")
    if entry.ref.group_kind == NAMESPACE:
        if not isinstance(name, str) or not is_namespace_name(name):
            problems.append(f"metadata.name {_shown(name)} is not a DNS label, as a "
                            "Namespace's name must be")
    elif not isinstance(name, str) or len(name) > 253 or not _DNS_SUBDOMAIN.fullmatch(name):
        problems.append(f"metadata.name {_shown(name)} is not a DNS subdomain")
    generate = meta.get("generateName")
    if generate is not None and not isinstance(generate, str):
        problems.append(f"metadata.generateName is {_type(generate)}, not a string")
    for field_name in SERVER_SET_METADATA:
        if meta.get(field_name) is not None:
            problems.append(f"metadata.{field_name} is set; only the API server sets it, and "
                            "it refuses or misreads an object to create that carries one")
    problems.extend(_string_map_problems(meta, "labels", _label_problem))
    problems.extend(_string_map_problems(meta, "annotations", _annotation_problem))
    annotations = meta.get("annotations")
    if isinstance(annotations, Mapping):
        total = sum(_bytes(str(k)) + _bytes(str(v)) for k, v in annotations.items())
        if total > MAX_ANNOTATIONS_BYTES:
            problems.append(f"metadata.annotations total {total} bytes, over the API server's "
                            f"limit of {MAX_ANNOTATIONS_BYTES} (256 KiB)")
    problems.extend(_finalizer_problems(meta.get("finalizers")))
    problems.extend(_owner_problems(entry, meta.get("ownerReferences"), owner_kinds))
    problems.extend(_managed_fields_problems(meta.get("managedFields")))
    return problems


def _string_map_problems(meta: Mapping[str, Any], field_name: str, check: Any) -> list[str]:
    value = meta.get(field_name)
    if value is None:
        return []
    if not isinstance(value, Mapping):
        return [f"metadata.{field_name} is {_type(value)}, not a mapping of strings"]
    problems = []
    for key, item in value.items():
        if not isinstance(key, str) or not isinstance(item, str):
            problems.append(f"metadata.{field_name}[{_shown(key)}] is {_type(item)}, not a "
                            "string")
            continue
        problem = check(key, item)
        if problem:
            problems.append(f"metadata.{field_name}[{_shown(key)}]: {problem}")
    return problems


def _label_problem(key: str, value: str) -> str | None:
    problem = _qualified_name_problem(key)
    if problem:
        return problem
    if len(value) > 63 or not _LABEL_VALUE.fullmatch(value):
        return f"value {_shown(value)} is not a valid label value"
    return None


def _annotation_problem(key: str, _value: str) -> str | None:
    return _qualified_name_problem(key.lower())


def _qualified_name_problem(key: str) -> str | None:
    """A key as labels, annotations and finalizers need it: ``[prefix/]name``."""
    prefix, slash, name = key.rpartition("/")
    if slash and (not prefix or len(prefix) > 253 or not _DNS_SUBDOMAIN.fullmatch(prefix)):
        return f"the key's prefix {_shown(prefix)} is not a DNS subdomain"
    if len(name) > 63 or not _QUALIFIED_NAME.fullmatch(name):
        return f"{_shown(key)} is not a qualified name ([prefix/]name, name at most 63 " \
               "characters of letters, digits, '-', '_' and '.')"
    return None


def _finalizer_problems(finalizers: Any) -> list[str]:
    if finalizers is None:
        return []
    if not isinstance(finalizers, list):
        return [f"metadata.finalizers is {_type(finalizers)}, not a list"]
    problems = []
    for position, finalizer in enumerate(finalizers):
        if not isinstance(finalizer, str):
            problems.append(f"metadata.finalizers[{position}] is {_type(finalizer)}, "
                            "not a string")
            continue
        problem = _qualified_name_problem(finalizer)
        if problem:
            problems.append(f"metadata.finalizers[{position}]: {problem}")
    if {f for f in finalizers if isinstance(f, str)} >= _CONFLICTING_FINALIZERS:
        problems.append("metadata.finalizers holds both orphan and foregroundDeletion")
    return problems


def _owner_problems(entry: ObjectEntry, owners: Any,
                    owner_kinds: Mapping[str, GroupKind]) -> list[str]:
    """The ownerReferences must be the manifest's owners, each an object the import creates
    or finds, so that its UID in the target is known before this object is created."""
    if owners is None:
        owners = []
    if not isinstance(owners, list):
        return [f"metadata.ownerReferences is {_type(owners)}, not a list"]
    problems = []
    found: set[tuple[str, str, str, str]] = set()
    controllers = 0
    for position, owner in enumerate(owners):
        where = f"metadata.ownerReferences[{position}]"
        if not isinstance(owner, Mapping):
            problems.append(f"{where} is {_type(owner)}, not a mapping")
            continue
        fields = [owner.get(k) for k in ("apiVersion", "kind", "name", "uid")]
        if not all(isinstance(v, str) and v for v in fields):
            problems.append(f"{where} needs apiVersion, kind, name and uid, all strings")
            continue
        for flag in ("controller", "blockOwnerDeletion"):
            if owner.get(flag) is not None and not isinstance(owner.get(flag), bool):
                problems.append(f"{where}.{flag} is {_type(owner.get(flag))}, not a boolean")
        controllers += owner.get("controller") is True
        api_version, kind, name, uid = (str(v) for v in fields)
        found.add((split_api_version(api_version)[0], kind, name, uid))
    if controllers > 1:
        problems.append("metadata.ownerReferences names more than one controller")
    listed = {(o.ref.group, o.ref.kind, o.ref.name, o.uid) for o in entry.owners}
    if not problems and found != listed:
        shown = ", ".join(f"{GroupKind(g, k)}/{n}" for g, k, n, _ in sorted(found ^ listed))
        problems.append("metadata.ownerReferences are not the owners the manifest lists "
                        f"(they differ in {shown})")
    for owner in entry.owners:
        if owner_kinds.get(owner.uid) == NAMESPACE:
            problems.append(f"owner {owner.ref} is a Namespace, which an import creates "
                            "without its UID; it cannot own an object")
    return problems


def _managed_fields_problems(fields: Any) -> list[str]:
    """The importer writes them back after create; the API server checks their shape."""
    if fields is None:
        return []
    if not isinstance(fields, list):
        return [f"metadata.managedFields is {_type(fields)}, not a list"]
    for position, item in enumerate(fields):
        where = f"metadata.managedFields[{position}]"
        if not isinstance(item, Mapping):
            return [f"{where} is {_type(item)}, not a mapping"]
        if item.get("operation") not in ("Apply", "Update"):
            return [f"{where}.operation is {_shown(item.get('operation'))}, not Apply or Update"]
        if item.get("fieldsType") not in (None, "FieldsV1"):
            return [f"{where}.fieldsType is {_shown(item.get('fieldsType'))}, not FieldsV1"]
        if not isinstance(item.get("fieldsV1", {}), Mapping):
            return [f"{where}.fieldsV1 is {_type(item.get('fieldsV1'))}, not a mapping"]
        for key in ("manager", "apiVersion", "time", "subresource"):
            if item.get(key) is not None and not isinstance(item.get(key), str):
                return [f"{where}.{key} is {_type(item.get(key))}, not a string"]
    return []


# --- Secrets and ConfigMaps -----------------------------------------------------------------

def _secret_problems(obj: Mapping[str, Any], confined: Confinement) -> list[str]:
    problems = []
    secret_type = obj.get("type")
    if secret_type is not None and not isinstance(secret_type, str):
        problems.append(f"type is {_type(secret_type)}, not a string")
    elif secret_type in API_ACCESS_SECRET_TYPES and secret_type not in confined.secret_types:
        problems.append(f"a Secret of type {secret_type} grants access to the API server; "
                        f"--allow-secret-type {secret_type} permits it")
    problems.extend(_immutable_problem(obj))
    keys = _data_problems(obj, (("data", True), ("stringData", False)), "Secret", problems)
    if isinstance(secret_type, str) and not problems:
        problems.extend(_typed_secret_problems(obj, secret_type, keys))
    return problems


# What the API server requires of Secrets of these types: a key of each group.
_TYPED_SECRET_KEYS: Mapping[str, tuple[frozenset[str], ...]] = {
    "kubernetes.io/tls": (frozenset({"tls.crt"}), frozenset({"tls.key"})),
    "kubernetes.io/dockercfg": (frozenset({".dockercfg"}),),
    "kubernetes.io/dockerconfigjson": (frozenset({".dockerconfigjson"}),),
    "kubernetes.io/basic-auth": (frozenset({"username", "password"}),),
    "kubernetes.io/ssh-auth": (frozenset({"ssh-privatekey"}),),
}
_SERVICE_ACCOUNT_ANNOTATION = "kubernetes.io/service-account.name"


def _typed_secret_problems(obj: Mapping[str, Any], secret_type: str,
                           keys: set[str]) -> list[str]:
    problems = [f"a Secret of type {secret_type} needs the key {' or '.join(sorted(group))}"
                for group in _TYPED_SECRET_KEYS.get(secret_type, ()) if not keys & group]
    annotations = (obj.get("metadata") or {}).get("annotations")
    if secret_type == "kubernetes.io/service-account-token" and not (
            isinstance(annotations, Mapping) and annotations.get(_SERVICE_ACCOUNT_ANNOTATION)):
        problems.append(f"a Secret of type {secret_type} needs the annotation "
                        f"{_SERVICE_ACCOUNT_ANNOTATION}")
    return problems


def _immutable_problem(obj: Mapping[str, Any]) -> list[str]:
    value = obj.get("immutable")
    if value is not None and not isinstance(value, bool):
        return [f"immutable is {_type(value)}, not a boolean"]
    return []


def _is_config_key(key: Any) -> bool:
    """A key of a Secret's or a ConfigMap's data, as the API server accepts it."""
    return (isinstance(key, str) and len(key) <= 253 and bool(_CONFIG_KEY.fullmatch(key))
            and key not in (".", "..") and not key.startswith(".."))


def _config_map_problems(obj: Mapping[str, Any]) -> list[str]:
    problems = _immutable_problem(obj)
    _data_problems(obj, (("data", False), ("binaryData", True)), "ConfigMap", problems)
    return problems


def _data_problems(obj: Mapping[str, Any], fields: tuple[tuple[str, bool], ...], kind: str,
                   problems: list[str]) -> set[str]:
    """Check the data maps ``fields`` (name, base64-encoded) of a Secret or a ConfigMap as the
    API server does, adding to ``problems``; returns the keys found. A ConfigMap's key may be
    in only one of its maps; a Secret's stringData overrides its data."""
    total = 0
    keys: set[str] = set()
    for field_name, decode in fields:
        value = obj.get(field_name)
        if value is None:
            continue
        if not isinstance(value, Mapping):
            problems.append(f"{field_name} is {_type(value)}, not a mapping of strings")
            continue
        for key, item in value.items():
            where = f"{field_name}[{_shown(key)}]"
            if not _is_config_key(key):
                problems.append(f"{where}: the key is not a valid {kind} key")
            elif kind == "ConfigMap" and key in keys:
                problems.append(f"{where}: the key is in both data and binaryData")
            elif not isinstance(item, str):
                problems.append(f"{where} is {_type(item)}, not a string")
            else:
                keys.add(key)
                length = _base64_length(item) if decode else _bytes(item)
                if length is None:
                    problems.append(f"{where} is not base64")
                else:
                    total += length
    if total > MAX_DATA_BYTES:
        problems.append(f"the data is {total} bytes, over the API server's limit of "
                        f"{MAX_DATA_BYTES} (1 MiB)")
    return keys


def _base64_length(text: str) -> int | None:
    try:
        return len(base64.b64decode(text.encode("ascii"), validate=True))
    except (binascii.Error, UnicodeEncodeError):
        return None


# --- wording --------------------------------------------------------------------------------

def _size(obj: Mapping[str, Any]) -> int:
    return _bytes(json.dumps(obj, separators=(",", ":"), ensure_ascii=False))


def _bytes(text: str) -> int:
    """Its length in UTF-8; a lone surrogate (which JSON can escape) counts as three bytes."""
    return len(text.encode("utf-8", "surrogatepass"))


def _type(value: Any) -> str:
    names = {dict: "a mapping", list: "a list", str: "a string", bool: "a boolean",
             int: "a number", float: "a number", type(None): "null"}
    for kind, name in names.items():
        if isinstance(value, kind) and not (kind is int and isinstance(value, bool)):
            return name
    return type(value).__name__


def _shown(value: Any) -> str:
    text = repr(value)
    text = text if len(text) <= 60 else text[:57] + "..."
    return text.encode("ascii", "backslashreplace").decode()
