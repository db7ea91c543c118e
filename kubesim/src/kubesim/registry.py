"""Which resources the server serves: built-in kinds, and the kinds CRDs add.

A ``ResourceType`` is one resource (``secrets``, ``clusters.cluster.x-k8s.io``) with everything
discovery reports about it and everything the store needs to treat its objects as the real
apiserver's registry would (scope, status subresource, generation, schemas per version).
"""

from __future__ import annotations

import base64
import hashlib
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

Json = dict[str, Any]

ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")
SUBRESOURCE_VERBS = ("get", "patch", "update")
CRD_GROUP = "apiextensions.k8s.io"
CRD_PLURAL = "customresourcedefinitions"


@dataclass(frozen=True)
class PrinterColumn:
    name: str
    type: str
    json_path: str
    description: str = ""
    priority: int = 0
    format: str = ""


@dataclass(frozen=True)
class ResourceType:
    group: str
    kind: str
    plural: str
    singular: str
    namespaced: bool
    versions: tuple[str, ...]  # served versions, highest priority first
    storage_version: str
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    verbs: tuple[str, ...] = ALL_VERBS
    status_subresource: bool = False
    scale_subresource: bool = False
    #: Extra subresources discovery lists, e.g. ``{"finalize": ("update",)}`` for namespaces.
    extra_subresources: tuple[tuple[str, tuple[str, ...]], ...] = ()
    #: ``metadata.generation`` is kept and bumped on changes outside metadata (and status).
    generation: bool = False
    #: PUT without ``metadata.resourceVersion`` is allowed (true for most built-ins, never for CRs).
    unconditional_update: bool = True
    #: Served by a CRD (``crd_name``); its objects are pruned and validated by ``schemas``.
    crd_name: str | None = None
    schemas: Mapping[str, Json] = field(default_factory=dict)
    printer_columns: Mapping[str, tuple[PrinterColumn, ...]] = field(default_factory=dict)
    #: Field labels a fieldSelector may use besides metadata.name / metadata.namespace.
    field_labels: tuple[str, ...] = ()
    #: The CRD is being deleted: objects may still be read, updated and deleted, not created.
    terminating: bool = False

    @property
    def builtin(self) -> bool:
        return self.crd_name is None

    @property
    def list_kind(self) -> str:
        return self.kind + "List"

    @property
    def resource(self) -> str:
        """``plural.group`` as RBAC and error messages spell it."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    def api_version(self, version: str) -> str:
        return f"{self.group}/{version}" if self.group else version

    def serves(self, version: str) -> bool:
        return version in self.versions


def storage_version_hash(group: str, version: str, kind: str) -> str:
    digest = hashlib.sha256(f"{group}/{version}/{kind}".encode()).digest()
    return base64.b64encode(digest[:8]).decode()


_VERSION = re.compile(r"^v(\d+)(?:(alpha|beta)(\d+))?$")


def version_priority(version: str) -> tuple[int, int, int, str]:
    """Sort key of Kubernetes version priority: v2 > v1 > v1beta2 > v1beta1 > v1alpha1 > other."""
    match = _VERSION.match(version)
    if not match:
        return (3, 0, 0, version)
    major, stage, minor = match.groups()
    rank = {None: 0, "beta": 1, "alpha": 2}[stage]
    return (rank, -int(major), -int(minor or 0), version)


def _builtin(group: str, version: str, kind: str, plural: str, namespaced: bool,
             **extra: Any) -> ResourceType:
    return ResourceType(group=group, kind=kind, plural=plural, singular=kind.lower(),
                        namespaced=namespaced, versions=(version,), storage_version=version,
                        **extra)


_RBAC = "rbac.authorization.k8s.io"

BUILTINS: tuple[ResourceType, ...] = (
    _builtin("", "v1", "Namespace", "namespaces", False, short_names=("ns",),
             verbs=("create", "delete", "get", "list", "patch", "update", "watch"),
             status_subresource=True, extra_subresources=(("finalize", ("update",)),),
             field_labels=("status.phase",)),
    _builtin("", "v1", "Secret", "secrets", True, field_labels=("type",)),
    _builtin("", "v1", "ConfigMap", "configmaps", True, short_names=("cm",)),
    _builtin("", "v1", "ServiceAccount", "serviceaccounts", True, short_names=("sa",)),
    _builtin("", "v1", "Pod", "pods", True, short_names=("po",), categories=("all",),
             status_subresource=True, field_labels=("spec.nodeName", "status.phase")),
    _builtin("", "v1", "Event", "events", True, short_names=("ev",)),
    _builtin(_RBAC, "v1", "ClusterRole", "clusterroles", False),
    _builtin(_RBAC, "v1", "ClusterRoleBinding", "clusterrolebindings", False),
    _builtin(_RBAC, "v1", "Role", "roles", True),
    _builtin(_RBAC, "v1", "RoleBinding", "rolebindings", True),
    _builtin(CRD_GROUP, "v1", "CustomResourceDefinition", CRD_PLURAL, False,
             short_names=("crd", "crds"), categories=("api-extensions",),
             status_subresource=True, generation=True),
)

# Built-in groups in the order the apiserver lists them in /apis.
_BUILTIN_GROUP_ORDER = (_RBAC, CRD_GROUP)


def resource_type_of_crd(crd: Json) -> ResourceType:
    """The resource a (valid, defaulted) CRD serves."""
    spec = crd["spec"]
    names = spec["names"]
    served = [v for v in spec["versions"] if v.get("served")]
    versions = tuple(sorted((v["name"] for v in served), key=version_priority))
    storage = next(v["name"] for v in spec["versions"] if v.get("storage"))
    schemas: dict[str, Json] = {}
    columns: dict[str, tuple[PrinterColumn, ...]] = {}
    status_versions = scale_versions = 0
    for v in served:
        schemas[v["name"]] = ((v.get("schema") or {}).get("openAPIV3Schema") or {})
        subresources = v.get("subresources") or {}
        status_versions += "status" in subresources
        scale_versions += "scale" in subresources
        columns[v["name"]] = tuple(
            PrinterColumn(c["name"], c.get("type", "string"), c.get("jsonPath", ""),
                          c.get("description", ""), int(c.get("priority", 0)),
                          c.get("format", ""))
            for c in v.get("additionalPrinterColumns") or ())
    return ResourceType(
        group=spec["group"], kind=names["kind"], plural=names["plural"],
        singular=names.get("singular") or names["kind"].lower(),
        namespaced=spec.get("scope") == "Namespaced", versions=versions, storage_version=storage,
        short_names=tuple(names.get("shortNames") or ()),
        categories=tuple(names.get("categories") or ()),
        status_subresource=status_versions > 0, scale_subresource=scale_versions > 0,
        generation=True, unconditional_update=False, crd_name=crd["metadata"]["name"],
        schemas=schemas, printer_columns=columns,
    )


class Registry:
    """The served resources. Thread-safe: replaced wholesale on every change, so readers never
    lock."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_resource: dict[tuple[str, str], ResourceType] = {}
        self._by_kind: dict[tuple[str, str], ResourceType] = {}
        self.generation = 0  # bumped on every change; discovery caches key on it
        for rt in BUILTINS:
            self._by_resource[(rt.group, rt.plural)] = rt
        self._reindex()

    def _reindex(self) -> None:
        self._by_kind = {(rt.group, rt.kind): rt for rt in self._by_resource.values()}
        self.generation += 1

    def get(self, group: str, plural: str) -> ResourceType | None:
        return self._by_resource.get((group, plural))

    def by_kind(self, group: str, kind: str) -> ResourceType | None:
        return self._by_kind.get((group, kind))

    def served(self, group: str, version: str, plural: str) -> ResourceType | None:
        rt = self._by_resource.get((group, plural))
        return rt if rt is not None and version in rt.versions else None

    def all(self) -> list[ResourceType]:
        return list(self._by_resource.values())

    def put(self, rt: ResourceType) -> None:
        with self._lock:
            by_resource = dict(self._by_resource)
            by_resource[(rt.group, rt.plural)] = rt
            self._by_resource = by_resource
            self._reindex()

    def mark_terminating(self, group: str, plural: str) -> None:
        rt = self.get(group, plural)
        if rt is not None and not rt.terminating:
            self.put(replace(rt, terminating=True))

    def remove(self, group: str, plural: str) -> None:
        with self._lock:
            by_resource = dict(self._by_resource)
            by_resource.pop((group, plural), None)
            self._by_resource = by_resource
            self._reindex()

    def groups(self) -> list[tuple[str, list[str]]]:
        """Every API group but the core one, with its versions by priority, in /apis order."""
        versions: dict[str, set[str]] = {}
        for rt in self._by_resource.values():
            if rt.group:
                versions.setdefault(rt.group, set()).update(rt.versions)
        order = {g: i for i, g in enumerate(_BUILTIN_GROUP_ORDER)}
        names = sorted(versions, key=lambda g: (order.get(g, len(order)), g))
        return [(g, sorted(versions[g], key=version_priority)) for g in names]

    def resources_of(self, group: str, version: str) -> list[ResourceType]:
        return sorted((rt for rt in self._by_resource.values()
                       if rt.group == group and version in rt.versions), key=lambda r: r.plural)


def discovery_resources(rts: list[ResourceType], version: str) -> list[Json]:
    """The ``resources`` of an ``APIResourceList`` for one group-version."""
    out: list[Json] = []
    for rt in rts:
        entry: Json = {"name": rt.plural, "singularName": rt.singular,
                       "namespaced": rt.namespaced, "kind": rt.kind, "verbs": list(rt.verbs)}
        if rt.short_names:
            entry["shortNames"] = list(rt.short_names)
        if rt.categories:
            entry["categories"] = list(rt.categories)
        entry["storageVersionHash"] = storage_version_hash(rt.group, rt.storage_version, rt.kind)
        out.append(entry)
        subs: list[tuple[str, Json]] = []
        if rt.status_subresource:
            subs.append(("status", {"kind": rt.kind, "verbs": list(SUBRESOURCE_VERBS)}))
        if rt.scale_subresource:
            subs.append(("scale", {"group": "autoscaling", "version": "v1", "kind": "Scale",
                                   "verbs": list(SUBRESOURCE_VERBS)}))
        for name, verbs in rt.extra_subresources:
            subs.append((name, {"kind": rt.kind, "verbs": list(verbs)}))
        for name, sub in sorted(subs):
            out.append({"name": f"{rt.plural}/{name}", "singularName": "",
                        "namespaced": rt.namespaced, **sub})
    return out
