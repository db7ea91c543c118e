"""The records and closed sets that discovery, the graph, the plan and the bundle all speak.

One type per concept, at the bottom of the layers (it imports only :mod:`movekit.refs`): the
bundle's manifest stores these records as they are, and ``schemas/manifest.v2.json`` lists the
same enum values and fields (``tests/test_model.py`` fails when one side changes alone).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from movekit.refs import GroupKind, ObjectRef

MAX_DEPTH = 64  # nesting of mappings and sequences in an object; real objects stay under 30


class Reason(StrEnum):
    """Why a discovered object is not moved; the values are the manifest's reason codes."""

    ORPHAN = "orphan"
    OWNER_KIND_UNKNOWN = "owner-kind-unknown"
    OWNER_MISSING = "owner-missing"
    OWNER_NOT_MOVED = "owner-not-moved"
    OWNERSHIP_CYCLE = "ownership-cycle"
    OUTSIDE_SELECTION = "outside-selection"


class ConflictPolicy(StrEnum):
    """What an import does with a foreign object already in the target (``--conflict``)."""

    FAIL = "fail"
    SKIP = "skip"
    UPDATE = "update"


class Layout(StrEnum):
    """What an export writes: a bundle, or clusterctl's directory (``--clusterctl-layout``)."""

    BUNDLE = "bundle"
    CLUSTERCTL = "clusterctl"  # the directory clusterctl move --to-directory writes


@dataclass(frozen=True)
class Selection:
    """What an export or move takes: a namespace, and optionally some of its Clusters."""

    namespace: str | None  # None: all namespaces
    clusters: frozenset[str] = frozenset()  # empty: every Cluster in the namespace(s)


@dataclass(frozen=True)
class KindInfo:
    """A kind that moves, at the (storage) version its objects were read."""

    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool
    crd_name: str | None  # None for core kinds
    # The CRD's clusterctl labels; the manifest does not record them, so a bundle's are False.
    move: bool = False  # clusterctl.cluster.x-k8s.io/move: every object is force-moved
    move_hierarchy: bool = False  # clusterctl.cluster.x-k8s.io/move-hierarchy: all are roots

    @property
    def group_kind(self) -> GroupKind:
        return GroupKind(self.group, self.kind)


@dataclass(frozen=True)
class Provider:
    """A clusterctl ``Provider`` (an inventory entry): what the target must also run."""

    name: str
    namespace: str
    type: str
    version: str


@dataclass(frozen=True)
class NamespaceEntry:
    """A namespace the moved objects live in, with the labels and annotations it is created with."""

    name: str
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Exclusion:
    """A discovered object that does not move, and why."""

    ref: ObjectRef
    api_version: str
    reason: Reason
    detail: str


_JSON_SCALARS = (str, int, float, bool, type(None))


def plain_copy(value: Any, depth: int = 0) -> Any:
    """A deep copy made only of dict, list and JSON scalars; ValueError for anything else."""
    if type(value) in _JSON_SCALARS:  # the common case first: this runs for every field
        return value
    if depth >= MAX_DEPTH:
        raise ValueError(f"object nests deeper than {MAX_DEPTH} levels")
    if isinstance(value, dict | Mapping):
        copied: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise ValueError(f"mapping key {key!r} is not a string")
            copied[key] = plain_copy(item, depth + 1)
        return copied
    if isinstance(value, list | tuple) or (
            isinstance(value, Sequence) and not isinstance(value, str | bytes | bytearray)):
        return [plain_copy(item, depth + 1) for item in value]
    if isinstance(value, _JSON_SCALARS):  # subclasses, such as an IntEnum
        return value
    raise ValueError(f"value of type {type(value).__name__} cannot be written to a bundle")
