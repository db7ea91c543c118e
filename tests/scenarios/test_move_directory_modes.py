"""``move --to-directory`` and ``move --from-directory`` as a user runs them: every flag that
applies reaches the export or import it stands for, and one that cannot apply is refused."""

from __future__ import annotations

import json
import time
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client as k8s

from kubesim.capi.topologies import TOPOLOGIES
from movekit.bundle import read_bundle
from tests.lanes import Env
from tests.scenarios.commands import movekit
from tests.scenarios.test_cli import _one_line_error

BLOCK_MOVE = "clusterctl.cluster.x-k8s.io/block-move"


def _export_only(src: Env, namespace: str, *args: str | Path) -> Any:
    return movekit("move", "--kubeconfig", src.kubeconfig, "-n", namespace, *args)


def _exported(src: Env, namespace: str, topology: str, bundle: Path) -> None:
    src.seed(TOPOLOGIES[topology], namespace=namespace)
    done = _export_only(src, namespace, "--to-directory", bundle)
    assert done.returncode == 0, done.stderr


def test_to_directory_honours_block_move_timeout(src: Env, namespace: str,
                                                 tmp_path: Path) -> None:
    seeded = src.seed(TOPOLOGIES["two-machines"], namespace=namespace)
    machine = next(o for o in seeded.objects.values() if o["kind"] == "Machine")
    group, version = machine["apiVersion"].split("/")
    # No controller runs to clear it: only the timeout ends the wait.
    k8s.CustomObjectsApi(src.api).patch_namespaced_custom_object(
        group, version, namespace, "machines", machine["metadata"]["name"],
        {"metadata": {"annotations": {BLOCK_MOVE: ""}}})

    failed = _export_only(src, namespace, "--to-directory", tmp_path / "b",
                          "--block-move-timeout", "1")

    assert failed.returncode == 4, failed.stderr
    assert "timed out after 1s" in _one_line_error(failed)
    assert not (tmp_path / "b").exists()


def test_to_directory_honours_force(src: Env, namespace: str, tmp_path: Path) -> None:
    src.seed(TOPOLOGIES["not-provisioned"], namespace=namespace)

    refused = _export_only(src, namespace, "--to-directory", tmp_path / "b")
    forced = _export_only(src, namespace, "--to-directory", tmp_path / "b", "--force")

    assert refused.returncode == 4
    assert forced.returncode == 0, forced.stderr
    assert "--force: moving anyway" in forced.stderr
    assert read_bundle(tmp_path / "b").entries


def test_to_directory_honours_dry_run(src: Env, namespace: str, tmp_path: Path) -> None:
    src.seed(TOPOLOGIES["two-machines"], namespace=namespace)

    planned = _export_only(src, namespace, "--to-directory", tmp_path / "b", "--dry-run")

    assert planned.returncode == 0, planned.stderr
    assert not (tmp_path / "b").exists()


def test_to_directory_honours_cluster_selection_and_output(src: Env, namespace: str,
                                                           tmp_path: Path) -> None:
    src.seed(TOPOLOGIES["two-clusters"], namespace=namespace)

    done = _export_only(src, namespace, "--cluster", "c1", "--to-directory", tmp_path / "b",
                        "--output", "json")

    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["kind"]
    clusters = {e.ref.name for e in read_bundle(tmp_path / "b").entries
                if e.ref.kind == "Cluster"}
    assert clusters == {"c1"}


def test_to_directory_honours_clusterctl_layout(src: Env, namespace: str,
                                                tmp_path: Path) -> None:
    src.seed(TOPOLOGIES["two-machines"], namespace=namespace)

    done = _export_only(src, namespace, "--to-directory", tmp_path / "b", "--clusterctl-layout")

    assert done.returncode == 0, done.stderr
    assert not (tmp_path / "b" / "manifest.json").exists()
    assert any(path.suffix == ".yaml" for path in (tmp_path / "b").iterdir())


def test_from_directory_honours_conflict(src: Env, dst: Env, namespace: str,
                                         tmp_path: Path) -> None:
    _exported(src, namespace, "two-machines", tmp_path / "b")
    dst.seed(TOPOLOGIES["two-machines"], namespace=namespace)  # foreign objects, same names
    # move --to-directory resumes the source, as clusterctl's does: say it is meant.
    import_only = ("move", "--to-kubeconfig", dst.kubeconfig, "--from-directory", tmp_path / "b",
                   "--allow-active-source")

    refused = movekit(*import_only)
    skipped = movekit(*import_only, "--conflict", "skip")

    assert refused.returncode != 0
    assert "already exists" in refused.stderr or "conflict" in refused.stderr
    assert skipped.returncode == 0, skipped.stderr


def test_from_directory_honours_dry_run(src: Env, dst: Env, namespace: str,
                                        tmp_path: Path) -> None:
    _exported(src, namespace, "two-machines", tmp_path / "b")

    planned = movekit("move", "--to-kubeconfig", dst.kubeconfig, "--from-directory",
                      tmp_path / "b", "--dry-run", "--output", "json", "--allow-active-source")

    assert planned.returncode == 0, planned.stderr
    assert {s["action"] for s in json.loads(planned.stdout)["plan"]} == {"create"}
    assert movekit("move", "--to-kubeconfig", dst.kubeconfig, "--from-directory",
                   tmp_path / "b", "--dry-run", "--output", "json",
                   "--allow-active-source").stdout == planned.stdout


def test_from_directory_honours_qps_and_burst(src: Env, dst: Env, namespace: str,
                                              tmp_path: Path) -> None:
    sim = dst.require_sim("records when each create arrives")
    _exported(src, namespace, "two-machines", tmp_path / "b")
    arrivals: list[float] = []
    sim.controls.admission(lambda verb, obj: arrivals.append(time.monotonic()) if verb == "create"
                           else None)

    done = movekit("move", "--to-kubeconfig", dst.kubeconfig, "--from-directory",
                   tmp_path / "b", "--qps", "5", "--burst", "1", "--allow-active-source")

    assert done.returncode == 0, done.stderr
    gaps = [later - earlier for earlier, later in pairwise(arrivals)]
    # 5 requests a second with no burst: creates (other requests between them) arrive >= 0.2 s
    # apart, where unthrottled they arrive milliseconds apart.
    assert len(gaps) > 3 and min(gaps) >= 0.15, gaps


@pytest.mark.parametrize(("mode", "flag"), [
    ("--to-directory", ("--workers", "4")),
    ("--to-directory", ("--conflict", "skip")),
    ("--to-directory", ("--retire-timeout", "5")),
    ("--to-directory", ("--journal", "j.json")),
    # --from-directory with --to-directory: the two exclude each other (tests/test_preflight.py).
    ("--from-directory", ("--block-move-timeout", "1")),
    ("--from-directory", ("--force",)),
    ("--from-directory", ("--cluster", "c1")),
    ("--from-directory", ("--namespace", "prod")),
    ("--from-directory", ("--clusterctl-layout",)),
])
def test_a_flag_the_mode_cannot_use_is_refused(
    mode: str, flag: tuple[str, ...], tmp_path: Path
) -> None:
    if mode == "--from-directory":
        (tmp_path / "b").mkdir()  # a directory to import from; only the flag is wrong
    refused = movekit("move", mode, tmp_path / "b", *flag, "--kubeconfig", tmp_path / "none")

    assert refused.returncode == 2, refused.stderr
    assert f"move {mode} does not use {flag[0]}" in _one_line_error(refused)
    assert mode == "--from-directory" or not (tmp_path / "b").exists()
