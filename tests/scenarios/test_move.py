"""Live move and the air-gapped move, with simulated Cluster API controllers in the source."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from kubesim.capi.topologies import TOPOLOGIES
from movekit.bundle import Bundle, read_bundle
from movekit.errors import PartialFailure, UsageError
from movekit.export import ExportOptions, export_bundle
from movekit.importer import ImportOptions, import_bundle
from movekit.journal import ClusterAccess, Journal, Phase
from movekit.model import Selection
from movekit.mover import (
    MoveOptions,
    RetireIncomplete,
    move,
    resume,
    resume_source,
    retire,
    rollback,
)
from movekit.plan import BUNDLE_ANNOTATION
from movekit.refs import ObjectRef
from tests.lanes import Env, settled_request_count
from tests.scenarios.checks import assert_target_holds_bundle, target_objects
from tests.scenarios.commands import movekit

READY = sorted(name for name, t in TOPOLOGIES.items() if not t.expected.precheck_failures)
CLUSTERS = ("cluster.x-k8s.io/v1beta2", "Cluster")


@pytest.fixture
def controllers(src: Env) -> Iterator[object]:
    """Cluster API controllers acting on the source: finalizers, pause, block-move."""
    from kubesim.controllers import CapiControllers

    sim = src.require_sim("runs simulated Cluster API controllers (finalizers, block-move)")
    running = CapiControllers(sim)
    running.start()
    yield running
    running.stop()


@pytest.fixture
def controllers_where_simulated(src: Env) -> Iterator[object | None]:
    """kubesim's Cluster API controllers in the kubesim lane; none in the real lane, where
    no Cluster API controller runs (a move must work either way)."""
    if src.sim is None:
        yield None
        return
    from kubesim.controllers import CapiControllers

    running = CapiControllers(src.sim)
    running.start()
    yield running
    running.stop()


def _seed(src: Env, name: str, namespace: str) -> Selection:
    topology = TOPOLOGIES[name]
    src.seed(topology, namespace=namespace)
    return Selection(namespace=namespace, clusters=frozenset(topology.clusters))


def _move(src: Env, dst: Env, selection: Selection, tmp_path: Path,
          **options: object) -> Journal:
    access = (ClusterAccess(str(src.kubeconfig), None, ""),
              ClusterAccess(str(dst.kubeconfig), None, ""))
    with src.client() as source, dst.client() as target:
        result = move(source, target, MoveOptions(
            selection=selection, journal=tmp_path / "move.journal.json",
            **options), access)  # type: ignore[arg-type]
    assert result.journal is not None
    return result.journal


def _source_left(src: Env, bundle: Bundle) -> dict[ObjectRef, dict[str, object]]:
    with src.client() as client:
        return target_objects(client, bundle)


def _cluster_pause(env: Env, namespace: str) -> dict[str, object]:
    with env.client() as client:
        res = client.resource(*CLUSTERS)
        assert res is not None
        return {c["metadata"]["name"]: c["spec"].get("paused")
                for c in client.list(res, namespace)}


def _assert_moved(src: Env, dst: Env, journal: Journal) -> Bundle:
    bundle = read_bundle(Path(journal.bundle_path))
    assert journal.phase == Phase.DONE
    with dst.client() as client:
        assert_target_holds_bundle(client, bundle)
    left = _source_left(src, bundle)
    assert set(left) == {e.ref for e in bundle.entries if e.is_global or e.keep_in_source}
    return bundle


@pytest.mark.parametrize("name", READY)
def test_move_recreates_in_target_and_retires_the_source(
    name: str, src: Env, dst: Env, namespace: str, tmp_path: Path,
    controllers_where_simulated: object | None
) -> None:
    selection = _seed(src, name, namespace)
    if not src.gc:
        # The topology holds only where no garbage collector runs, and there no Orphan delete
        # finishes: the move stops short of resuming the target, and finishes once one runs.
        with pytest.raises(RetireIncomplete, match="no garbage collector seems to run"):
            _move(src, dst, selection, tmp_path, retire_timeout=0.2)
        src.require_sim().gc = True
        with src.client() as source, dst.client() as target:
            resume(Journal.load(tmp_path / "move.journal.json"), source, target,
                   MoveOptions(selection=selection))
        journal = Journal.load(tmp_path / "move.journal.json")
    else:
        journal = _move(src, dst, selection, tmp_path)

    _assert_moved(src, dst, journal)
    if controllers_where_simulated is not None:
        assert controllers_where_simulated.infra_deleted == []  # type: ignore[attr-defined]


def test_move_waits_for_block_move_to_clear(
    src: Env, dst: Env, namespace: str, tmp_path: Path, controllers: object
) -> None:
    selection = _seed(src, "machinedeployment", namespace)
    controllers.hold_block_move(  # type: ignore[attr-defined]
        lambda obj: obj.get("kind") == "Machine", 1.5)
    started = time.monotonic()

    journal = _move(src, dst, selection, tmp_path, block_move_timeout=30.0)

    assert time.monotonic() - started >= 1.0
    _assert_moved(src, dst, journal)


def test_block_move_never_released_times_out_and_rolls_back(
    src: Env, dst: Env, namespace: str, tmp_path: Path, controllers: object
) -> None:
    selection = _seed(src, "machinedeployment", namespace)
    before = _cluster_pause(src, namespace)
    controllers.hold_block_move(  # type: ignore[attr-defined]
        lambda obj: obj.get("kind") == "Machine", None)

    with pytest.raises(PartialFailure, match="block-move"):
        _move(src, dst, selection, tmp_path, block_move_timeout=1.0)

    assert _cluster_pause(src, namespace) == before
    assert _cluster_pause(dst, namespace) == {}
    journal = Journal.load(tmp_path / "move.journal.json")
    assert journal.phase == Phase.ROLLED_BACK


def test_webhook_denial_in_the_target_rolls_back(
    src: Env, dst: Env, namespace: str, tmp_path: Path, controllers: object
) -> None:
    sim = dst.require_sim("denies creates as an admission webhook would")
    selection = _seed(src, "kcp-with-machines", namespace)
    before = _cluster_pause(src, namespace)
    sim.controls.admission(
        lambda verb, obj: "no more machines" if obj.get("kind") == "Machine" else None)

    with pytest.raises(PartialFailure, match="no more machines"):
        _move(src, dst, selection, tmp_path)

    assert _cluster_pause(src, namespace) == before
    journal = Journal.load(tmp_path / "move.journal.json")
    bundle = read_bundle(Path(journal.bundle_path))
    with dst.client() as client:
        assert target_objects(client, bundle) == {}
    assert set(_source_left(src, bundle)) == {e.ref for e in bundle.entries}


def test_no_rollback_leaves_the_move_resumable(
    src: Env, dst: Env, namespace: str, tmp_path: Path, controllers: object
) -> None:
    sim = dst.require_sim("denies creates as an admission webhook would")
    selection = _seed(src, "machinedeployment", namespace)
    sim.controls.admission(lambda verb, obj: "not yet" if obj.get("kind") == "Machine" else None)
    with pytest.raises(PartialFailure):
        _move(src, dst, selection, tmp_path, rollback_on_failure=False)
    journal = Journal.load(tmp_path / "move.journal.json")
    assert journal.phase != Phase.ROLLED_BACK
    assert set(_cluster_pause(src, namespace).values()) == {True}

    sim.controls.admission(None)
    with src.client() as source, dst.client() as target:
        resume(journal, source, target, MoveOptions(selection=selection))

    _assert_moved(src, dst, Journal.load(tmp_path / "move.journal.json"))


def test_rollback_refuses_once_the_source_is_being_retired(
    src: Env, dst: Env, namespace: str, tmp_path: Path
) -> None:
    selection = _seed(src, "cluster-alone", namespace)
    journal = _move(src, dst, selection, tmp_path)
    journal.phase = "retiring"
    with src.client() as source, dst.client() as target, \
            pytest.raises(UsageError, match="--resume"):
        rollback(journal, source, target)


def test_dry_run_makes_no_write_anywhere(src: Env, dst: Env, namespace: str,
                                         tmp_path: Path) -> None:
    selection = _seed(src, "two-clusters", namespace)
    why = "counts writes in the request log"
    src_sim, dst_sim = src.require_sim(why), dst.require_sim(why)
    writes = (src_sim.request_count(write=True), dst_sim.request_count(write=True))
    access = (ClusterAccess(None, None, ""), ClusterAccess(None, None, ""))

    with src.client() as source, dst.client() as target:
        result = move(source, target, MoveOptions(selection=selection, dry_run=True), access)

    assert result.journal is None
    assert (src_sim.request_count(write=True), dst_sim.request_count(write=True)) == writes
    assert not list(tmp_path.glob("*.journal.json"))


def test_retire_strips_finalizers_so_no_provider_deletes_infrastructure(
    src: Env, dst: Env, namespace: str, tmp_path: Path, controllers: object
) -> None:
    selection = _seed(src, "machinedeployment", namespace)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:  # the controllers add their finalizers
        with src.client() as client:
            res = client.resource(*CLUSTERS)
            assert res is not None
            cluster = client.list(res, namespace)[0]
        if cluster["metadata"].get("finalizers"):
            break
        time.sleep(0.05)
    assert cluster["metadata"].get("finalizers")

    journal = _move(src, dst, selection, tmp_path)

    _assert_moved(src, dst, journal)
    assert controllers.infra_deleted == []  # type: ignore[attr-defined]


# -- crash and resume -----------------------------------------------------------------------


def _phase(path: Path) -> str | None:
    try:
        return str(json.loads(path.read_text())["phase"])
    except (OSError, ValueError, KeyError):
        return None


ORDER = ("planned", "pausing", "exported", "imported", "verified", "retiring", "retired", "done")


@pytest.mark.parametrize("kill_at", ["pausing", "exported", "imported", "retiring"])
@pytest.mark.parametrize("then", ["resume", "rollback"])
def test_sigkill_at_a_step_boundary_then_resume_or_rollback(
    kill_at: str, then: str, src: Env, dst: Env, namespace: str, tmp_path: Path
) -> None:
    why = "slows the servers down to kill the mover at a step boundary"
    src_sim, dst_sim = src.require_sim(why), dst.require_sim(why)
    selection = _seed(src, "machinedeployment", namespace)
    before = _cluster_pause(src, namespace)
    src_sim.controls.latency_ms = dst_sim.controls.latency_ms = 25.0
    journal_path = tmp_path / "move.journal.json"
    process = subprocess.Popen(
        [sys.executable, "-m", "movekit", "move", "--kubeconfig", str(src.kubeconfig),
         "--to-kubeconfig", str(dst.kubeconfig), "-n", namespace, "--journal", str(journal_path),
         "--workers", "2", "-q"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ},
    )
    deadline = time.monotonic() + 60
    while ORDER.index(_phase(journal_path) or "planned") < ORDER.index(kill_at):
        assert process.poll() is None, "the move ended before it could be killed"
        assert time.monotonic() < deadline
        time.sleep(0.002)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    # A request the mover sent before it died still lands; an operator recovers after that.
    src_sim.controls.latency_ms = dst_sim.controls.latency_ms = 0.0
    settled_request_count(src_sim)
    settled_request_count(dst_sim)
    assert _phase(journal_path) != "done"
    journal = Journal.load(journal_path)

    with src.client() as source, dst.client() as target:
        if then == "resume" or journal.phase in ("retiring", "retired", "done"):
            resume(journal, source, target, MoveOptions(selection=selection))
            _assert_moved(src, dst, Journal.load(journal_path))
            return
        rollback(journal, source, target)
    assert _cluster_pause(src, namespace) == before
    if journal.bundle_digest:
        bundle = read_bundle(Path(journal.bundle_path))
        with dst.client() as client:
            assert not any(
                (o["metadata"].get("annotations") or {}).get(BUNDLE_ANNOTATION)
                for o in target_objects(client, bundle).values())
        assert set(_source_left(src, bundle)) == {e.ref for e in bundle.entries}


# -- the air-gapped move ----------------------------------------------------------------------


def test_air_gapped_move_is_export_leave_paused_import_retire(
    src: Env, dst: Env, namespace: str, tmp_path: Path, controllers: object
) -> None:
    selection = _seed(src, "kcp-with-machines", namespace)
    with src.client() as source:
        export_bundle(source, ExportOptions(selection=selection, target=tmp_path / "b.tar.zst",
                                            archive=True, leave_paused=True))
    assert set(_cluster_pause(src, namespace).values()) == {True}
    with dst.client() as target:
        import_bundle(target, tmp_path / "b.tar.zst", ImportOptions())
    bundle = read_bundle(tmp_path / "b.tar.zst")

    with src.client() as source:
        result = retire(source, bundle.entries)

    assert len(result.deleted) == len(bundle.entries) - len(result.kept)
    assert _source_left(src, bundle).keys() == set(result.kept)
    with dst.client() as client:
        assert_target_holds_bundle(client, bundle)
    assert controllers.infra_deleted == []  # type: ignore[attr-defined]


def test_resume_source_aborts_an_air_gapped_move(
    src: Env, namespace: str, tmp_path: Path
) -> None:
    selection = _seed(src, "two-clusters", namespace)
    before = _cluster_pause(src, namespace)
    with src.client() as source:
        export_bundle(source, ExportOptions(selection=selection, target=tmp_path / "b",
                                            leave_paused=True))
        resume_source(source, read_bundle(tmp_path / "b").entries)
    assert _cluster_pause(src, namespace) == before


def test_retire_never_touches_an_object_recreated_since_the_export(
    src: Env, namespace: str, tmp_path: Path
) -> None:
    from kubernetes import client as k8s

    selection = _seed(src, "cluster-alone", namespace)
    with src.client() as source:
        export_bundle(source, ExportOptions(selection=selection, target=tmp_path / "b",
                                            leave_paused=True))
    bundle = read_bundle(tmp_path / "b")
    secret = next(e for e in bundle.entries if e.ref.kind == "Secret")
    core = k8s.CoreV1Api(src.api)
    core.delete_namespaced_secret(secret.ref.name, namespace)
    core.create_namespaced_secret(namespace, {"metadata": {"name": secret.ref.name},
                                              "type": "cluster.x-k8s.io/secret"})

    with src.client() as source:
        result = retire(source, bundle.entries)

    assert result.recreated == [secret.ref]
    assert core.read_namespaced_secret(secret.ref.name, namespace).metadata.name


def test_move_cli_accepts_clusterctl_spellings(
    src: Env, dst: Env, namespace: str, tmp_path: Path
) -> None:
    _seed(src, "cluster-alone", namespace)
    completed = subprocess.run(
        [sys.executable, "-m", "movekit", "move", "--kubeconfig", str(src.kubeconfig),
         "--kubeconfig-context", src.context, "--to-kubeconfig", str(dst.kubeconfig),
         "--to-kubeconfig-context", dst.context, "--namespace", namespace,
         "--journal", str(tmp_path / "j.json")],
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert "move done" in completed.stdout
    _assert_moved(src, dst, Journal.load(tmp_path / "j.json"))


def test_retire_never_lets_garbage_collection_take_objects_that_stay(
    src: Env, dst: Env, namespace: str, tmp_path: Path
) -> None:
    from kubernetes import client as k8s

    selection = _seed(src, "cluster-alone", namespace)
    with src.client() as client:
        res = client.resource(*CLUSTERS)
        assert res is not None
        cluster = client.list(res, namespace)[0]
    owner = {"apiVersion": "cluster.x-k8s.io/v1beta2", "kind": "Cluster",
             "name": cluster["metadata"]["name"], "uid": cluster["metadata"]["uid"]}
    core = k8s.CoreV1Api(src.api)
    # A kind movekit does not move, owned by a Cluster it does: it stays in the source. (A
    # built-in kind: a real collector watches a new CRD's kind only after ~30 s.)
    core.create_namespaced_service_account(namespace, {"metadata": {
        "name": "addon", "ownerReferences": [owner]}})

    _assert_moved(src, dst, _move(src, dst, selection, tmp_path))

    account = core.read_namespaced_service_account("addon", namespace)
    assert not account.metadata.owner_references
    assert account.metadata.deletion_timestamp is None


def test_retire_of_an_object_already_being_deleted_still_unowns_what_stays(
    src: Env, dst: Env, namespace: str, tmp_path: Path
) -> None:
    from kubernetes import client as k8s

    bundle = _air_gapped_until_retire(src, dst, namespace, tmp_path / "b")
    cluster = next(e for e in bundle.entries if e.ref.kind == "Cluster")
    core, custom = k8s.CoreV1Api(src.api), k8s.CustomObjectsApi(src.api)
    core.create_namespaced_service_account(namespace, {"metadata": {"name": "addon",
        "ownerReferences": [{"apiVersion": cluster.api_version, "kind": "Cluster",
                             "name": cluster.ref.name, "uid": cluster.source_uid}]}})
    where = ("cluster.x-k8s.io", "v1beta2", namespace, "clusters", cluster.ref.name)
    # Someone deleted the Cluster before the retire; a provider's finalizer holds it.
    custom.patch_namespaced_custom_object(*where, {"metadata": {"finalizers": [
        "cluster.cluster.x-k8s.io"]}})
    custom.delete_namespaced_custom_object(*where)

    with src.client() as source:
        result = retire(source, bundle.entries)

    assert cluster.ref in result.deleted
    assert set(_source_left(src, bundle)) == set(result.kept)
    account = core.read_namespaced_service_account("addon", namespace)
    assert not account.metadata.owner_references


def test_a_shared_cluster_class_stays_in_the_source_and_reconciles_again(
    src: Env, dst: Env, namespace: str, tmp_path: Path
) -> None:
    selection = _seed(src, "clusterclass-shared-select-cluster", namespace)
    with src.client() as source:
        preview = export_bundle(source, ExportOptions(selection=selection, target=None,
                                                        dry_run=True))
    before = {ref: _owners(src, ref) for ref in preview.graph.moved}

    journal = _move(src, dst, selection, tmp_path)

    bundle = _assert_moved(src, dst, journal)
    kept = [e for e in bundle.entries if e.ref.kind == "ClusterClass"]
    assert kept and all(e.keep_in_source for e in kept)
    left = _source_left(src, bundle)
    for obj in left.values():
        assert "cluster.x-k8s.io/paused" not in (obj["metadata"].get("annotations") or {})
    # Templates stay owned by the ClusterClass that stays: no collector un-owned them.
    owned = [ref for ref in left if before.get(ref)]
    assert {ref.kind for ref in owned} >= {"DockerClusterTemplate", "KubeadmConfigTemplate"}
    for ref in owned:
        assert _owners(src, ref) == before[ref]


def _owners(env: Env, ref: ObjectRef) -> list[tuple[str, str]]:
    """The (kind, uid) of each owner of ``ref`` in ``env``."""
    with env.client() as client:
        res = next(r for r in client.resources() if r.group_kind == ref.group_kind)
        live = client.get(res, ref.namespace, ref.name)
    assert live is not None, f"{ref} is gone"
    return [(o["kind"], o["uid"]) for o in live["metadata"].get("ownerReferences") or []]


# -- without a garbage collector in the source ---------------------------------------------


def _air_gapped_until_retire(src: Env, dst: Env, namespace: str, bundle: Path) -> Bundle:
    selection = _seed(src, "cluster-alone", namespace)
    with src.client() as source:
        export_bundle(source, ExportOptions(selection=selection, target=bundle,
                                            leave_paused=True))
    with dst.client() as target:
        import_bundle(target, bundle, ImportOptions())
    return read_bundle(bundle)


def test_retire_without_a_garbage_collector_lists_what_terminates_and_exits_7_then_finishes(
    src: Env, dst: Env, namespace: str, tmp_path: Path
) -> None:
    sim = src.require_sim("needs a source without a garbage collector (kubesim's gc=False)")
    bundle = _air_gapped_until_retire(src, dst, namespace, tmp_path / "b")
    retired = sorted(e.ref for e in bundle.entries if not (e.is_global or e.keep_in_source))
    sim.gc = False
    command = ("retire", "--yes", "--kubeconfig", src.kubeconfig, "--from-directory",
               tmp_path / "b", "--to-kubeconfig", dst.kubeconfig, "--retire-timeout", "0.2")
    earlier = len(sim.request_log)

    stopped = movekit(*command)

    # Waiting lists each kind once per poll; no object is read one by one while waiting.
    gets = [r.path for r in sim.request_log[earlier:] if r.verb == "get"
            and namespace in r.path]
    assert sorted(gets) == sorted(set(gets)) and gets
    said = stderr_of(stopped)
    assert stopped.returncode == 7, said
    assert f"{len(retired)} deleted object(s) still terminating" in said
    assert (f"{len(retired)} with the orphan finalizer: no garbage collector seems to run"
            in said)
    assert all(str(ref) in said for ref in retired)
    assert "run the same command again" in said
    left = _source_left(src, bundle)
    assert all(left[ref]["metadata"].get("finalizers") == ["orphan"]
               and left[ref]["metadata"].get("deletionTimestamp") for ref in retired)

    sim.gc = True
    finished = movekit(*command)

    assert finished.returncode == 0, stderr_of(finished)
    assert set(_source_left(src, bundle)) == {e.ref for e in bundle.entries
                                              if e.is_global or e.keep_in_source}


def test_move_without_a_garbage_collector_keeps_the_target_paused_until_resumed(
    src: Env, dst: Env, namespace: str, tmp_path: Path
) -> None:
    sim = src.require_sim("needs a source without a garbage collector (kubesim's gc=False)")
    selection = _seed(src, "cluster-alone", namespace)
    sim.gc = False

    with pytest.raises(RetireIncomplete) as stopped:
        _move(src, dst, selection, tmp_path, retire_timeout=0.2)

    journal = Journal.load(tmp_path / "move.journal.json")
    assert journal.phase == "retiring"
    assert f"movekit move --resume {journal.path}" in str(stopped.value)
    assert set(_cluster_pause(dst, namespace).values()) == {True}
    sim.gc = True
    with src.client() as source, dst.client() as target:
        resume(journal, source, target, MoveOptions(selection=selection))
    _assert_moved(src, dst, Journal.load(tmp_path / "move.journal.json"))


def stderr_of(completed: subprocess.CompletedProcess[str]) -> str:
    """stderr with rich's line wrapping undone."""
    return " ".join(completed.stderr.split())


def test_a_live_move_creates_the_namespace_with_the_source_pod_security_labels(
    src: Env, dst: Env, namespace: str, tmp_path: Path
) -> None:
    # The labels come from the cluster being moved, not from a file someone handed over: a
    # live move takes them without --allow-pod-security-labels (an import would refuse them).
    selection = _seed(src, "cluster-alone", namespace)
    labels = {"pod-security.kubernetes.io/enforce": "privileged", "team": "platform"}
    with src.client() as client:
        ns = client.resource("v1", "Namespace")
        assert ns is not None
        client.merge_patch(ns, "", namespace, {"metadata": {"labels": labels}})

    journal = _move(src, dst, selection, tmp_path)

    _assert_moved(src, dst, journal)
    with dst.client() as client:
        ns = client.resource("v1", "Namespace")
        assert ns is not None
        created = client.get(ns, "", namespace)
    assert created is not None
    assert labels.items() <= created["metadata"]["labels"].items()
    code = movekit("move", "--kubeconfig", src.kubeconfig, "--to-kubeconfig", dst.kubeconfig,
                   "-n", namespace, "--allow-pod-security-labels").returncode
    assert code == 2
