"""Bundle + facts about the target -> what will happen to each object. Pure: no I/O.

Every object gets one action:

- ``create``: absent from the target;
- ``adopt``: present and created from this very bundle (an earlier or interrupted run), so it
  is reused with its UID and nothing is created twice. The importer decides that from content:
  the object holds what this bundle would create. The bundle's annotation alone proves
  nothing (anyone can write it): an annotated object that differs is a conflict;
- ``skip``: present and foreign, with ``--conflict skip``; or shared: a global (cluster-scoped)
  object, or one owned only by global objects (a global identity's credentials Secret in its
  provider namespace), that another bundle or a person already created — shared objects are
  never updated, whatever the policy, and what they own points at their UIDs in the target;
- ``update``: present and foreign, with ``--conflict update``;
- a foreign object under ``--conflict fail`` is a plan error.

Only kinds of the move contract are imported: Secrets, ConfigMaps, Namespaces and the kinds of
the target's CRDs labelled ``clusterctl.cluster.x-k8s.io``; any other kind (a ClusterRoleBinding,
a Pod) is a plan error naming the object, unless ``--allow-kind`` names it. A Namespace in the
bundle is created, if absent, with the other namespaces before the first wave (and never
updated), so the objects inside it never race it.

A plan with errors is never applied: every problem is listed at once, before any write.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from packaging.version import InvalidVersion, Version

from movekit.bundle import ObjectEntry
from movekit.contract import CLUSTER_API, CLUSTERCTL_LABEL
from movekit.model import ConflictPolicy, Provider
from movekit.refs import GroupKind, ObjectRef

BUNDLE_ANNOTATION = "movekit.io/bundle"
NAMESPACE = GroupKind("", "Namespace")
CORE_MOVABLE = frozenset({*CLUSTER_API.always_moved, NAMESPACE})
SHARED = "exists in the target: global, shared"


class Action(StrEnum):
    CREATE = "create"
    ADOPT = "adopt"
    SKIP = "skip"
    UPDATE = "update"


@dataclass(frozen=True)
class Existing:
    """What the target already holds under an object's identity."""

    uid: str
    bundle: str | None  # the BUNDLE_ANNOTATION value, when movekit created it
    own: bool = False  # holds what this bundle creates there: the importer compared it


@dataclass(frozen=True)
class TargetFacts:
    server: str
    served: frozenset[tuple[str, str]]  # (apiVersion, kind)
    movable: frozenset[GroupKind]  # kinds of the target's CRDs labelled for clusterctl
    namespaces: frozenset[str]
    existing: Mapping[ObjectRef, Existing]
    providers: tuple[Provider, ...] = ()


@dataclass(frozen=True)
class PlanOptions:
    conflict: ConflictPolicy = ConflictPolicy.FAIL
    namespace_map: Mapping[str, str] = field(default_factory=dict)
    skip_provider_check: bool = False
    allow_kinds: frozenset[GroupKind] = frozenset()
    # Where else an import may write, and what it may create there (movekit.admission).
    allow_namespaces: frozenset[str] = frozenset()
    allow_secret_types: frozenset[str] = frozenset()
    allow_pod_security_labels: bool = False


@dataclass(frozen=True)
class Step:
    entry: ObjectEntry
    target: ObjectRef
    action: Action
    detail: str = ""
    existing_uid: str | None = None

    @property
    def wave(self) -> int:
        return self.entry.wave


@dataclass
class Plan:
    bundle: str
    steps: list[Step]
    namespaces_to_create: list[str]
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def waves(self) -> list[list[Step]]:
        if not self.steps:
            return []
        waves: list[list[Step]] = [[] for _ in range(max(s.wave for s in self.steps) + 1)]
        for step in self.steps:
            waves[step.wave].append(step)
        return [w for w in waves if w]

    def counts(self) -> Counter[str]:
        return Counter(step.action.value for step in self.steps)


def make_plan(
    bundle_digest: str,
    entries: Iterable[ObjectEntry],
    providers: Iterable[Provider],
    facts: TargetFacts,
    options: PlanOptions,
    crds: Mapping[GroupKind, str] | None = None,
) -> Plan:
    """Classify every bundle entry against the target and collect every reason to stop.

    ``crds`` names the CRD in the bundle that provides each custom kind, so that a missing
    kind comes with what would fix it.
    """
    if options.conflict not in tuple(ConflictPolicy):
        raise ValueError(f"unknown conflict policy {options.conflict!r}")
    errors: list[str] = []
    warnings: list[str] = []
    steps: list[Step] = []
    missing_kinds: dict[tuple[str, str], list[str]] = {}
    namespaces: set[str] = set()
    ordered = sorted(entries, key=lambda e: (e.wave, e.ref))
    shared = shared_globals(ordered)
    for entry in ordered:
        target = remap_ref(entry.ref, options.namespace_map)
        if (entry.api_version, entry.ref.kind) not in facts.served:
            missing_kinds.setdefault((entry.api_version, entry.ref.kind), []).append(str(target))
            continue
        gk = entry.ref.group_kind
        if gk not in CORE_MOVABLE and gk not in facts.movable and gk not in options.allow_kinds:
            errors.append(
                f"{target}: kind {gk} is not one movekit imports (not a Secret, ConfigMap, "
                f"Namespace or the kind of a CRD labelled {CLUSTERCTL_LABEL} in the "
                f"target); --allow-kind {gk} permits it"
            )
            continue
        if gk == NAMESPACE:
            namespaces.add(options.namespace_map.get(target.name, target.name))
            continue
        if target.namespace:
            namespaces.add(target.namespace)
        steps.append(_classify(entry, target, bundle_digest, facts, options, errors,
                               shared.get(entry.ref)))
    for (api_version, kind), refs in sorted(missing_kinds.items()):
        group = api_version.rpartition("/")[0]
        crd = (crds or {}).get(GroupKind(group, kind))
        fix = f"; the bundle carries its CRD as crds/{crd}.yaml" if crd else ""
        errors.append(f"the target does not serve {kind} at {api_version} "
                      f"(needed by {len(refs)} object(s), e.g. {refs[0]}){fix}")
    errors.extend(_provider_problems(providers, facts.providers, options, warnings))
    return Plan(
        bundle=bundle_digest,
        steps=steps,
        namespaces_to_create=sorted(namespaces - facts.namespaces),
        errors=errors,
        warnings=warnings,
    )


def shared_globals(entries: Iterable[ObjectEntry]) -> dict[ObjectRef, tuple[ObjectRef, ...]]:
    """Entries that every bundle using them shares, each with its owners (none when global).

    Shared are global (cluster-scoped) objects, and objects kept in the source that have
    ownerReferences, all to shared objects, and no soft owner: a global identity's credentials
    Secret in its provider namespace is shared; an object a Cluster also owns moves with the
    Cluster (it is not kept in the source), so it is not. Follows the manifest's graph, never
    names. ``entries`` come in wave order, so owners (always in earlier waves) are decided
    first.
    """
    shared: dict[ObjectRef, tuple[ObjectRef, ...]] = {}
    for entry in entries:
        if entry.is_global or not entry.ref.namespace:
            shared[entry.ref] = ()
        elif (entry.keep_in_source and entry.owners and not entry.soft_owners
              and all(owner.ref in shared for owner in entry.owners)):
            shared[entry.ref] = tuple(sorted(owner.ref for owner in entry.owners))
    return shared


def _classify(
    entry: ObjectEntry,
    target: ObjectRef,
    bundle_digest: str,
    facts: TargetFacts,
    options: PlanOptions,
    errors: list[str],
    shared_owners: tuple[ObjectRef, ...] | None = None,
) -> Step:
    found = facts.existing.get(target)
    if found is None:
        return Step(entry, target, Action.CREATE)
    if found.own:
        return Step(entry, target, Action.ADOPT, "created by an earlier run of this bundle",
                    found.uid)
    if shared_owners is not None or not target.namespace:
        # Another move (or clusterctl init, or a person) put it there for every bundle that
        # uses it: reuse its UID, and leave it as it is.
        owned_by = f"owned by {', '.join(map(str, shared_owners))}; " if shared_owners else ""
        return Step(entry, target, Action.SKIP, f"{SHARED} ({owned_by}never updated)",
                    found.uid)
    if options.conflict == ConflictPolicy.SKIP:
        return Step(entry, target, Action.SKIP, "exists in the target (--conflict skip)",
                    found.uid)
    if options.conflict == ConflictPolicy.UPDATE:
        return Step(entry, target, Action.UPDATE, "exists in the target (--conflict update)",
                    found.uid)
    if found.bundle == bundle_digest:
        errors.append(f"{target}: carries this bundle's {BUNDLE_ANNOTATION} annotation but "
                      "differs from the bundle's object, so it is not adopted (--conflict skip "
                      "or update to proceed)")
    else:
        errors.append(f"{target}: already exists in the target and was not created by this "
                      "bundle (--conflict skip or update to proceed)")
    return Step(entry, target, Action.SKIP, "conflict", found.uid)


# kubesim answers as a real API server does, so the hint names both ways to install providers.
PROVIDER_HINT = ("install it with clusterctl init; for a target run by movekit kubesim serve, "
                 "start it with --capi-providers")


def _provider_problems(
    wanted: Iterable[Provider],
    installed: Iterable[Provider],
    options: PlanOptions,
    warnings: list[str],
) -> list[str]:
    have: dict[tuple[str, str], str] = {}
    for p in installed:
        key = (p.type, p.name)
        if key not in have or _version(p.version) > _version(have[key]):
            have[key] = p.version
    problems = []
    for p in wanted:
        version = have.get((p.type, p.name))
        if version is None:
            problems.append(f"provider {p.name} ({p.type}) {p.version} is not installed in the "
                            f"target ({PROVIDER_HINT})")
        elif _version(version) < _version(p.version):
            problems.append(f"provider {p.name} ({p.type}) is {version} in the target, older "
                            f"than {p.version} in the source")
    if problems and options.skip_provider_check:
        warnings.extend(f"--skip-provider-check: ignoring: {p}" for p in problems)
        return []
    return problems


_UNPARSEABLE = Version("0")


def _version(text: str) -> Version:
    """A provider version (``v1.10.0``, ``v1.10.0-rc.1``) to compare; a pre-release sorts
    before its release, and a version that is none sorts before every release."""
    try:
        return Version(text.strip())
    except InvalidVersion:
        return _UNPARSEABLE


def remap_ref(ref: ObjectRef, namespace_map: Mapping[str, str]) -> ObjectRef:
    if ref.namespace and ref.namespace in namespace_map:
        return ObjectRef(ref.group, ref.kind, namespace_map[ref.namespace], ref.name)
    return ref
