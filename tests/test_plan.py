"""The planner on its own: bundle entries + facts about a target -> one action per object.

A global identity and the Secret it owns in its provider namespace are shared by every bundle
that uses them: when they already exist in the target they are skipped, never updated, and
their UIDs are the ones the bundle's other objects will point at. Everything else that
collides is a conflict, under the policy chosen.
"""

from __future__ import annotations

import pytest

from movekit.bundle import ObjectEntry, Owner
from movekit.model import ConflictPolicy, Provider
from movekit.plan import (
    SHARED,
    Action,
    Existing,
    Plan,
    PlanOptions,
    TargetFacts,
    make_plan,
    shared_globals,
)
from movekit.refs import GroupKind, ObjectRef

INFRA = "infrastructure.cluster.x-k8s.io"
DIGEST = "sha256:" + "b" * 64
OTHER_BUNDLE = "sha256:" + "a" * 64

IDENTITY = ObjectRef(INFRA, "AWSClusterStaticIdentity", "", "aws-static")
CREDENTIALS = ObjectRef("", "Secret", "capa-system", "aws-static-credentials")
CLUSTER = ObjectRef("cluster.x-k8s.io", "Cluster", "team-b", "c1")
AWS_CLUSTER = ObjectRef(INFRA, "AWSCluster", "team-b", "c1")
KUBECONFIG = ObjectRef("", "Secret", "team-b", "c1-kubeconfig")

API_VERSIONS = {IDENTITY.kind: f"{INFRA}/v1beta2", AWS_CLUSTER.kind: f"{INFRA}/v1beta2",
                CLUSTER.kind: "cluster.x-k8s.io/v1beta2", "Secret": "v1", "ConfigMap": "v1",
                "ClusterClass": "cluster.x-k8s.io/v1beta2"}


def _entry(ref: ObjectRef, wave: int, *owners: ObjectRef, keep: bool = False,
           soft: tuple[ObjectRef, ...] = ()) -> ObjectEntry:
    return ObjectEntry(
        ref=ref, api_version=API_VERSIONS[ref.kind], source_uid=f"source-{ref.name}-{ref.kind}",
        owners=[Owner(o, f"source-{o.name}-{o.kind}", API_VERSIONS[o.kind]) for o in owners],
        soft_owners=list(soft), wave=wave, is_global=not ref.namespace,
        keep_in_source=keep or not ref.namespace, was_paused=None)


def _global_identity_bundle(*extra: ObjectEntry) -> list[ObjectEntry]:
    """What exporting one namespace of the global-identity topology gives."""
    return [
        _entry(IDENTITY, 0),
        _entry(CLUSTER, 0),
        _entry(CREDENTIALS, 1, IDENTITY, keep=True),
        _entry(AWS_CLUSTER, 1, CLUSTER),
        _entry(KUBECONFIG, 1, soft=(CLUSTER,)),
        *extra,
    ]


def _plan(entries: list[ObjectEntry], existing: dict[ObjectRef, Existing],
          conflict: ConflictPolicy = ConflictPolicy.FAIL) -> Plan:
    facts = TargetFacts(
        server="https://target.invalid",
        served=frozenset((e.api_version, e.ref.kind) for e in entries),
        movable=frozenset(e.ref.group_kind for e in entries
                          if e.ref.group_kind not in (GroupKind("", "Secret"),
                                                      GroupKind("", "ConfigMap"))),
        namespaces=frozenset({"capa-system"}),
        existing=existing,
    )
    return make_plan(DIGEST, entries, (), facts, PlanOptions(conflict=conflict))


def _actions(plan: Plan) -> dict[ObjectRef, tuple[Action, str | None]]:
    return {s.target: (s.action, s.existing_uid) for s in plan.steps}


def _by_another_move() -> dict[ObjectRef, Existing]:
    return {IDENTITY: Existing("target-identity", OTHER_BUNDLE),
            CREDENTIALS: Existing("target-credentials", OTHER_BUNDLE)}


def test_a_global_identity_and_its_secret_already_in_the_target_are_skipped_with_their_uids(
) -> None:
    plan = _plan(_global_identity_bundle(), _by_another_move())

    assert plan.errors == []
    assert _actions(plan) == {
        IDENTITY: (Action.SKIP, "target-identity"),
        CREDENTIALS: (Action.SKIP, "target-credentials"),
        CLUSTER: (Action.CREATE, None),
        AWS_CLUSTER: (Action.CREATE, None),
        KUBECONFIG: (Action.CREATE, None),
    }
    details = {s.target: s.detail for s in plan.steps}
    assert details[IDENTITY] == f"{SHARED} (never updated)"
    assert details[CREDENTIALS] == f"{SHARED} (owned by {IDENTITY}; never updated)"


@pytest.mark.parametrize("bundle", [None, OTHER_BUNDLE], ids=["by-hand", "by-another-bundle"])
@pytest.mark.parametrize("conflict", list(ConflictPolicy))
def test_shared_objects_are_skipped_under_every_conflict_policy_whoever_created_them(
    bundle: str | None, conflict: ConflictPolicy
) -> None:
    existing = {IDENTITY: Existing("target-identity", bundle),
                CREDENTIALS: Existing("target-credentials", bundle)}

    plan = _plan(_global_identity_bundle(), existing, conflict)

    assert plan.errors == []
    assert _actions(plan)[IDENTITY][0] is Action.SKIP
    assert _actions(plan)[CREDENTIALS][0] is Action.SKIP


def test_the_secret_alone_in_the_target_is_skipped_and_the_identity_created() -> None:
    plan = _plan(_global_identity_bundle(),
                 {CREDENTIALS: Existing("target-credentials", None)})

    assert plan.errors == []
    assert _actions(plan)[IDENTITY] == (Action.CREATE, None)
    assert _actions(plan)[CREDENTIALS] == (Action.SKIP, "target-credentials")


def test_objects_created_by_this_very_bundle_are_adopted_not_skipped() -> None:
    existing = {IDENTITY: Existing("target-identity", DIGEST, own=True),
                CREDENTIALS: Existing("target-credentials", DIGEST, own=True)}

    plan = _plan(_global_identity_bundle(), existing)

    assert _actions(plan)[IDENTITY] == (Action.ADOPT, "target-identity")
    assert _actions(plan)[CREDENTIALS] == (Action.ADOPT, "target-credentials")


@pytest.mark.parametrize("conflict", list(ConflictPolicy))
def test_the_bundle_annotation_alone_never_adopts_an_object_that_differs(
    conflict: ConflictPolicy,
) -> None:
    existing = {KUBECONFIG: Existing("target-kubeconfig", DIGEST, own=False)}

    plan = _plan(_global_identity_bundle(), existing, conflict)

    action = {ConflictPolicy.FAIL: Action.SKIP, ConflictPolicy.SKIP: Action.SKIP,
              ConflictPolicy.UPDATE: Action.UPDATE}[conflict]
    assert _actions(plan)[KUBECONFIG] == (action, "target-kubeconfig")
    if conflict is ConflictPolicy.FAIL:
        assert plan.errors == [f"{KUBECONFIG}: carries this bundle's movekit.io/bundle "
                               "annotation but differs from the bundle's object, so it is not "
                               "adopted (--conflict skip or update to proceed)"]
    else:
        assert plan.errors == []


def test_a_non_global_collision_is_still_a_conflict_next_to_skipped_shared_objects() -> None:
    existing = {**_by_another_move(), KUBECONFIG: Existing("target-kubeconfig", OTHER_BUNDLE)}

    plan = _plan(_global_identity_bundle(), existing)

    assert plan.errors == [f"{KUBECONFIG}: already exists in the target and was not created by "
                           "this bundle (--conflict skip or update to proceed)"]
    updated = _plan(_global_identity_bundle(), existing, ConflictPolicy.UPDATE)
    assert updated.errors == []
    assert _actions(updated)[KUBECONFIG] == (Action.UPDATE, "target-kubeconfig")
    assert _actions(updated)[CREDENTIALS] == (Action.SKIP, "target-credentials")


# -- what counts as owned by a global object: the graph, not names ---------------------------

ALSO_CLUSTERS = ObjectRef("", "Secret", "capa-system", "c1-aws-static-credentials")
NOTE = ObjectRef("", "ConfigMap", "capa-system", "aws-static-rotation")
CLASS = ObjectRef("cluster.x-k8s.io", "ClusterClass", "team-b", "quick-start")
NAMED_LIKE = ObjectRef("", "Secret", "team-b", "aws-static-credentials")


@pytest.mark.parametrize(("entry", "shared"), [
    # Owned by the identity's Secret, which the identity owns: shared all the way down.
    (_entry(NOTE, 2, CREDENTIALS, keep=True), True),
    # Also owned by a Cluster: it moves with the Cluster (not kept in the source).
    (_entry(ALSO_CLUSTERS, 2, IDENTITY, CLUSTER), False),
    # Kept in the source only because a Cluster left behind uses it: nothing global owns it.
    (_entry(CLASS, 0, keep=True), False),
    # Owned by the identity but also soft-owned by a Cluster, by its name.
    (_entry(ALSO_CLUSTERS, 2, IDENTITY, keep=True, soft=(CLUSTER,)), False),
    # Named like the identity's Secret, owned by nothing global.
    (_entry(NAMED_LIKE, 1, CLUSTER, keep=True), False),
], ids=["owned-by-a-shared-secret", "also-owned-by-a-cluster", "shared-clusterclass",
        "soft-owned-by-a-cluster", "named-like-it"])
def test_shared_follows_owner_references_to_global_objects(entry: ObjectEntry, shared: bool
                                                           ) -> None:
    entries = _global_identity_bundle(entry)

    assert (entry.ref in shared_globals(sorted(entries, key=lambda e: (e.wave, e.ref)))) is shared
    plan = _plan(entries, {**_by_another_move(), entry.ref: Existing("target", OTHER_BUNDLE)})
    assert (plan.errors == []) is shared


@pytest.mark.parametrize(("source", "target", "refused"), [
    ("v1.10.0", "v1.10.0-rc.1", True),  # a release candidate is older than its release
    ("v1.10.0-rc.1", "v1.10.0-beta.2", True),
    ("v1.9.5", "v1.10.0", False),  # compared as numbers, not as text
    ("v1.10.0", "v1.10.0", False),
    ("v1.10.0", "not-a-version", True),
])
def test_a_provider_older_in_the_target_than_in_the_source_is_a_plan_error(
        source: str, target: str, refused: bool) -> None:
    def provider(version: str) -> Provider:
        return Provider("cluster-api", "capi-system", "CoreProvider", version)

    facts = TargetFacts(server="https://target.invalid", served=frozenset(),
                        movable=frozenset(), namespaces=frozenset(), existing={},
                        providers=(provider(target),))
    plan = make_plan(DIGEST, [], [provider(source)], facts, PlanOptions())

    older = f"provider cluster-api (CoreProvider) is {target} in the target, older than {source}"
    assert plan.errors == ([older + " in the source"] if refused else [])
