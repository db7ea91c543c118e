"""Object identities for the emulator and its fixtures: kubesim's own, so it never needs movekit."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


def split_api_version(api_version: str) -> tuple[str, str]:
    """Group and version: ``"cluster.x-k8s.io/v1beta2"`` -> ``("cluster.x-k8s.io", "v1beta2")``;
    the core group is the empty string."""
    group, _, version = api_version.rpartition("/")
    return group, version


@dataclass(frozen=True, order=True)
class ObjectRef:
    """An object's identity without its version: group, kind, namespace ("" when
    cluster-scoped) and name. Printed as movekit prints its own: ``Kind.group/ns/name``."""

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

    def __str__(self) -> str:
        kind = f"{self.kind}.{self.group}" if self.group else self.kind
        where = f"{self.namespace}/" if self.namespace else ""
        return f"{kind}/{where}{self.name}"
