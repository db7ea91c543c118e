"""The object graph of a move: which discovered objects travel, in what order, why others stay.

Edges are ownerReferences, matched by group, kind, name, the object's namespace (none for
cluster-scoped owners) and uid, plus soft ownership: a Secret without owners named
``<cluster>-{kubeconfig,ca,etcd,sa,proxy,apiserver-etcd-client}`` belongs to that Cluster, a
Cluster depends on its topology's ClusterClass (which may sit in another namespace), and a
ClusterResourceSetBinding on the Cluster in ``spec.clusterName``.

Roots are Clusters, ClusterClasses, ClusterResourceSets and ``move-hierarchy`` objects; ``move``
objects travel alone. An object moves when a root reaches it and every owner and soft owner
moves too; a moving Cluster pulls in its ClusterClass, a moving binding its ClusterResourceSets.
Naming Clusters narrows the roots to them and to what they use, plus the move and move-hierarchy
objects that record no users (identities). Wave = 1 + the highest wave of its owners and soft
owners (0 when it has none). What is shared with objects that stay (global objects, a
ClusterClass or ClusterResourceSet also used by a Cluster left behind) is kept in the source.
Nothing is dropped silently: every other object is an ``Exclusion`` with a reason.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from movekit.contract import (
    CLUSTER,
    CLUSTER_API,
    CLUSTERCTL_LABEL,
    MOVE_HIERARCHY_LABEL,
    MOVE_LABEL,
    SECRET,
    Contract,
    NameReference,
    field_value,
    first_set,
)

# Re-exported for the graph's tests, which build paused ClusterClasses with it.
from movekit.contract import PAUSED_ANNOTATION as PAUSED_ANNOTATION
from movekit.model import Exclusion, KindInfo, Reason, Selection
from movekit.refs import GroupKind, ObjectRef, split_api_version

# Exclusions a dependent inherits as owner-not-moved even when no root reaches it.
_INHERITED = frozenset({Reason.OWNER_KIND_UNKNOWN, Reason.OWNER_MISSING, Reason.OWNER_NOT_MOVED})


@dataclass(frozen=True, order=True)
class OwnerEdge:
    """One ownerReference, as written on the object (flags are None when absent)."""

    ref: ObjectRef
    uid: str
    api_version: str
    controller: bool | None
    block_owner_deletion: bool | None


def waves_text(count: int) -> str:
    """How every output counts waves: numbered from 0, as the manifest numbers them
    (``4 waves (0-3)``). Plans, progress, inspect and JSON all say the manifest's number."""
    if count <= 0:
        return "0 waves"
    return f"{count} wave{'s' if count > 1 else ''} (0{f'-{count - 1}' if count > 1 else ''})"


def wave_text(wave: int, count: int) -> str:
    """One wave of ``count``, as :func:`waves_text` numbers them: ``wave 2 of 0-3``."""
    return f"wave {wave} of 0-{max(count - 1, 0)}"


@dataclass(frozen=True)
class Node:
    ref: ObjectRef
    api_version: str
    uid: str
    owners: tuple[OwnerEdge, ...]  # every ownerReference, resolvable or not, sorted by ref
    soft_owners: tuple[ObjectRef, ...]  # soft ownership not already expressed by an ownerReference
    wave: int  # -1 when the object is not moved
    is_global: bool  # cluster-scoped: created if absent, never updated or deleted
    keep_in_source: bool  # copied, not deleted from the source
    clusters: frozenset[ObjectRef]  # the Clusters it is a tenant of (a Cluster is its own tenant)
    paused: bool | None  # Cluster: spec.paused; ClusterClass: paused annotation; else None


@dataclass(frozen=True)
class Graph:
    """Every discovered object as a Node; the moved ones in wave order, the others excluded."""

    nodes: dict[ObjectRef, Node]  # every discovered object, sorted by ref
    moved: tuple[ObjectRef, ...]  # sorted by (wave, ref)
    excluded: tuple[Exclusion, ...]  # sorted by ref
    _dependents: dict[ObjectRef, tuple[ObjectRef, ...]] = field(
        default_factory=dict, repr=False, compare=False)
    _tenants: dict[ObjectRef, tuple[ObjectRef, ...]] = field(
        default_factory=dict, repr=False, compare=False)
    _exclusions: dict[ObjectRef, Exclusion] = field(
        default_factory=dict, repr=False, compare=False)

    def node(self, ref: ObjectRef) -> Node:
        return self.nodes[ref]

    def is_moved(self, ref: ObjectRef) -> bool:
        return ref in self.nodes and ref not in self._exclusions

    def exclusion(self, ref: ObjectRef) -> Exclusion | None:
        return self._exclusions.get(ref)

    def waves(self) -> list[list[ObjectRef]]:
        """The moved objects grouped by wave, wave 0 first; each wave sorted by ref."""
        waves: list[list[ObjectRef]] = []
        for ref in self.moved:
            wave = self.nodes[ref].wave
            while len(waves) <= wave:
                waves.append([])
            waves[wave].append(ref)
        return waves

    def dependents(self, ref: ObjectRef) -> tuple[ObjectRef, ...]:
        """Direct dependents through ownerReferences and soft ownership, moved or not."""
        return self._dependents.get(ref, ())

    def tenants(self, cluster: ObjectRef) -> tuple[ObjectRef, ...]:
        """Every object that belongs to the Cluster, the Cluster included, moved or not."""
        return self._tenants.get(cluster, ())

    def clusters(self) -> tuple[ObjectRef, ...]:
        """The Clusters that move, sorted by ref: the roots of an inspect tree."""
        return tuple(sorted(ref for ref in self.moved if ref.group_kind == CLUSTER))

    def summary(self) -> dict[str, int]:
        """``{"moved": n}`` plus the number of excluded objects per reason that occurs."""
        counts = {"moved": len(self.moved)}
        for reason in Reason:
            count = sum(1 for e in self.excluded if e.reason == reason)
            if count:
                counts[reason.value] = count
        return counts


def build(objects: Iterable[Mapping[str, Any]], kinds: Mapping[GroupKind, KindInfo],
          selection: Selection, contract: Contract = CLUSTER_API) -> Graph:
    """The graph of the discovered ``objects`` under ``contract``; pure, linear in objects and
    edges."""
    return _Builder(objects, kinds, selection, contract).graph()


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _bool_or_none(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


def _deduplicate(objects: Iterable[Mapping[str, Any]]) -> list[tuple[ObjectRef, Mapping[str, Any]]]:
    """One object per ref, sorted; of two reads of the same ref the newer one wins."""
    latest: dict[tuple[str, str, str, str], tuple[ObjectRef, Mapping[str, Any]]] = {}
    for obj in objects:
        ref = ObjectRef.of(obj)
        seen = latest.get(_key(ref))
        if seen is None or _newer(obj, seen[1]):
            latest[_key(ref)] = ref, obj
    return [latest[key] for key in sorted(latest)]


def _key(ref: ObjectRef) -> tuple[str, str, str, str]:
    """ObjectRef as a plain tuple: same order, but sorts and hashes far faster."""
    return ref.group, ref.kind, ref.namespace, ref.name


def _newer(obj: Mapping[str, Any], than: Mapping[str, Any]) -> bool:
    def version(obj: Mapping[str, Any]) -> tuple[int, str]:
        meta = _mapping(obj.get("metadata"))
        rv = str(meta.get("resourceVersion") or "")
        return int(rv) if rv.isdigit() else -1, str(meta.get("uid") or "")
    return version(obj) > version(than)


def _cluster_secret_owner(name: str, suffixes: tuple[str, ...]) -> str | None:
    """``"c1-kubeconfig"`` -> ``"c1"``: the Cluster a conventionally named Secret belongs to."""
    for suffix in suffixes:
        if name.endswith("-" + suffix) and len(name) > len(suffix) + 1:
            return name[: -len(suffix) - 1]
    return None


def _named(obj: Mapping[str, Any], rule: NameReference, namespace: str) -> ObjectRef | None:
    """The object ``obj`` names by ``rule`` (in ``namespace`` unless the rule says otherwise)."""
    name = first_set(obj, rule.name)
    if not name:
        return None
    target = rule.target
    return ObjectRef(target.group, target.kind, str(first_set(obj, rule.namespace) or namespace),
                     str(name))


def _unknown_kind_detail(owner: ObjectRef) -> str:
    if "." not in owner.group:
        return (f"owner {owner} is of a built-in kind movekit does not move (only Secrets, "
                f"ConfigMaps and kinds of CRDs labelled {CLUSTERCTL_LABEL} move)")
    return (f"owner {owner} is of a kind movekit does not move "
            f"(its CRD is not labelled {CLUSTERCTL_LABEL})")


def _listing(refs: Sequence[ObjectRef], total: int) -> str:
    """The first few of ``total`` refs: a long cycle is named, not printed."""
    more = f" and {total - len(refs)} more" if total > len(refs) else ""
    return ", ".join(str(ref) for ref in refs) + more


class _Builder:
    """Working state of one ``build``: nodes are numbered in ref order, edges are index lists."""

    def __init__(self, objects: Iterable[Mapping[str, Any]], kinds: Mapping[GroupKind, KindInfo],
                 selection: Selection, contract: Contract) -> None:
        self.selection = selection
        self.contract = contract
        entries = _deduplicate(objects)
        self.refs = [ref for ref, _ in entries]
        self.objs = [obj for _, obj in entries]
        # Keyed by plain tuples: hashing them is much cheaper than hashing ObjectRefs.
        self.index = {_key(ref): i for i, ref in enumerate(self.refs)}
        self.kind_by_key = {(gk.group, gk.kind): info for gk, info in kinds.items()}
        self.metas = [_mapping(obj.get("metadata")) for obj in self.objs]
        self.uids = [str(meta.get("uid") or "") for meta in self.metas]
        self.by_uid: dict[str, int] = {}
        for i, uid in enumerate(self.uids):
            self.by_uid.setdefault(uid, i)
        count = len(self.refs)
        self.owner_edges: list[tuple[OwnerEdge, ...]] = []
        self.uplinks: list[list[int]] = [[] for _ in range(count)]  # resolved owners + soft owners
        self.soft: dict[int, list[int]] = {}  # node -> soft owners; few nodes have any
        self.dependents: list[list[int]] = [[] for _ in range(count)]
        self.broken: list[tuple[Reason, str] | None] = [None] * count
        self.pulls: dict[int, list[int]] = {}  # node -> nodes it brings along upwards
        self.binding_cluster: dict[int, int] = {}
        self.lookalike: dict[int, str] = {}  # Secrets named like a Cluster's that does not exist
        self.infos = [self.kind_by_key.get((ref.group, ref.kind)) for ref in self.refs]
        # The kinds with rules of their own, by (group, kind): a tuple key hashes faster than
        # GroupKind.
        special = {(gk.group, gk.kind): gk for gk in (
            *contract.roots, *contract.pause, contract.cluster, SECRET,
            contract.topology_class.kind, contract.binding_cluster.kind)}
        self.special = [special.get((ref.group, ref.kind)) for ref in self.refs]
        cluster = special[contract.cluster.group, contract.cluster.kind]
        self.is_cluster = [kind is cluster for kind in self.special]
        # Decisions, filled in by graph().
        self.cycles: dict[int, tuple[int, ...]] = {}
        self.below_cycle: set[int] = set()
        self.in_scope: list[bool] = []
        self.narrowed = bool(selection.clusters)
        self.reached: list[bool] = []
        self.would_reach: list[bool] = []
        self.selected: set[int] = set()
        self.shared: set[int] = set()  # with named Clusters: roots that may serve other Clusters
        self.moved: list[bool] = []
        self.tenancy: list[list[int]] = []
        self.exclusions: dict[int, tuple[Reason, str]] = {}

    # edges

    def _find(self, ref: ObjectRef) -> int | None:
        return self.index.get(_key(ref))

    def _link(self) -> None:
        for i, (ref, obj) in enumerate(zip(self.refs, self.objs, strict=True)):
            edges = self._owner_edges(i, ref)
            self.owner_edges.append(edges)
            problems: list[tuple[int, ObjectRef, Reason, str]] = []
            for edge in edges:
                resolved = self._resolve(edge)
                if isinstance(resolved, int):
                    if resolved not in self.uplinks[i]:
                        self.uplinks[i].append(resolved)
                else:
                    rank = 0 if resolved[0] is Reason.OWNER_KIND_UNKNOWN else 1
                    problems.append((rank, edge.ref, *resolved))
            if problems:
                _, _, reason, detail = min(problems)
                self.broken[i] = (reason, detail)
            for j in self._soft_owners(i, ref, obj, bool(edges)):
                if j not in self.uplinks[i]:
                    self.uplinks[i].append(j)
                    self.soft.setdefault(i, []).append(j)
        for soft in self.soft.values():
            soft.sort()
        for i, owners in enumerate(self.uplinks):
            owners.sort()
            for j in owners:
                self.dependents[j].append(i)

    def _owner_edges(self, i: int, ref: ObjectRef) -> tuple[OwnerEdge, ...]:
        edges: dict[tuple[str, str, str, str], OwnerEdge] = {}
        for owner in self.metas[i].get("ownerReferences") or ():
            owner = _mapping(owner)
            api_version = str(owner.get("apiVersion") or "")
            group, _ = split_api_version(api_version)
            kind = str(owner.get("kind") or "")
            info = self.kind_by_key.get((group, kind))
            # An owner of unknown scope is assumed to share the object's namespace.
            namespace = ref.namespace if info is None or info.namespaced else ""
            key = (group, kind, namespace, str(owner.get("name") or ""))
            if key in edges:
                continue
            j = self.index.get(key)
            owner_ref = self.refs[j] if j is not None else ObjectRef(*key)
            edges[key] = OwnerEdge(
                owner_ref, str(owner.get("uid") or ""), api_version,
                _bool_or_none(owner.get("controller")),
                _bool_or_none(owner.get("blockOwnerDeletion")))
        if len(edges) < 2:
            return tuple(edges.values())
        return tuple(edges[key] for key in sorted(edges))

    def _resolve(self, edge: OwnerEdge) -> int | tuple[Reason, str]:
        if (edge.ref.group, edge.ref.kind) not in self.kind_by_key:
            return Reason.OWNER_KIND_UNKNOWN, _unknown_kind_detail(edge.ref)
        j = self._find(edge.ref)
        if j is not None and self.uids[j] == edge.uid:
            return j
        elsewhere = self.by_uid.get(edge.uid)
        if elsewhere is not None and self.refs[elsewhere].namespace != edge.ref.namespace:
            return Reason.OWNER_MISSING, (
                f"ownerReference uid {edge.uid} is {self.refs[elsewhere]}, outside the object's "
                f"namespace; Kubernetes does not resolve owners across namespaces")
        if j is not None:
            return Reason.OWNER_MISSING, (
                f"owner {edge.ref} has uid {self.uids[j]}, the ownerReference expects {edge.uid}")
        return Reason.OWNER_MISSING, f"owner {edge.ref} does not exist"

    def _soft_owners(self, i: int, ref: ObjectRef, obj: Mapping[str, Any],
                     has_owners: bool) -> list[int]:
        kind, contract = self.special[i], self.contract
        if kind is None:
            return []
        found: list[int | None] = []
        if kind == SECRET and not has_owners:
            name = _cluster_secret_owner(ref.name, contract.cluster_secret_suffixes)
            if name is not None:
                cluster = contract.cluster
                j = self._find(ObjectRef(cluster.group, cluster.kind, ref.namespace, name))
                if j is None:
                    self.lookalike[i] = name
                found.append(j)
        elif kind == contract.topology_class.kind:
            class_ref = _named(obj, contract.topology_class, ref.namespace)
            j = self._find(class_ref) if class_ref else None
            found.append(j)
            if j is not None:
                self.pulls.setdefault(i, []).append(j)
        elif kind == contract.binding_cluster.kind:
            found.append(self._binding_cluster(i, ref, obj))
            sets = contract.binding_sets
            items = field_value(obj, sets.items) if sets.items else None
            for item in items if isinstance(items, list) else ():
                named = _named(_mapping(item), sets, ref.namespace)
                crs = self._find(named) if named else None
                if crs is not None:
                    self.pulls.setdefault(i, []).append(crs)
        return [j for j in found if j is not None]

    def _binding_cluster(self, i: int, ref: ObjectRef, obj: Mapping[str, Any]) -> int | None:
        rule = self.contract.binding_cluster
        named = _named(obj, rule, ref.namespace)
        # Bindings written before spec.clusterName existed name their Cluster as an owner.
        candidates = [named] if named else [
            edge.ref for edge in self.owner_edges[i] if edge.ref.group_kind == rule.target]
        for candidate in candidates:
            j = self._find(candidate)
            if j is not None:
                self.binding_cluster[i] = j
                return j
        return None

    # traversals

    def _topological_order(self) -> tuple[list[int], list[int]]:
        """Kahn's order owners-first, and the nodes left over: on or below a cycle."""
        pending = [len(owners) for owners in self.uplinks]
        queue = deque(i for i, n in enumerate(pending) if n == 0)
        order: list[int] = []
        while queue:
            i = queue.popleft()
            order.append(i)
            for d in self.dependents[i]:
                pending[d] -= 1
                if pending[d] == 0:
                    queue.append(d)
        return order, [i for i, n in enumerate(pending) if n > 0]

    def _cycles(self, leftover: list[int]) -> dict[int, tuple[int, ...]]:
        """Node -> members of its cycle, for nodes on a cycle (iterative Tarjan over leftovers)."""
        inside = set(leftover)
        number: dict[int, int] = {}
        low: dict[int, int] = {}
        stack: list[int] = []
        on_stack: set[int] = set()
        cycles: dict[int, tuple[int, ...]] = {}
        for root in leftover:
            if root in number:
                continue
            number[root] = low[root] = len(number)
            stack.append(root)
            on_stack.add(root)
            work = [(root, iter(self.dependents[root]))]
            while work:
                v, successors = work[-1]
                descended = False
                for w in successors:
                    if w not in inside:
                        continue
                    if w not in number:
                        number[w] = low[w] = len(number)
                        stack.append(w)
                        on_stack.add(w)
                        work.append((w, iter(self.dependents[w])))
                        descended = True
                        break
                    if w in on_stack:
                        low[v] = min(low[v], number[w])
                if descended:
                    continue
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[v])
                if low[v] == number[v]:
                    component: list[int] = []
                    while True:
                        w = stack.pop()
                        on_stack.discard(w)
                        component.append(w)
                        if w == v:
                            break
                    if len(component) > 1 or v in self.uplinks[v]:
                        members = tuple(sorted(component))
                        for w in component:
                            cycles[w] = members
        return cycles

    def _reach(self, roots: list[int], forced: list[int]) -> list[bool]:
        """Nodes reached downward from the roots (plus pulled-in ones), and forced nodes alone."""
        reached = [False] * len(self.refs)
        queue = deque(roots)
        for i in roots:
            reached[i] = True
        while queue:
            i = queue.popleft()
            pulled = self.pulls.get(i, ())
            cluster = self.binding_cluster.get(i)
            # A binding reached through a shared ClusterResourceSet speaks for its own Cluster only.
            if cluster is not None and not reached[cluster]:
                pulled = ()
            for d in (*self.dependents[i], *pulled):
                # A ClusterClass does not carry the Clusters that use it: Clusters are roots only.
                if not reached[d] and not self.is_cluster[d]:
                    reached[d] = True
                    queue.append(d)
        for i in forced:
            reached[i] = True
        return reached

    def _tenancy(self) -> list[list[int]]:
        tenancy: list[list[int]] = [[] for _ in self.refs]
        for c, is_cluster in enumerate(self.is_cluster):
            if not is_cluster:
                continue
            seen = {c}
            queue = deque([c])
            while queue:
                i = queue.popleft()
                tenancy[i].append(c)
                for d in self.dependents[i]:
                    if d not in seen:
                        seen.add(d)
                        queue.append(d)
        return tenancy

    # decisions

    def _in_scope(self, ref: ObjectRef) -> bool:
        namespace = self.selection.namespace
        return not ref.namespace or namespace is None or ref.namespace == namespace

    def _is_root(self, i: int) -> bool:
        info = self.infos[i]
        labels = _mapping(self.metas[i].get("labels"))
        return (self.special[i] in self.contract.roots or MOVE_HIERARCHY_LABEL in labels
                or (info is not None and info.move_hierarchy))

    def _is_forced(self, i: int) -> bool:
        info = self.infos[i]
        labels = _mapping(self.metas[i].get("labels"))
        return MOVE_LABEL in labels or (info is not None and info.move)

    def _paused(self, i: int) -> bool | None:
        kind = self.special[i]
        rule = self.contract.pause.get(kind) if kind is not None else None
        if rule is None:
            return None
        if rule.field:
            return field_value(self.objs[i], rule.field) is True
        return rule.annotation in _mapping(self.metas[i].get("annotations"))

    def graph(self) -> Graph:
        self._link()
        refs, count = self.refs, len(self.refs)
        order, leftover = self._topological_order()
        self.cycles = self._cycles(leftover)
        self.below_cycle = set(leftover)
        self.in_scope = [self._in_scope(ref) for ref in refs]
        roots = [i for i in range(count) if self.in_scope[i] and self._is_root(i)]
        forced = [i for i in range(count) if self.in_scope[i] and self._is_forced(i)]
        if self.narrowed:
            def chosen(i: int) -> bool:
                if self.is_cluster[i]:
                    return refs[i].name in self.selection.clusters
                # ClusterClasses and ClusterResourceSets come only when a chosen Cluster uses them;
                # other move and move-hierarchy objects (identities) record no users: copy them.
                return self.special[i] not in self.contract.roots
            self.shared = {i for i in (*roots, *forced) if chosen(i) and not self.is_cluster[i]}
            self.reached = self._reach([i for i in roots if chosen(i)],
                                       [i for i in forced if chosen(i)])
            self.would_reach = self._reach(roots, forced)
        else:
            self.reached = self.would_reach = self._reach(roots, forced)
        self.selected = {i for i in roots if self.is_cluster[i] and self.reached[i]}

        self.moved = [False] * count
        wave = [-1] * count
        for i in order:
            ups = self.uplinks[i]
            if self.reached[i] and self.broken[i] is None and all(self.moved[u] for u in ups):
                self.moved[i] = True
                wave[i] = 1 + max((wave[u] for u in ups), default=-1)

        self.tenancy = self._tenancy()
        # Owners before dependents, so that a detail can quote its owner's reason.
        for i in (*order, *leftover):
            if not self.moved[i]:
                self.exclusions[i] = self._exclusion(i)
        keep = self._keep_in_source(order)
        return self._assemble(wave, keep)

    def _exclusion(self, i: int) -> tuple[Reason, str]:
        """The reason an object stays, most specific first."""
        ref, tenancy, broken = self.refs[i], self.tenancy[i], self.broken[i]
        if tenancy and not self.selected.intersection(tenancy):
            return Reason.OUTSIDE_SELECTION, self._unselected_detail(i, tenancy)
        if not self.in_scope[i] and not self.reached[i]:
            return Reason.OUTSIDE_SELECTION, f"namespace {ref.namespace} is not selected"
        if i in self.cycles:
            members = self.cycles[i]
            listing = _listing([self.refs[j] for j in members[:5]], len(members))
            return Reason.OWNERSHIP_CYCLE, f"ownerReferences form a cycle through {listing}"
        if i in self.below_cycle:
            culprit = next(u for u in self.uplinks[i] if u in self.below_cycle)
            return (Reason.OWNERSHIP_CYCLE,
                    f"owner {self.refs[culprit]} is caught in an ownership cycle")
        if broken is not None:
            return broken
        # Unreached, an object still inherits a broken owner's fate; an orphan's, it does not.
        owner_reason = self._owner_not_moved(i, any_reason=self.reached[i])
        if owner_reason is not None:
            return Reason.OWNER_NOT_MOVED, owner_reason
        if self.narrowed and self.would_reach[i]:
            return Reason.OUTSIDE_SELECTION, "not used by the selected Clusters"
        return Reason.ORPHAN, self._orphan_detail(i)

    def _owner_not_moved(self, i: int, any_reason: bool) -> str | None:
        """Names the first owner that stays behind: any, or only one excluded for a fault."""
        for u in self.uplinks[i]:
            if self.moved[u]:
                continue
            reason = self.exclusions.get(u)
            if any_reason or (reason is not None and reason[0] in _INHERITED):
                role = "soft owner" if u in self.soft.get(i, ()) else "owner"
                why = f" ({reason[0].value})" if reason else ""
                return f"{role} {self.refs[u]} is not moved{why}"
        return None

    def _unselected_detail(self, i: int, clusters: list[int]) -> str:
        cluster = min(clusters)
        if not self.in_scope[cluster]:
            where = f"namespace {self.refs[cluster].namespace} is not selected"
        else:
            where = "it is not among the selected Clusters"
        if cluster == i:
            return where
        return f"belongs to Cluster {self.refs[cluster]}; {where}"

    def _orphan_detail(self, i: int) -> str:
        for u in self.uplinks[i]:
            if self.moved[u]:
                return (f"owner {self.refs[u]} moves only by the {MOVE_LABEL} label, which does "
                        f"not carry dependents ({MOVE_HIERARCHY_LABEL} does)")
        if i in self.lookalike:
            return (f"named like a Secret of Cluster {self.lookalike[i]}, but no such Cluster "
                    f"exists in namespace {self.refs[i].namespace}")
        owner_reason = self._owner_not_moved(i, any_reason=True)
        if owner_reason is not None:
            return f"no path from a root: {owner_reason}"
        return ("no path from a root: not owned by a Cluster, ClusterClass, ClusterResourceSet "
                f"or {MOVE_HIERARCHY_LABEL} object")

    def _keep_in_source(self, order: list[int]) -> list[bool]:
        """Objects shared with what stays behind are copied, and so is everything under them."""
        moved, namespace = self.moved, self.selection.namespace
        kept_roots = set(self.shared)
        for cluster, pulled in self.pulls.items():
            if not self.is_cluster[cluster]:
                continue
            for cc in pulled:
                # Clusters of other namespaces were not all read: assume they may use it.
                elsewhere = namespace is not None and self.refs[cc].namespace != namespace
                if not moved[cluster] or elsewhere:
                    kept_roots.add(cc)
        for binding, cluster in self.binding_cluster.items():
            if not moved[cluster]:
                kept_roots.update(self.pulls.get(binding, ()))
        keep = [False] * len(self.refs)
        for i in order:
            if not moved[i]:
                continue
            keep[i] = (not self.refs[i].namespace or i in kept_roots
                       # A Cluster's tenants go with it even when they hang off shared objects.
                       or (not self.tenancy[i] and any(keep[u] for u in self.uplinks[i])))
        return keep

    def _assemble(self, wave: list[int], keep: list[bool]) -> Graph:
        refs = self.refs
        nodes: dict[ObjectRef, Node] = {}
        # Most objects belong to one Cluster: share one frozenset per tenancy.
        tenancies: dict[tuple[int, ...], frozenset[ObjectRef]] = {}
        for i, ref in enumerate(refs):
            tenancy = tuple(self.tenancy[i])
            clusters = tenancies.get(tenancy)
            if clusters is None:
                clusters = tenancies[tenancy] = frozenset(refs[c] for c in tenancy)
            nodes[ref] = Node(
                ref=ref,
                api_version=str(self.objs[i].get("apiVersion") or ""),
                uid=self.uids[i],
                owners=self.owner_edges[i],
                soft_owners=tuple(refs[j] for j in self.soft.get(i, ())),
                wave=wave[i],
                is_global=not ref.namespace,
                keep_in_source=keep[i],
                clusters=clusters,
                paused=self._paused(i),
            )
        excluded = {
            refs[i]: Exclusion(refs[i], nodes[refs[i]].api_version, reason, detail)
            for i, (reason, detail) in sorted(self.exclusions.items())
        }
        tenants: dict[int, list[ObjectRef]] = {}
        for i, tenant_of in enumerate(self.tenancy):
            for c in tenant_of:
                tenants.setdefault(c, []).append(refs[i])
        # Nodes are numbered in ref order, so (wave, number) is (wave, ref).
        moved = [refs[i] for i in sorted((i for i, m in enumerate(self.moved) if m),
                                         key=lambda i: (wave[i], i))]
        return Graph(
            nodes=nodes,
            moved=tuple(moved),
            excluded=tuple(excluded.values()),
            _dependents={refs[i]: tuple(refs[d] for d in dependents)
                         for i, dependents in enumerate(self.dependents) if dependents},
            _tenants={refs[c]: tuple(members) for c, members in tenants.items()},
            _exclusions=excluded,
        )
