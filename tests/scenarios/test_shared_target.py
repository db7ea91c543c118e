"""Two namespaces that use one global identity, moved one after the other into one target.

The cluster-scoped identity and the Secret it owns in its provider namespace travel in both
bundles. The first import creates them; the second finds them there, created by another
bundle, and must skip them (never update them), point its own objects at the target's UIDs,
and say what it skipped and why.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import jsonschema
from rich.console import Console

from kubesim.capi import capi
from kubesim.capi.model import MAIN, Expected, Owner, Topology, controller_owner
from kubesim.capi.topologies import TOPOLOGIES, relocate, seed
from movekit import render
from movekit.bundle import Bundle, read_bundle
from movekit.export import ExportOptions, export_bundle
from movekit.importer import ImportOptions, import_bundle
from movekit.journal import ClusterAccess, Phase
from movekit.kube import KubeClient
from movekit.model import Selection
from movekit.mover import MoveOptions, move
from movekit.plan import SHARED
from movekit.refs import ObjectRef
from movekit.schemas import load_schema
from tests.lanes import Env
from tests.scenarios.checks import assert_target_holds_bundle
from tests.scenarios.commands import movekit

INFRA = "infrastructure.cluster.x-k8s.io"
IDENTITIES = (f"{INFRA}/v1beta2", "AWSClusterStaticIdentity")
PROVIDER_NAMESPACE = "capa-system"


def _shared_identity() -> Topology:
    """global-identity in the main namespace and in ``<main>-b``, with one identity for both.

    The identity's name is made from the main namespace, so each test has its own on a shared
    cluster. In each namespace a ConfigMap is owned by the Cluster and by the identity: an
    object of the bundle whose owner is skipped in the target.
    """
    base = TOPOLOGIES["global-identity"]
    identity = next(s for s in base.objects if s.kind == IDENTITIES[1])
    per_namespace = [s for s in base.objects if s.namespace == MAIN]
    per_namespace.append(capi.config_map(
        "c1-identity-usage", {"identity": identity.name},
        owners=[controller_owner("Cluster/c1"), Owner(identity.key, api_version=IDENTITIES[0])]))
    shared = [s for s in base.objects if s.namespace != MAIN]
    objects = (*shared, *per_namespace, *relocate(per_namespace, f"{MAIN}-b"))
    return Topology("shared-identity", "global-identity in two namespaces, one identity",
                    objects, Expected(moved={}))


def _seeded(src: Env, namespace: str) -> tuple[list[str], ObjectRef, ObjectRef]:
    """The two namespaces, the identity's and its Secret's refs."""
    seeded = seed(src.api, _shared_identity(), namespace=namespace)
    identity = next(ObjectRef.of(o) for o in seeded.objects.values()
                    if o["kind"] == IDENTITIES[1])
    secret = next(ObjectRef.of(o) for o in seeded.objects.values()
                  if o["metadata"].get("namespace") == PROVIDER_NAMESPACE)
    return [namespace, f"{namespace}-b"], identity, secret


def _export(src: Env, namespace: str, path: Path) -> Bundle:
    with src.client() as client:
        export_bundle(client, ExportOptions(selection=Selection(namespace=namespace),
                                            target=path, leave_paused=True))
    return read_bundle(path)


def _get(client: KubeClient, api_version: str, ref: ObjectRef) -> dict[str, Any]:
    res = client.resource(api_version, ref.kind)
    assert res is not None
    found = client.get(res, ref.namespace, ref.name)
    assert found is not None, f"{ref} is not in the target"
    return found


def _versions(dst: Env, *refs: tuple[str, ObjectRef]) -> dict[ObjectRef, tuple[str, str]]:
    with dst.client() as client:
        return {ref: (obj["metadata"]["uid"], obj["metadata"]["resourceVersion"])
                for api_version, ref in refs for obj in [_get(client, api_version, ref)]}


def _assert_one_identity_that_everything_points_at(
    dst: Env, namespaces: list[str], identity: ObjectRef, secret: ObjectRef
) -> None:
    with dst.client() as client:
        res = client.resource(*IDENTITIES)
        assert res is not None
        using_secret = [i for i in client.list(res) if i["spec"]["secretRef"] == secret.name]
        assert [ObjectRef.of(i) for i in using_secret] == [identity]
        identity_uid = using_secret[0]["metadata"]["uid"]
        owners = _get(client, "v1", secret)["metadata"]["ownerReferences"]
        assert [(o["name"], o["uid"]) for o in owners] == [(identity.name, identity_uid)]
        for namespace in namespaces:
            aws = _get(client, f"{INFRA}/v1beta2", ObjectRef(INFRA, "AWSCluster", namespace, "c1"))
            assert aws["spec"]["identityRef"]["name"] == identity.name
            cluster = _get(client, "cluster.x-k8s.io/v1beta2",
                           ObjectRef("cluster.x-k8s.io", "Cluster", namespace, "c1"))
            assert [o["uid"] for o in aws["metadata"]["ownerReferences"]] == \
                [cluster["metadata"]["uid"]]
            usage = _get(client, "v1", ObjectRef("", "ConfigMap", namespace, "c1-identity-usage"))
            assert {o["kind"]: o["uid"] for o in usage["metadata"]["ownerReferences"]} == \
                {"Cluster": cluster["metadata"]["uid"], IDENTITIES[1]: identity_uid}


def _summary(dst: Env, path: Path, *, dry_run: bool) -> str:
    """What ``movekit import`` prints for this bundle (in-process: each CLI run costs seconds)."""
    with dst.client() as client:
        result = import_bundle(client, path, ImportOptions(dry_run=dry_run))
    printed = io.StringIO()
    render.import_summary(Console(file=printed, highlight=False, soft_wrap=True), result,
                          dry_run=dry_run)
    return printed.getvalue()


def _said_skipped(text: str, ref: ObjectRef) -> bool:
    return any(line.strip().startswith(f"{ref}: {SHARED}") for line in text.splitlines())


def test_a_second_namespace_imports_into_a_target_that_holds_its_global_identity(
    src: Env, dst: Env, namespace: str, tmp_path: Path
) -> None:
    namespaces, identity, secret = _seeded(src, namespace)
    first = _export(src, namespaces[0], tmp_path / "a")
    second = _export(src, namespaces[1], tmp_path / "b")
    with dst.client() as client:
        import_bundle(client, tmp_path / "a", ImportOptions())
    shared = ((IDENTITIES[0], identity), ("v1", secret))
    before = _versions(dst, *shared)

    planned = _summary(dst, tmp_path / "b", dry_run=True)
    imported = movekit("import", "--kubeconfig", dst.kubeconfig, "--from-directory",
                       tmp_path / "b", "--output", "json")
    again = _summary(dst, tmp_path / "b", dry_run=False)

    assert "would skip" in planned
    assert _said_skipped(planned, identity) and _said_skipped(planned, secret)
    assert imported.returncode == 0, imported.stderr
    document = json.loads(imported.stdout)
    jsonschema.validate(document, load_schema("output-import.v1.json"))
    skipped = {(s["kind"], s["namespace"], s["name"]): s["reason"] for s in document["skipped"]}
    assert skipped[(identity.kind, "", identity.name)] == f"{SHARED} (never updated)"
    assert skipped[("Secret", PROVIDER_NAMESPACE, secret.name)] == \
        f"{SHARED} (owned by {identity}; never updated)"
    steps = {(s["kind"], s["name"]): s for s in document["plan"]}
    assert steps[("Secret", secret.name)]["action"] == "skip"
    assert steps[("Secret", secret.name)]["reason"].startswith(SHARED)
    assert _said_skipped(again, identity) and _said_skipped(again, secret)
    assert _versions(dst, *shared) == before, "a shared object was updated"
    with dst.client() as client:
        assert_target_holds_bundle(client, first)
        assert_target_holds_bundle(client, second)
    _assert_one_identity_that_everything_points_at(dst, namespaces, identity, secret)


def test_a_second_namespace_moves_into_a_target_that_holds_its_global_identity(
    src: Env, dst: Env, namespace: str, tmp_path: Path
) -> None:
    namespaces, identity, secret = _seeded(src, namespace)
    access = (ClusterAccess(str(src.kubeconfig), None, ""),
              ClusterAccess(str(dst.kubeconfig), None, ""))
    said: list[list[str]] = []
    for number, moved in enumerate(namespaces):
        said.append([])
        with src.client() as source, dst.client() as target:
            result = move(source, target, MoveOptions(
                selection=Selection(namespace=moved),
                journal=tmp_path / f"move-{number}.journal.json"), access, said[-1].append)
        assert result.journal is not None and result.journal.phase == Phase.DONE

    assert f"skipped {identity}: {SHARED} (never updated)" in said[1]
    assert f"skipped {secret}: {SHARED} (owned by {identity}; never updated)" in said[1]
    _assert_one_identity_that_everything_points_at(dst, namespaces, identity, secret)
    with src.client() as client:
        # Shared with what stays behind: both moves left them in the source.
        _get(client, IDENTITIES[0], identity)
        _get(client, "v1", secret)
