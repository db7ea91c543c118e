"""Export against a management cluster: the move set, waves, exclusions, pause handling, files."""

from __future__ import annotations

from pathlib import Path

import pytest

from kubesim.capi.install import ensure_namespace
from kubesim.capi.topologies import TOPOLOGIES, Topology
from kubesim.refs import ObjectRef as FixtureRef
from movekit.bundle import Bundle, read_bundle
from movekit.errors import PrecheckFailed, UsageError
from movekit.export import ExportOptions, export_bundle, in_scope
from movekit.model import Selection
from movekit.refs import ObjectRef, split_api_version
from tests.lanes import Env

READY = sorted(name for name, t in TOPOLOGIES.items() if not t.expected.precheck_failures)


def _selection(topology: Topology, namespace: str) -> Selection:
    return Selection(namespace=namespace, clusters=frozenset(topology.clusters))


def _export(env: Env, selection: Selection, target: Path | None, **options: object) -> Bundle:
    with env.client() as client:
        export_bundle(client, ExportOptions(selection=selection, target=target,
                                            **options))  # type: ignore[arg-type]
    assert target is not None
    return read_bundle(target)


def _excluded(bundle: Bundle) -> dict[ObjectRef, str]:
    return {
        ObjectRef(split_api_version(e["apiVersion"])[0], e["kind"], e["namespace"], e["name"]):
        e["reason"]
        for e in bundle.manifest["excluded"]
    }


def _ref(ref: FixtureRef) -> ObjectRef:
    """movekit's identity of a fixture's (kubesim has an ObjectRef of its own)."""
    return ObjectRef(ref.group, ref.kind, ref.namespace, ref.name)


def _pause_state(env: Env, namespace: str) -> dict[str, object]:
    clusters = env.client().list(
        env.client().resource("cluster.x-k8s.io/v1beta2", "Cluster"), namespace)  # type: ignore[arg-type]
    return {c["metadata"]["name"]: c["spec"].get("paused") for c in clusters}


@pytest.mark.parametrize("name", READY)
def test_export_writes_exactly_the_move_set_with_waves_and_reasons(
    name: str, src: Env, namespace: str, tmp_path: Path
) -> None:
    topology = TOPOLOGIES[name]
    src.seed(topology, namespace=namespace)
    selection = _selection(topology, namespace)

    bundle = _export(src, selection, tmp_path / "bundle")

    own = {_ref(ref) for ref in topology.refs(namespace).values()}
    # A shared cluster may hold other teams' global identities: every export carries them.
    foreign = [e for e in bundle.entries if e.ref not in own]
    assert all(e.is_global or e.keep_in_source for e in foreign), foreign
    assert {e.ref: e.wave for e in bundle.entries if e.ref in own} == \
        {_ref(ref): wave for ref, wave in topology.expected_moved(namespace).items()}
    excluded = _excluded(bundle)
    expected = {_ref(ref): reason for ref, reason in topology.expected_excluded(namespace).items()
                if in_scope(_ref(ref), selection)}
    assert {ref: reason for ref, reason in excluded.items() if ref in own} == expected
    # What the cluster itself adds to every namespace (kube-root-ca.crt) is reported, as orphan.
    assert {reason for ref, reason in excluded.items() if ref not in own} <= {"orphan"}
    assert {e.ref for e in bundle.entries if e.keep_in_source and e.ref in own} == \
        {_ref(ref) for ref in topology.expected_keep_in_source(namespace)}
    assert {e.ref for e in bundle.entries if e.is_global and e.ref in own} == \
        {_ref(ref) for ref in topology.expected_global(namespace)}
    assert {e.ref for e in bundle.entries if e.was_paused} == \
        {_ref(ref) for ref in topology.expected_paused(namespace)}


def test_export_restores_the_pause_state_it_found(src: Env, namespace: str,
                                                  tmp_path: Path) -> None:
    src.seed(TOPOLOGIES["paused-cluster"], namespace=namespace)
    src.seed(TOPOLOGIES["two-clusters"], namespace=namespace + "-b")
    before = _pause_state(src, namespace) | _pause_state(src, namespace + "-b")

    _export(src, Selection(namespace=namespace), tmp_path / "a")
    _export(src, Selection(namespace=namespace + "-b"), tmp_path / "b")

    assert _pause_state(src, namespace) | _pause_state(src, namespace + "-b") == before


def test_export_leave_paused_pauses_the_source_and_records_the_original_state(
    src: Env, namespace: str, tmp_path: Path
) -> None:
    src.seed(TOPOLOGIES["two-clusters"], namespace=namespace)

    bundle = _export(src, Selection(namespace=namespace), tmp_path / "b", leave_paused=True)

    assert set(_pause_state(src, namespace).values()) == {True}
    clusters = [e for e in bundle.entries if e.ref.kind == "Cluster"]
    assert clusters and all(e.was_paused is False for e in clusters)
    stored = bundle.load(clusters[0])
    assert "paused" not in stored["spec"]
    managers = {m["manager"] for m in stored["metadata"].get("managedFields", [])}
    assert "movekit" not in managers


def test_export_is_deterministic_and_archive_matches_directory(
    src: Env, namespace: str, tmp_path: Path
) -> None:
    src.seed(TOPOLOGIES["machinedeployment"], namespace=namespace)
    selection = Selection(namespace=namespace)

    first = _export(src, selection, tmp_path / "one")
    second = _export(src, selection, tmp_path / "two")
    archived = _export(src, selection, tmp_path / "three.tar.zst", archive=True)

    assert first.digest == second.digest == archived.digest
    for entry in first.entries:
        assert (tmp_path / "one" / entry.file).read_bytes() == \
            (tmp_path / "two" / entry.file).read_bytes()


def test_export_strips_server_fields_and_status(src: Env, namespace: str, tmp_path: Path) -> None:
    src.seed(TOPOLOGIES["cluster-alone"], namespace=namespace)

    bundle = _export(src, Selection(namespace=namespace), tmp_path / "b")

    for entry in bundle.entries:
        obj = bundle.load(entry)
        assert "status" not in obj
        for field in ("uid", "resourceVersion", "creationTimestamp", "generation"):
            assert field not in obj["metadata"], (entry.ref, field)
        assert entry.source_uid


def test_export_refuses_unprovisioned_clusters_listing_each_and_pauses_nothing(
    src: Env, namespace: str, tmp_path: Path
) -> None:
    topology = TOPOLOGIES["not-provisioned"]
    src.seed(topology, namespace=namespace)
    before = _pause_state(src, namespace)

    with pytest.raises(PrecheckFailed) as failure:
        _export(src, Selection(namespace=namespace), tmp_path / "b")

    for ref in topology.expected_precheck_failures(namespace):
        assert str(ref) in str(failure.value)
    assert _pause_state(src, namespace) == before
    assert not (tmp_path / "b").exists()


def test_export_force_moves_unprovisioned_clusters_and_warns(
    src: Env, namespace: str, tmp_path: Path
) -> None:
    src.seed(TOPOLOGIES["not-provisioned"], namespace=namespace)
    with src.client() as client:
        result = export_bundle(client, ExportOptions(
            selection=Selection(namespace=namespace), target=tmp_path / "b", force=True))
    assert result.warnings and all(w.startswith("--force") for w in result.warnings)
    assert read_bundle(tmp_path / "b").entries


def test_export_of_an_empty_namespace_is_an_error(src: Env, namespace: str,
                                                  tmp_path: Path) -> None:
    ensure_namespace(src.api, namespace)
    with pytest.raises(PrecheckFailed, match="nothing to export"):
        _export(src, Selection(namespace=namespace), tmp_path / "b")


def test_export_of_an_unknown_cluster_name_is_an_error(src: Env, namespace: str,
                                                      tmp_path: Path) -> None:
    src.seed(TOPOLOGIES["cluster-alone"], namespace=namespace)
    with pytest.raises(PrecheckFailed, match="no Cluster named nope"):
        _export(src, Selection(namespace=namespace, clusters=frozenset({"nope"})),
                tmp_path / "b")


def test_export_dry_run_writes_nothing_and_changes_nothing(
    src: Env, namespace: str, tmp_path: Path
) -> None:
    src.seed(TOPOLOGIES["two-clusters"], namespace=namespace)
    before = _pause_state(src, namespace)
    writes = src.sim.request_count(write=True) if src.sim else 0
    with src.client() as client:
        result = export_bundle(client, ExportOptions(
            selection=Selection(namespace=namespace), target=tmp_path / "b", dry_run=True))
    assert len(result.to_pause) == 2
    assert not (tmp_path / "b").exists()
    assert _pause_state(src, namespace) == before
    if src.sim is not None:
        assert src.sim.request_count(write=True) == writes


def test_export_refuses_a_non_empty_directory_that_is_not_a_bundle(
    src: Env, namespace: str, tmp_path: Path
) -> None:
    src.seed(TOPOLOGIES["cluster-alone"], namespace=namespace)
    target = tmp_path / "precious"
    target.mkdir()
    (target / "notes.txt").write_text("keep me")
    with pytest.raises(UsageError):
        _export(src, Selection(namespace=namespace), target)
    assert (target / "notes.txt").read_text() == "keep me"
