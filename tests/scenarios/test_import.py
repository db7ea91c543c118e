"""Import into a target: exact replay, owner UIDs, pause state, idempotence, conflicts, faults."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kubesim.capi.topologies import TOPOLOGIES
from movekit.apply import ApplyOptions
from movekit.bundle import Bundle, read_bundle
from movekit.errors import InvalidBundle, PartialFailure, PrecheckFailed
from movekit.export import ExportOptions, export_bundle
from movekit.importer import ImportOptions, ImportResult, import_bundle
from movekit.model import ConflictPolicy, Selection
from movekit.plan import BUNDLE_ANNOTATION, PlanOptions
from tests.lanes import Env
from tests.scenarios.checks import assert_target_holds_bundle, target_objects

READY = sorted(name for name, t in TOPOLOGIES.items() if not t.expected.precheck_failures)


def _exported(src: Env, topology: str, namespace: str, path: Path) -> Bundle:
    chosen = TOPOLOGIES[topology]
    src.seed(chosen, namespace=namespace)
    with src.client() as client:
        export_bundle(client, ExportOptions(
            selection=Selection(namespace=namespace, clusters=frozenset(chosen.clusters)),
            target=path))
    return read_bundle(path)


def _import(dst: Env, path: Path, **options: object) -> ImportResult:
    with dst.client() as client:
        return import_bundle(client, path, ImportOptions(  # type: ignore[arg-type]
            **{"allow_active_source": True, **options}))


@pytest.mark.parametrize("name", READY)
def test_import_recreates_every_object_with_target_owner_uids_and_pause_state(
    name: str, src: Env, dst: Env, namespace: str, tmp_path: Path
) -> None:
    bundle = _exported(src, name, namespace, tmp_path / "b")

    result = _import(dst, tmp_path / "b")

    with dst.client() as client:
        assert_target_holds_bundle(client, bundle)
    assert result.outcome is not None and not result.outcome.failures


def test_import_twice_adopts_everything_and_creates_nothing(
    src: Env, dst: Env, namespace: str, tmp_path: Path
) -> None:
    bundle = _exported(src, "machinedeployment", namespace, tmp_path / "b")
    _import(dst, tmp_path / "b")
    with dst.client() as client:
        uids = {ref: o["metadata"]["uid"] for ref, o in target_objects(client, bundle).items()}

    again = _import(dst, tmp_path / "b")

    assert again.outcome is not None
    actions = {action for (_, action) in again.outcome.counts}
    assert actions == {"adopted"}
    with dst.client() as client:
        assert {ref: o["metadata"]["uid"]
                for ref, o in target_objects(client, bundle).items()} == uids
        assert_target_holds_bundle(client, bundle)


def test_import_leave_paused_keeps_every_cluster_paused(
    src: Env, dst: Env, namespace: str, tmp_path: Path
) -> None:
    bundle = _exported(src, "two-clusters", namespace, tmp_path / "b")
    _import(dst, tmp_path / "b", apply=ApplyOptions(leave_paused=True))
    with dst.client() as client:
        assert_target_holds_bundle(client, bundle, paused=True)


def test_dry_run_prints_the_plan_and_writes_nothing(
    src: Env, dst: Env, namespace: str, tmp_path: Path
) -> None:
    bundle = _exported(src, "kcp-with-machines", namespace, tmp_path / "b")
    writes = dst.sim.request_count(write=True) if dst.sim else 0

    result = _import(dst, tmp_path / "b", dry_run=True)

    assert result.outcome is None
    assert {s.action.value for s in result.plan.steps} == {"create"}
    assert len(result.plan.steps) == len(bundle.entries)
    assert namespace in result.plan.namespaces_to_create
    if dst.sim is not None:
        assert dst.sim.request_count(write=True) == writes
    with dst.client() as client:
        assert target_objects(client, bundle) == {}


def test_a_kind_the_target_does_not_serve_fails_the_plan_naming_its_crd(
    src: Env, namespace: str, tmp_path: Path
) -> None:
    from kubesim import KubeSim

    _exported(src, "machinedeployment", namespace, tmp_path / "b")
    with KubeSim() as bare:
        bare.write_kubeconfig(tmp_path / "bare.yaml")
        from movekit.kube import KubeClient

        with KubeClient(tmp_path / "bare.yaml") as client, \
                pytest.raises(PrecheckFailed) as failure:
            import_bundle(client, tmp_path / "b", ImportOptions(allow_active_source=True))
        assert "does not serve MachineDeployment at cluster.x-k8s.io/v1beta2" in str(failure.value)
        assert "machinedeployments.cluster.x-k8s.io" in str(failure.value)
        assert bare.request_count(write=True) == 0


def test_foreign_object_conflicts_fail_by_default_and_can_be_skipped_or_updated(
    src: Env, dst: Env, namespace: str, tmp_path: Path
) -> None:
    bundle = _exported(src, "cluster-alone", namespace, tmp_path / "b")
    secret = next(e for e in bundle.entries if e.ref.kind == "Secret")
    from kubernetes import client as k8s

    k8s.CoreV1Api(dst.api).create_namespace({"metadata": {"name": namespace}})
    k8s.CoreV1Api(dst.api).create_namespaced_secret(
        namespace, {"metadata": {"name": secret.ref.name}, "type": "cluster.x-k8s.io/secret",
                    "stringData": {"foreign": "yes"}})

    with pytest.raises(PrecheckFailed) as failure:
        _import(dst, tmp_path / "b")
    assert str(secret.ref) in str(failure.value)
    with dst.client() as client:
        assert set(target_objects(client, bundle)) == {secret.ref}

    skipped = _import(dst, tmp_path / "b", plan=PlanOptions(conflict=ConflictPolicy.SKIP))
    assert skipped.outcome is not None
    assert skipped.outcome.counts[("Secret", "skipped")] == 1
    live = k8s.CoreV1Api(dst.api).read_namespaced_secret(secret.ref.name, namespace)
    assert "foreign" in (live.data or {})

    updated = _import(dst, tmp_path / "b", plan=PlanOptions(conflict=ConflictPolicy.UPDATE))
    assert updated.outcome is not None
    live = k8s.CoreV1Api(dst.api).read_namespaced_secret(secret.ref.name, namespace)
    assert "foreign" not in (live.data or {})
    assert live.metadata.annotations[BUNDLE_ANNOTATION] == bundle.digest


def test_expect_digest_refuses_another_bundle(src: Env, dst: Env, namespace: str,
                                              tmp_path: Path) -> None:
    _exported(src, "cluster-alone", namespace, tmp_path / "b")
    with pytest.raises(InvalidBundle, match="expected sha256:"):
        _import(dst, tmp_path / "b", expect_digest="sha256:" + "0" * 64)


def test_providers_older_in_the_target_fail_the_plan_unless_skipped(
    src: Env, dst: Env, namespace: str, tmp_path: Path
) -> None:
    from kubesim.capi.install import install_providers

    _exported(src, "cluster-alone", namespace, tmp_path / "b")
    install_providers(dst.api, version="v1.0.0")  # older than the source's
    try:
        with pytest.raises(PrecheckFailed, match="older than"):
            _import(dst, tmp_path / "b")
        result = _import(dst, tmp_path / "b", plan=PlanOptions(skip_provider_check=True))
        assert any("--skip-provider-check" in w for w in result.plan.warnings)
    finally:
        install_providers(dst.api)  # the inventory is the whole cluster's: put it back


def test_namespace_map_moves_objects_and_rewrites_references(
    src: Env, dst: Env, namespace: str, tmp_path: Path
) -> None:
    bundle = _exported(src, "clusterclass-same-namespace", namespace, tmp_path / "b")
    mapping = {namespace: namespace + "-new"}
    _import(dst, tmp_path / "b", plan=PlanOptions(namespace_map=mapping),
            apply=ApplyOptions(namespace_map=mapping))
    with dst.client() as client:
        assert_target_holds_bundle(client, bundle, namespace_map=mapping)
        live = target_objects(client, bundle, mapping)
    cluster = next(o for r, o in live.items() if r.kind == "Cluster")
    class_ref = cluster["spec"]["topology"]["classRef"]
    assert class_ref.get("namespace", namespace + "-new") == namespace + "-new"


# -- faults (kubesim only) ----------------------------------------------------------------------


def test_transient_errors_at_ten_percent_still_converge(
    src: Env, dst: Env, namespace: str, tmp_path: Path
) -> None:
    sim = dst.require_sim("injects 429 and 500 answers")
    bundle = _exported(src, "machinedeployment", namespace, tmp_path / "b")
    sim.controls.error_kinds = ("429", "500")
    sim.controls.error_rate = 0.10

    _import(dst, tmp_path / "b")

    sim.controls.error_rate = 0.0
    assert sim.request_log and any(r.code in (429, 500) for r in sim.request_log)
    with dst.client() as client:
        assert_target_holds_bundle(client, bundle)


def test_webhook_denial_fails_fast_naming_the_object(
    src: Env, dst: Env, namespace: str, tmp_path: Path
) -> None:
    sim = dst.require_sim("denies creates as an admission webhook would")
    bundle = _exported(src, "machinedeployment", namespace, tmp_path / "b")
    sim.controls.admission(
        lambda verb, obj: "machines are frozen" if obj.get("kind") == "Machine" else None)

    with pytest.raises(PartialFailure) as failure:
        _import(dst, tmp_path / "b")

    assert "Machine.cluster.x-k8s.io/" in str(failure.value)
    assert "machines are frozen" in str(failure.value)
    denied = [r for r in sim.request_log if r.code == 403]
    assert len(denied) <= 16, "a denial is not retried"
    sim.controls.admission(None)
    _import(dst, tmp_path / "b")
    with dst.client() as client:
        assert_target_holds_bundle(client, bundle)


@pytest.mark.parametrize("n", [1, 7, 15])
def test_failure_of_the_nth_create_then_rerun_converges(
    n: int, src: Env, dst: Env, namespace: str, tmp_path: Path
) -> None:
    sim = dst.require_sim("fails the n-th create")
    bundle = _exported(src, "machinedeployment", namespace, tmp_path / "b")
    sim.controls.fail_nth_create(kind="Machine" if n == 1 else None, n=n, code=400)

    with pytest.raises(PartialFailure):
        _import(dst, tmp_path / "b")
    with dst.client() as client:
        before = {r: o["metadata"]["uid"] for r, o in target_objects(client, bundle).items()}

    _import(dst, tmp_path / "b")

    with dst.client() as client:
        after = target_objects(client, bundle)
        assert_target_holds_bundle(client, bundle)
    assert all(after[r]["metadata"]["uid"] == uid for r, uid in before.items())


@pytest.mark.parametrize("kill_after_creates", [2, 6, 12])
def test_sigkill_of_the_importer_then_rerun_converges(
    kill_after_creates: int, src: Env, dst: Env, namespace: str, tmp_path: Path
) -> None:
    sim = dst.require_sim("counts creates in the request log to kill the importer mid-wave")
    bundle = _exported(src, "machinedeployment", namespace, tmp_path / "b")
    sim.controls.latency_ms = 30.0
    creates_before = sim.request_count(verb="create")
    process = subprocess.Popen(
        [sys.executable, "-m", "movekit", "import", "--kubeconfig", str(dst.kubeconfig),
         "--from-directory", str(tmp_path / "b"), "--workers", "2", "-q",
         "--allow-active-source"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ},
    )
    deadline = time.monotonic() + 60
    while (sim.request_count(verb="create") - creates_before < kill_after_creates
           and process.poll() is None):
        assert time.monotonic() < deadline
        time.sleep(0.005)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    sim.controls.latency_ms = 0.0
    with dst.client() as client:
        before = {r: o["metadata"]["uid"] for r, o in target_objects(client, bundle).items()}
    assert before, "killed after it created its first object (the first create is the namespace)"

    _import(dst, tmp_path / "b")

    with dst.client() as client:
        after = target_objects(client, bundle)
        assert_target_holds_bundle(client, bundle)
    assert all(after[r]["metadata"]["uid"] == uid for r, uid in before.items())


def test_a_target_that_stops_answering_mid_import_is_a_resumable_partial_failure(
    src: Env, dst: Env, namespace: str, tmp_path: Path
) -> None:
    from movekit.kube import KubeClient, RetryPolicy

    sim = dst.require_sim("takes the API server down after five creates")
    bundle = _exported(src, "machinedeployment", namespace, tmp_path / "b")
    creates = 0

    def go_dark_after_five_creates(verb: str, obj: dict[str, object]) -> None:
        nonlocal creates
        creates += 1
        if creates == 5:
            sim.controls.error_kinds = ("drop",)
            sim.controls.error_rate = 1.0

    sim.controls.admission(go_dark_after_five_creates)
    with KubeClient(dst.kubeconfig, retry=RetryPolicy(base_delay=0.05, budget=1.0)) as client, \
            pytest.raises(PartialFailure, match="Run the same import again to resume"):
        import_bundle(client, tmp_path / "b", ImportOptions(allow_active_source=True))

    sim.controls.error_rate = 0.0
    sim.controls.admission(None)
    _import(dst, tmp_path / "b")
    with dst.client() as client:
        assert_target_holds_bundle(client, bundle)
