"""Import: verify the bundle offline, learn the target read-only, plan, then apply.

Nothing is written to the target until the bundle has been verified and the plan has no
errors; every problem the plan finds is reported at once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from movekit.admission import (
    confinement,
    duplicate_uid_problems,
    namespace_label_problems,
    object_problems,
)
from movekit.apply import ApplyOptions, Outcome, apply_plan, created_from, prepare_object
from movekit.bundle import Bundle, ObjectEntry, read_bundle
from movekit.bundle.clusterctl import is_clusterctl_directory
from movekit.bundle.encryption import SecretKeys, unlock
from movekit.clusterctl_import import rebuilt_bundle
from movekit.contract import CLUSTERCTL_LABEL, PROVIDER, PROVIDER_API_VERSION
from movekit.discovery import CRD_API_VERSION, discover_kinds, kind_info, provider_of
from movekit.errors import InvalidBundle, PrecheckFailed
from movekit.kube import ApiResource, KubeClient, OwnerNotImported
from movekit.model import KindInfo
from movekit.plan import (
    BUNDLE_ANNOTATION,
    NAMESPACE,
    Existing,
    Plan,
    PlanOptions,
    TargetFacts,
    make_plan,
    remap_ref,
    shared_globals,
)
from movekit.progress import ProgressLike, reporter_of
from movekit.refs import GroupKind, ObjectRef
from movekit.remap import knows_references

_LIST_WORKERS = 8


@dataclass(frozen=True)
class ImportOptions:
    plan: PlanOptions = field(default_factory=PlanOptions)
    apply: ApplyOptions = field(default_factory=ApplyOptions)
    dry_run: bool = False
    expect_digest: str | None = None
    keys: SecretKeys = field(default_factory=SecretKeys)  # for a bundle with encrypted Secrets
    # Import a bundle whose export left the source running (see check_source_left_paused).
    allow_active_source: bool = False


@dataclass
class ImportResult:
    bundle: Bundle
    plan: Plan
    outcome: Outcome | None = None


def load_verified(path: Path, expect_digest: str | None = None,
                  progress: ProgressLike | None = None) -> Bundle:
    """Read and verify a bundle offline; refuse it if its digest is not the expected one."""
    with reporter_of(progress).phase(f"verifying {path}") as checked:
        bundle = read_bundle(path, checked)
    _check_digest(bundle, expect_digest)
    return bundle


def _check_digest(bundle: Bundle, expect_digest: str | None) -> None:
    if expect_digest is not None and bundle.digest != expect_digest:
        raise InvalidBundle(f"{bundle.path}: bundle digest is {bundle.digest}, "
                            f"expected {expect_digest}")


def plan_import(client: KubeClient, bundle: Bundle, options: PlanOptions) -> Plan:
    """Read the target (never writing) and classify every object of the bundle."""
    facts = target_facts(client, bundle.entries, options, bundle)
    crds = {GroupKind(k.group, k.kind): k.crd_name for k in bundle.kinds if k.crd_name}
    plan = make_plan(bundle.digest, bundle.entries, bundle.providers, facts, options, crds)
    plan.errors.extend(admission_problems(client, bundle, plan, facts, options))
    if options.namespace_map:
        unknown = sorted({f"{e.ref.kind}.{e.ref.group}" for e in bundle.entries
                          if not knows_references(e.api_version, e.ref.kind)})
        if unknown:
            plan.warnings.append("--namespace-map: namespace references inside these kinds are "
                                 f"not rewritten: {', '.join(unknown)}")
    return plan


def admission_problems(client: KubeClient, bundle: Bundle, plan: Plan, facts: TargetFacts,
                       options: PlanOptions) -> list[str]:
    """Every object against what the operator allowed and what the target would accept
    (:mod:`movekit.admission`), so that nothing fails half-way for a reason inside the bundle."""
    confined = confinement(bundle.selection, bundle.entries, bundle.providers, facts.providers,
                           options.namespace_map, allowed=options.allow_namespaces,
                           secret_types=options.allow_secret_types,
                           pod_security_labels=options.allow_pod_security_labels)
    scopes = {(r.api_version, r.kind): r.namespaced for r in client.resources()}
    ordered = sorted(bundle.entries, key=lambda e: (e.wave, e.ref))
    shared = shared_globals(ordered)
    owner_kinds = {e.source_uid: e.ref.group_kind for e in ordered}
    problems = duplicate_uid_problems(ordered)
    for entry in ordered:
        target = remap_ref(entry.ref, options.namespace_map)
        if entry.ref.group_kind == NAMESPACE:
            target = replace(target, name=options.namespace_map.get(target.name, target.name))
        problems.extend(object_problems(
            entry, target, bundle.load(entry),
            namespaced=scopes.get((entry.api_version, entry.ref.kind)),
            shared=entry.ref in shared and bool(entry.ref.namespace), owner_kinds=owner_kinds,
            confined=confined))
    created = set(plan.namespaces_to_create)
    for name, facts_of in namespace_facts(bundle, options.namespace_map).items():
        if name in created:
            where = "the manifest" if "name" in facts_of else "its Namespace object"
            problems.extend(namespace_label_problems(name, facts_of["labels"],
                                                     facts_of["annotations"], confined, where))
    return problems


ACTIVE_SOURCE_FLAG = "--allow-active-source"


def check_source_left_paused(bundle: Bundle, allow_active_source: bool,
                             shown: Path | None = None) -> str | None:
    """Refuse a bundle whose export left the source's Clusters running: imported, they would be
    reconciled by two management clusters at once. Returns a warning when the bundle does not
    say (``shown`` names it in messages; default: its path)."""
    where = shown or bundle.path
    left_paused = bundle.parsed_manifest.source.left_paused
    if left_paused is None:
        return (f"{where} does not record whether its source was left paused (a bundle of "
                "format 1, or a directory clusterctl wrote): pause or retire the source's "
                "Clusters, or two management clusters will reconcile them")
    if not left_paused and not allow_active_source:
        raise PrecheckFailed(
            f"{where}: the export did not leave the source paused, so the source and the "
            f"target would both reconcile these clusters; export with --leave-paused, or "
            f"import anyway with {ACTIVE_SOURCE_FLAG}")
    return None


def import_bundle(
    client: KubeClient, path: Path, options: ImportOptions, progress: ProgressLike | None = None,
    *, origin: Path | None = None,
) -> ImportResult:
    """Verify the bundle at ``path`` (``origin`` names it in messages), check that its source
    was left paused, and import it."""
    say = reporter_of(progress)
    say(f"verifying {origin or path}")
    bundle = load_verified(path, options.expect_digest, say)
    # Imported paused, the target leaves the reconciling to the source until it is resumed.
    warning = check_source_left_paused(
        bundle, options.allow_active_source or options.apply.leave_paused, origin)
    result = import_verified(client, bundle, options, say)
    if warning is not None:
        result.plan.warnings.insert(0, warning)
    return result


def import_verified(
    client: KubeClient, bundle: Bundle, options: ImportOptions,
    progress: ProgressLike | None = None,
) -> ImportResult:
    """Import a bundle already read and verified by :func:`load_verified`."""
    say = reporter_of(progress)
    _check_digest(bundle, options.expect_digest)
    if bundle.parsed_manifest.encryption:
        say("decrypting Secrets")
        unlock(bundle, options.keys)  # every one, before the target is read or written
    say(f"planning against {client.server}")
    plan = plan_import(client, bundle, options.plan)
    result = ImportResult(bundle=bundle, plan=plan)
    if plan.errors:
        lines = "\n".join(f"  - {e}" for e in plan.errors)
        raise PrecheckFailed(f"the import plan has {len(plan.errors)} problem(s); nothing was "
                             f"written:\n{lines}")
    if options.dry_run:
        return result
    namespaces = namespace_facts(bundle, options.plan.namespace_map)
    result.outcome = apply_plan(client, bundle, plan, options.apply, namespaces, say)
    return result


def namespace_facts(bundle: Bundle, namespace_map: Mapping[str, str]) -> dict[str, Any]:
    """Labels and annotations of each namespace to create, by target name: from the manifest,
    else from a Namespace object the bundle carries."""
    facts: dict[str, Any] = {
        namespace_map.get(ns.name, ns.name): {"name": ns.name, "labels": dict(ns.labels),
                                              "annotations": dict(ns.annotations)}
        for ns in bundle.namespaces
    }
    for entry in bundle.entries:
        name = namespace_map.get(entry.ref.name, entry.ref.name)
        if entry.ref.group_kind == NAMESPACE and name not in facts:
            meta = bundle.load(entry).get("metadata") or {}
            facts[name] = {"labels": meta.get("labels") or {},
                           "annotations": meta.get("annotations") or {}}
    return facts


def import_from_path(
    client: KubeClient, path: Path, options: ImportOptions, progress: ProgressLike | None = None
) -> ImportResult:
    """Import a bundle, or a directory ``clusterctl move --to-directory`` wrote (told apart by
    its file names); the latter becomes a bundle first, with the kinds the target serves."""
    if not is_clusterctl_directory(path):
        return import_bundle(client, path, options, progress)
    say = reporter_of(progress)
    say(f"reading {path} as written by clusterctl move --to-directory")

    def target_kinds() -> Mapping[GroupKind, KindInfo]:
        say(f"reading the kinds {client.server} serves")
        return discover_kinds(client).kinds

    with rebuilt_bundle(path, target_kinds) as bundle:
        result = import_bundle(client, bundle, options, say, origin=path)
    result.plan.warnings.extend(f"{e.ref}: not imported ({e.reason}): {e.detail}"
                                for e in result.bundle.excluded)
    return result


def target_facts(
    client: KubeClient, entries: Sequence[ObjectEntry], options: PlanOptions,
    bundle: Bundle | None = None,
) -> TargetFacts:
    """What the target serves and already holds under the identities of ``entries``; with
    the ``bundle`` they come from, also which objects there are its own work."""
    served = {(r.api_version, r.kind): r for r in client.resources()}
    crd_res = served.get((CRD_API_VERSION, "CustomResourceDefinition"))
    movable: set[GroupKind] = set()
    if crd_res is not None:
        for crd in client.list(crd_res, label_selector=CLUSTERCTL_LABEL):
            info = kind_info(crd)
            movable.add(GroupKind(info.group, info.kind))
    ns_res = served[("v1", "Namespace")]
    namespaces = frozenset(str(n["metadata"]["name"]) for n in client.list(ns_res))
    existing = _existing(client, served, entries, options.namespace_map, bundle)
    provider_res = served.get((PROVIDER_API_VERSION, PROVIDER.kind))
    providers = tuple(provider_of(p) for p in (client.list(provider_res) if provider_res else []))
    return TargetFacts(
        server=client.server,
        served=frozenset(served),
        movable=frozenset(movable),
        namespaces=namespaces,
        existing=existing,
        providers=providers,
    )


def own_objects(client: KubeClient, bundle: Bundle,
                namespace_map: Mapping[str, str] | None = None) -> dict[ObjectRef, Existing]:
    """What the target holds under the bundle's identities, each marked ``own`` when it holds
    what importing the bundle creates there."""
    served = {(r.api_version, r.kind): r for r in client.resources()}
    return _existing(client, served, bundle.entries, namespace_map or {}, bundle)


def _existing(
    client: KubeClient,
    served: dict[tuple[str, str], ApiResource],
    entries: Sequence[ObjectEntry],
    namespace_map: Mapping[str, str],
    bundle: Bundle | None = None,
) -> dict[ObjectRef, Existing]:
    """What the target holds under the entries' identities: a paged list per kind and namespace."""
    wanted: dict[ObjectRef, ObjectEntry] = {}
    jobs: set[tuple[ApiResource, str | None]] = set()
    for entry in entries:
        ref = remap_ref(entry.ref, namespace_map)
        wanted[ref] = entry
        res = served.get((entry.api_version, ref.kind))
        if res is not None:
            jobs.add((res, (ref.namespace or None) if res.namespaced else None))
    if not jobs:
        return {}

    def read(job: tuple[ApiResource, str | None]) -> list[dict[str, Any]]:
        return client.list(job[0], job[1])

    live: dict[ObjectRef, dict[str, Any]] = {}
    jobs_in_order = sorted(jobs, key=lambda j: (str(j[0]), j[1] or ""))
    for page in client.map(read, jobs_in_order, limit=_LIST_WORKERS):
        for obj in page:
            ref = ObjectRef.of(obj)
            if ref in wanted:
                live[ref] = obj
    # What an owner is in the target, so an owned object's expected ownerReferences are known.
    target_uids = {wanted[ref].source_uid: str(obj["metadata"]["uid"])
                   for ref, obj in live.items()}
    found: dict[ObjectRef, Existing] = {}
    for ref, obj in live.items():
        meta = obj["metadata"]
        marked = (meta.get("annotations") or {}).get(BUNDLE_ANNOTATION)
        own = (bundle is not None and marked == bundle.digest
               and _holds_own(bundle, wanted[ref], obj, namespace_map, target_uids))
        found[ref] = Existing(uid=str(meta["uid"]), bundle=marked, own=own)
    return found


def _holds_own(bundle: Bundle, entry: ObjectEntry, live: Mapping[str, Any],
               namespace_map: Mapping[str, str], target_uids: Mapping[str, str]) -> bool:
    """Whether ``live`` is what importing ``entry`` of ``bundle`` creates (its content)."""
    try:
        body = prepare_object(entry, bundle.load(entry), bundle.digest, namespace_map,
                              target_uids)
    except OwnerNotImported:
        return False  # an owner is not in the target: nothing of ours can point at it
    except (TypeError, ValueError, AttributeError):
        # Metadata of the wrong shape: admission refuses the object in the same plan, and
        # nothing in the target can hold what it would never have created.
        return False
    return created_from(body, live)
