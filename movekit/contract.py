"""The Cluster API move contract, as data: what clusterctl moves, how, and what it reads to decide.

Every Cluster API name (groups, kinds, labels, annotations) and every per-kind rule lives here;
the graph, discovery, pre-checks, pausing and remapping read a :class:`Contract` (by default
:data:`CLUSTER_API`). A provider's rule is therefore a data change: extend the contract with
:func:`dataclasses.replace` and every reader honours it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from movekit.refs import GroupKind

CAPI_GROUP = "cluster.x-k8s.io"
ADDONS_GROUP = "addons.cluster.x-k8s.io"
CLUSTERCTL_GROUP = "clusterctl.cluster.x-k8s.io"

CLUSTERCTL_LABEL = CLUSTERCTL_GROUP  # on a CRD: its kind is moved
MOVE_LABEL = f"{CLUSTERCTL_GROUP}/move"  # every object is moved, alone
MOVE_HIERARCHY_LABEL = f"{CLUSTERCTL_GROUP}/move-hierarchy"  # moved with all that depends on it
PAUSED_ANNOTATION = f"{CAPI_GROUP}/paused"
BLOCK_MOVE_ANNOTATION = f"{CLUSTERCTL_GROUP}/block-move"
DELETE_FOR_MOVE_ANNOTATION = f"{CLUSTERCTL_GROUP}/delete-for-move"
# movekit's own, set in the patch that pauses and removed in the one that resumes: the run that
# paused an object, so that after a kill the next run knows the pause is movekit's, not a user's.
PAUSED_BY_ANNOTATION = "movekit.io/paused-by"

CLUSTER = GroupKind(CAPI_GROUP, "Cluster")
CLUSTER_CLASS = GroupKind(CAPI_GROUP, "ClusterClass")
MACHINE = GroupKind(CAPI_GROUP, "Machine")
CLUSTER_RESOURCE_SET = GroupKind(ADDONS_GROUP, "ClusterResourceSet")
CLUSTER_RESOURCE_SET_BINDING = GroupKind(ADDONS_GROUP, "ClusterResourceSetBinding")
SECRET = GroupKind("", "Secret")
CONFIG_MAP = GroupKind("", "ConfigMap")
PROVIDER = GroupKind(CLUSTERCTL_GROUP, "Provider")  # the clusterctl inventory
PROVIDER_API_VERSION = f"{CLUSTERCTL_GROUP}/v1alpha3"

FieldPath = tuple[str, ...]  # keys from the object's top level: ("spec", "paused")

# What a view keeps: the listed keys (True: the whole value); a one-item list projects every
# item of a list.
Projection = Mapping[str, "bool | Projection | list[Projection]"]


@dataclass(frozen=True)
class Pause:
    """How reconciliation of a kind is paused: a field set to true, or an annotation present."""

    field: FieldPath | None = None
    annotation: str | None = None


@dataclass(frozen=True)
class Readiness:
    """A check that must pass before an object moves; ``message`` says what is missing.

    It passes when any field of ``any_set`` is truthy, or a condition of ``condition_type`` is
    "True" in one of the ``conditions`` lists. With ``when`` it applies only if that field is set.
    """

    message: str
    any_set: tuple[FieldPath, ...] = ()
    conditions: tuple[FieldPath, ...] = ()
    condition_type: str = ""
    when: FieldPath | None = None

    @property
    def reads(self) -> tuple[FieldPath, ...]:
        return (*self.any_set, *self.conditions, *((self.when,) if self.when else ()))


@dataclass(frozen=True)
class NameReference:
    """A field of ``kind`` objects naming a ``target`` object (soft ownership by name).

    The first set field of ``name`` (and of ``namespace``; else the object's own namespace)
    wins. With ``items`` the name is read from every item of that list, relative to the item.
    """

    kind: GroupKind
    target: GroupKind
    name: tuple[FieldPath, ...]
    namespace: tuple[FieldPath, ...] = ()
    items: FieldPath | None = None


def field_value(obj: Mapping[str, Any], path: FieldPath) -> Any:
    """The value at ``path``, None when any step is missing or not a mapping."""
    value: Any = obj
    for key in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def first_set(obj: Mapping[str, Any], paths: tuple[FieldPath, ...]) -> Any:
    """The first truthy value among ``paths``, else None."""
    for path in paths:
        value = field_value(obj, path)
        if value:
            return value
    return None


@dataclass(frozen=True)
class Contract:
    """Which kinds move and the rules each kind follows; the fields each rule reads are derived."""

    always_moved: tuple[GroupKind, ...]  # besides the kinds of CRDs labelled CLUSTERCTL_LABEL
    cluster: GroupKind  # the tenancy root: named by a selection, holds the objects it owns
    roots: frozenset[GroupKind]  # hierarchy roots: moved with everything below them
    # A Secret without owners named <cluster>-<suffix> belongs to that Cluster; longest first.
    cluster_secret_suffixes: tuple[str, ...]
    topology_class: NameReference  # a Cluster uses (and pulls in) its ClusterClass
    binding_cluster: NameReference  # a ClusterResourceSetBinding belongs to its Cluster
    binding_sets: NameReference  # ... and pulls in the ClusterResourceSets it records
    pause: Mapping[GroupKind, Pause]
    readiness: Mapping[GroupKind, tuple[Readiness, ...]]
    reference_key_suffixes: tuple[str, ...]  # keys whose mapping may carry a namespace
    namespace_fields: tuple[FieldPath, ...]  # plain namespace fields remapped as well
    reference_group: str  # kinds of this group and its subgroups use only known references
    no_references: frozenset[GroupKind]  # kinds that name no other namespace
    metadata_read: tuple[FieldPath, ...] = field(default=(
        ("name",), ("namespace",), ("uid",), ("resourceVersion",), ("ownerReferences",),
        ("labels", MOVE_LABEL), ("labels", MOVE_HIERARCHY_LABEL),
        ("annotations", BLOCK_MOVE_ANNOTATION), ("annotations", PAUSED_BY_ANNOTATION)))

    @cached_property
    def metadata_projection(self) -> Projection:
        """What a view keeps of metadata: identity, owners, the labels and annotations read."""
        paths = [*self.metadata_read, *(("annotations", p.annotation)
                                        for p in self.pause.values() if p.annotation)]
        return _projection(paths)

    @cached_property
    def projections(self) -> dict[tuple[str, str], Projection]:
        """Beyond metadata, by (group, kind): what the pause, readiness and name rules read."""
        paths: dict[tuple[str, str], list[FieldPath]] = {}

        def reads(kind: GroupKind, *found: FieldPath) -> None:
            paths.setdefault((kind.group, kind.kind), []).extend(found)

        for kind, rule in self.pause.items():
            if rule.field:
                reads(kind, rule.field)
        for kind, checks in self.readiness.items():
            for check in checks:
                reads(kind, *check.reads)
        for ref in (self.topology_class, self.binding_cluster, self.binding_sets):
            reads(ref.kind, *ref.namespace)
            if ref.items:
                reads(ref.kind, *((*ref.items, "[]", *name) for name in ref.name))
            else:
                reads(ref.kind, *ref.name)
        return {key: _projection(found) for key, found in paths.items()}

    def knows_references(self, group: str, kind: str) -> bool:
        """Whether every namespace reference of this kind sits in a known reference field."""
        return (group == self.reference_group or group.endswith("." + self.reference_group)
                or GroupKind(group, kind) in self.no_references)


def _projection(paths: list[FieldPath] | tuple[FieldPath, ...]) -> Projection:
    """The nested keep-mapping of ``paths``; a ``"[]"`` step projects every item of a list."""
    tree: dict[str, Any] = {}
    for path in paths:
        node = tree
        for i, key in enumerate(path):
            if key == "[]":
                continue
            last = i == len(path) - 1
            if last:
                node[key] = True
                break
            if path[i + 1] == "[]":
                items = node.get(key)
                if not isinstance(items, list):
                    items = node[key] = [{}]
                node = items[0]
                continue
            inner = node.get(key)
            if inner is True:
                break  # an enclosing field is kept whole already
            if inner is None:
                inner = node[key] = {}
            node = inner
    return tree


_TOPOLOGY: FieldPath = ("spec", "topology")

CLUSTER_API = Contract(
    always_moved=(SECRET, CONFIG_MAP),
    cluster=CLUSTER,
    roots=frozenset({CLUSTER, CLUSTER_CLASS, CLUSTER_RESOURCE_SET}),
    cluster_secret_suffixes=("apiserver-etcd-client", "kubeconfig", "proxy", "etcd", "ca", "sa"),
    topology_class=NameReference(
        CLUSTER, CLUSTER_CLASS,
        # v1beta2 names it in classRef, v1beta1 in class and classNamespace.
        name=((*_TOPOLOGY, "classRef", "name"), (*_TOPOLOGY, "class")),
        namespace=((*_TOPOLOGY, "classRef", "namespace"), (*_TOPOLOGY, "classNamespace"))),
    binding_cluster=NameReference(CLUSTER_RESOURCE_SET_BINDING, CLUSTER,
                                  name=(("spec", "clusterName"),)),
    binding_sets=NameReference(CLUSTER_RESOURCE_SET_BINDING, CLUSTER_RESOURCE_SET,
                               name=(("clusterResourceSetName",),), items=("spec", "bindings")),
    pause={CLUSTER: Pause(field=("spec", "paused")),
           CLUSTER_CLASS: Pause(annotation=PAUSED_ANNOTATION)},
    readiness={
        CLUSTER: (
            Readiness(
                "infrastructure is not provisioned yet",
                # v1beta2 reports initialization.infrastructureProvisioned; v1beta1
                # infrastructureReady.
                any_set=(("status", "initialization", "infrastructureProvisioned"),
                         ("status", "infrastructureReady"))),
            Readiness(
                "control plane is not initialized yet "
                "(condition ControlPlaneInitialized is not True)",
                any_set=(("status", "initialization", "controlPlaneInitialized"),),
                # v1beta1 objects read at v1beta2 keep their old conditions under
                # status.deprecated.v1beta1.
                conditions=(("status", "conditions"),
                            ("status", "deprecated", "v1beta1", "conditions")),
                condition_type="ControlPlaneInitialized",
                when=("spec", "controlPlaneRef")),
        ),
        MACHINE: (Readiness("has no nodeRef yet (its Node has not joined)",
                            any_set=(("status", "nodeRef"),)),),
    },
    reference_key_suffixes=("Ref", "Refs"),
    namespace_fields=((*_TOPOLOGY, "classNamespace"),),
    reference_group=CAPI_GROUP,
    no_references=frozenset({SECRET, CONFIG_MAP}),
)
