"""Identities of Kubernetes objects and kinds, independent of API version."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


def split_api_version(api_version: str) -> tuple[str, str]:
    """Group and version: ``"cluster.x-k8s.io/v1beta2"`` -> ``("cluster.x-k8s.io", "v1beta2")``.

    The core group is the empty string: ``"v1"`` -> ``("", "v1")``.
    """
    group, _, version = api_version.rpartition("/")
    return group, version


@dataclass(frozen=True, order=True)
class GroupKind:
    group: str  # "" for the core group
    kind: str

    def __str__(self) -> str:
        return f"{self.kind}.{self.group}" if self.group else self.kind


@dataclass(frozen=True, order=True)
class ObjectRef:
    """An object's identity: group, kind, namespace ("" when cluster-scoped) and name.

    The version is left out on purpose: an ownerReference written at v1beta1 names the
    same object as one read at v1beta2.
    """

    group: str
    kind: str
    namespace: str
    name: str

    @classmethod
    def of(cls, obj: Mapping[str, Any]) -> ObjectRef:
        group, _ = split_api_version(str(obj.get("apiVersion", "")))
        meta = obj.get("metadata") or {}
        return cls(group, str(obj.get("kind", "")), str(meta.get("namespace") or ""),
                   str(meta.get("name", "")))

    @property
    def group_kind(self) -> GroupKind:
        return GroupKind(self.group, self.kind)

    def __str__(self) -> str:
        where = f"{self.namespace}/" if self.namespace else ""
        return f"{self.group_kind}/{where}{self.name}"
