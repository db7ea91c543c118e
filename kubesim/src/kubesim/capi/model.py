"""Topologies as data: objects with symbolic owners, and what the move graph must make of them.

A topology names its objects by key ("Cluster/c1", "Secret/capa-system/aws-creds") and its
ownerReferences by the key of the owner, because uids only exist once a server assigns
them. `seed` turns the keys into real ownerReferences; `Topology.expected_*` turns the
expectations into `ObjectRef`s for the namespace a test seeded into.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from kubesim.refs import ObjectRef, split_api_version

# Namespace placeholder: the namespace handed to `seed` (the one a test selects). It may also
# stand inside another namespace's name or a cluster-scoped object's name ("<main>-classes",
# "aws-static-<main>"), so that tests sharing one real cluster never share an object.
MAIN = "<main>"
# Namespace of cluster-scoped objects.
CLUSTER_SCOPED = ""

REASONS = frozenset({
    "orphan", "owner-kind-unknown", "owner-missing", "owner-not-moved", "ownership-cycle",
    "outside-selection",
})

# Secrets a Cluster owns by name alone when they carry no ownerReferences (clusterctl's
# soft ownership, see DESIGN.md "What moves").
CLUSTER_SECRET_SUFFIXES = ("kubeconfig", "ca", "etcd", "sa", "proxy", "apiserver-etcd-client")


def resolve(text: str, main: str) -> str:
    """`text` with the MAIN placeholder bound to the namespace `main`."""
    return text.replace(MAIN, main)


def resolve_all(value: Any, main: str) -> Any:
    """A copy of a manifest (or any JSON value) with every MAIN placeholder bound to `main`."""
    if isinstance(value, str):
        return resolve(value, main)
    if isinstance(value, Mapping):
        return {resolve(k, main): resolve_all(v, main) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [resolve_all(v, main) for v in value]
    return value


@dataclass(frozen=True)
class Owner:
    """An ownerReference to another object of the same topology, by key."""

    key: str
    controller: bool | None = None
    block_owner_deletion: bool | None = None
    # Written as the owner's apiVersion when set, e.g. a v1beta1 reference left behind
    # by a controller that ran before the provider upgrade.
    api_version: str | None = None
    # The reference carries a uid that is not the owner's: the owner was deleted and
    # recreated under the same name, which a mover must treat as a missing owner.
    stale_uid: bool = False


def controller_owner(key: str) -> Owner:
    """The ownerReference controller-runtime's SetControllerReference writes."""
    return Owner(key, controller=True, block_owner_deletion=True)


@dataclass(frozen=True)
class ObjectSpec:
    """One object of a topology, before a server has seen it."""

    manifest: Mapping[str, Any]  # apiVersion, kind, metadata (no namespace), spec/data...
    namespace: str = MAIN  # MAIN, CLUSTER_SCOPED or a literal namespace
    owners: tuple[Owner, ...] = ()
    status: Mapping[str, Any] | None = None  # written through /status after create
    manager: str = "manager"  # field manager of the create, as the real creator would be
    # Server-side apply instead of create, as the Cluster API topology controller writes.
    apply: bool = False
    # False for an owner that only appears in someone's ownerReferences.
    exists: bool = True

    @property
    def kind(self) -> str:
        return str(self.manifest["kind"])

    @property
    def name(self) -> str:
        return str(self.manifest["metadata"]["name"])

    @property
    def api_version(self) -> str:
        return str(self.manifest["apiVersion"])

    @property
    def key(self) -> str:
        if self.namespace in (MAIN, CLUSTER_SCOPED):
            return f"{self.kind}/{self.name}"
        return f"{self.kind}/{self.namespace}/{self.name}"

    def resolved_namespace(self, main: str) -> str:
        return resolve(self.namespace, main)

    def resolved_name(self, main: str) -> str:
        return resolve(self.name, main)

    def ref(self, main: str) -> ObjectRef:
        group, _ = split_api_version(self.api_version)
        return ObjectRef(group, self.kind, self.resolved_namespace(main), self.resolved_name(main))


@dataclass(frozen=True)
class Expected:
    """What building the move graph over a seeded topology must give.

    Keys are object keys of the topology. Every discovered object is either moved (with
    its wave) or excluded (with a reason code). Objects of kinds movekit does not
    discover (a CRD without the clusterctl label) appear in neither.
    Objects in a namespace outside the selection that nothing pulls in are listed as
    `outside-selection`: a discovery that does not read other namespaces never sees them.
    What the API server adds by itself (the kube-root-ca.crt ConfigMap of every namespace)
    is not part of a topology; discovery sees it as an orphan.
    """

    moved: Mapping[str, int]
    excluded: Mapping[str, str] = field(default_factory=dict)
    keep_in_source: frozenset[str] = frozenset()
    # Clusters (spec.paused) and ClusterClasses (paused annotation) paused before the move.
    paused: frozenset[str] = frozenset()
    # Objects the provisioning pre-check must name: Clusters not provisioned or without
    # ControlPlaneInitialized, Machines without status.nodeRef.
    precheck_failures: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Topology:
    name: str
    description: str
    objects: tuple[ObjectSpec, ...]
    expected: Expected
    # `--cluster` selection: the named Clusters of the main namespace; empty means all.
    clusters: tuple[str, ...] = ()
    # The selection is every namespace (-A) rather than the main one.
    all_namespaces: bool = False
    # CRDs the topology installs itself: kinds movekit must not know about.
    crds: tuple[Mapping[str, Any], ...] = ()

    @property
    def dangling_owners(self) -> bool:
        """Whether an object names an owner that does not exist (gone, or recreated under
        another uid). A garbage collector deletes such objects within seconds, so the topology
        holds only on a cluster without one."""
        by_key = self.by_key()
        return any(owner.stale_uid or not by_key[owner.key].exists
                   for spec in self.objects for owner in spec.owners)

    def by_key(self) -> dict[str, ObjectSpec]:
        return {spec.key: spec for spec in self.objects}

    def refs(self, namespace: str) -> dict[str, ObjectRef]:
        return {spec.key: spec.ref(namespace) for spec in self.objects}

    def namespaces(self, namespace: str) -> list[str]:
        """Every namespace the topology's objects live in, main one first."""
        found = [namespace]
        for spec in self.objects:
            ns = spec.resolved_namespace(namespace)
            if ns and ns not in found:
                found.append(ns)
        return found

    def expected_moved(self, namespace: str) -> dict[ObjectRef, int]:
        refs = self.refs(namespace)
        return {refs[key]: wave for key, wave in self.expected.moved.items()}

    def expected_excluded(self, namespace: str) -> dict[ObjectRef, str]:
        refs = self.refs(namespace)
        return {refs[key]: reason for key, reason in self.expected.excluded.items()}

    def expected_keep_in_source(self, namespace: str) -> frozenset[ObjectRef]:
        refs = self.refs(namespace)
        return frozenset(refs[key] for key in self.expected.keep_in_source)

    def expected_global(self, namespace: str) -> frozenset[ObjectRef]:
        """Moved objects that are cluster-scoped: created if absent, never updated."""
        by_key = self.by_key()
        return frozenset(by_key[key].ref(namespace) for key in self.expected.moved
                         if by_key[key].namespace == CLUSTER_SCOPED)

    def expected_precheck_failures(self, namespace: str) -> frozenset[ObjectRef]:
        refs = self.refs(namespace)
        return frozenset(refs[key] for key in self.expected.precheck_failures)

    def expected_paused(self, namespace: str) -> frozenset[ObjectRef]:
        refs = self.refs(namespace)
        return frozenset(refs[key] for key in self.expected.paused)


def soft_owners(spec: ObjectSpec, index: Mapping[tuple[str, str, str], ObjectSpec]) -> list[str]:
    """Keys of the objects `spec` depends on without an ownerReference.

    `index` maps (kind, namespace, name) to specs, namespaces unresolved (MAIN stays MAIN).
    """
    found: list[str] = []
    if spec.kind == "Secret" and not spec.owners:
        for suffix in CLUSTER_SECRET_SUFFIXES:
            cluster_name = spec.name.removesuffix(f"-{suffix}")
            if cluster_name != spec.name and ("Cluster", spec.namespace, cluster_name) in index:
                found.append(index["Cluster", spec.namespace, cluster_name].key)
    elif spec.kind == "Cluster":
        class_ref = spec.manifest.get("spec", {}).get("topology", {}).get("classRef")
        if class_ref:
            class_ns = class_ref.get("namespace") or spec.namespace
            owner = index.get(("ClusterClass", class_ns, class_ref["name"]))
            if owner is not None:
                found.append(owner.key)
    elif spec.kind == "ClusterResourceSetBinding":
        owner = index.get(("Cluster", spec.namespace, spec.manifest["spec"]["clusterName"]))
        if owner is not None:
            found.append(owner.key)
    return found


def derive_waves(objects: Iterable[ObjectSpec], moved: Iterable[str]) -> dict[str, int]:
    """Wave of each moved object: 0 without moved owners, else 1 + the latest owner's wave.

    Owners are ownerReferences and soft owners. Used to compute a generated fleet's
    expectations, and to check that hand-written expectations obey the rule.
    """
    specs = list(objects)
    by_key = {spec.key: spec for spec in specs}
    index = {(spec.kind, spec.namespace, spec.name): spec for spec in specs}
    moved_keys = set(moved)
    waves: dict[str, int] = {}

    def depends_on(key: str) -> list[str]:
        spec = by_key[key]
        owners = [owner.key for owner in spec.owners] + soft_owners(spec, index)
        return [owner for owner in owners if owner in moved_keys]

    for start in sorted(moved_keys):
        # Iterative depth-first walk: fleets nest deep enough that recursion is a risk.
        stack = [start]
        while stack:
            key = stack[-1]
            if key in waves:
                stack.pop()
                continue
            pending = [owner for owner in depends_on(key) if owner not in waves]
            if pending:
                if any(owner in stack for owner in pending):
                    raise ValueError(f"ownership cycle through {key} among moved objects")
                stack.extend(pending)
                continue
            waves[key] = 1 + max((waves[owner] for owner in depends_on(key)), default=-1)
            stack.pop()
    return waves
