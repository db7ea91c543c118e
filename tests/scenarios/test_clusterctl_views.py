"""verify and inspect read a clusterctl move directory as import rebuilds it: structure only.

The directories are made as tests/scenarios/test_clusterctl_layout.py makes them: written by
hand as clusterctl writes them, or exported by movekit in clusterctl's layout.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from kubesim.capi.topologies import TOPOLOGIES
from movekit import cli
from movekit.export import ExportOptions, export_bundle
from movekit.model import Layout, Selection
from movekit.schemas import load_schema
from tests.lanes import Env
from tests.scenarios.test_clusterctl_layout import (
    CA_KEY,
    HOSTILE,
    MACHINE_UID,
    clusterctl_files,
    import_directory,
    write_files,
)


def run(argv: list[str], monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> tuple[object, str, str]:
    """``movekit ARGV`` in this process, as its entry point runs it: (exit code, out, err)."""
    monkeypatch.setattr(sys, "argv", ["movekit", *argv])
    capsys.readouterr()
    code: object = 0
    try:
        cli.main()
    except SystemExit as exited:
        code = exited.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _refs(document: dict[str, Any]) -> set[tuple[str, str, str]]:
    return {(o["kind"], o["namespace"], o["name"]) for o in document["objects"]}


# -- what verify and inspect show --------------------------------------------------------------

HANDWRITTEN_WAVES = {"Cluster/c1": 0, "DockerCluster/c1": 1,
                     "KubeadmControlPlane/c1-control-plane": 1, "Secret/c1-sa": 1,
                     "Machine/c1-control-plane-7xk2p": 2, "Secret/c1-ca": 2,
                     "Secret/c1-kubeconfig": 2}


def test_verify_and_inspect_show_a_handwritten_directory_in_the_waves_import_uses(
    dst: Env, namespace: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str]
) -> None:
    directory = write_files(tmp_path / "d", clusterctl_files(namespace))

    code, out, err = run(["verify", str(directory)], monkeypatch, capsys)
    assert (code, err) == (0, "")
    assert out.splitlines() == [
        f"{directory}: valid clusterctl move directory, 7 objects of 1 Cluster(s) in 3 waves "
        "(0-2)",
        "structure only: clusterctl writes no checksums or digest, so nothing shows whether a "
        "file was changed since"]

    code, out, err = run(["verify", str(directory), "-o", "json"], monkeypatch, capsys)
    assert (code, err) == (0, "")
    verified = json.loads(out)
    jsonschema.validate(verified, load_schema("output-verify.v1.json"))
    assert {key: verified[key] for key in ("layout", "objects", "clusters", "waves", "digest",
                                           "formatVersion", "excluded")} == {
        "layout": "clusterctl", "objects": 7, "clusters": 1, "waves": 3, "digest": None,
        "formatVersion": None, "excluded": []}

    shown: dict[str, dict[str, Any]] = {}
    for form, parse in (("json", json.loads), ("yaml", yaml.safe_load)):
        code, out, err = run(["inspect", str(directory), "-o", form], monkeypatch, capsys)
        assert (code, err) == (0, ""), form
        shown[form] = parse(out)
    assert shown["json"] == shown["yaml"]
    document = shown["json"]
    assert (document["digest"], document["source"], document["layout"]) == (
        None, None, "clusterctl")
    waves = {f"{o['kind']}/{o['name']}": o["wave"] for o in document["objects"]}
    assert waves == HANDWRITTEN_WAVES
    assert {o["file"] for o in document["objects"]} == set(clusterctl_files(namespace))
    assert all(o["sha256"] is None for o in document["objects"])

    # The same waves as the plan of an import of the directory: one rebuild for both.
    planned = import_directory(dst, directory, dry_run=True)
    assert {f"{s.target.kind}/{s.target.name}": s.wave for s in planned.plan.steps} == waves

    code, out, err = run(["inspect", str(directory)], monkeypatch, capsys)
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0] == (f"{directory}: written by clusterctl move --to-directory (no digest or "
                        "checksums): 7 objects in 3 waves (0-2)")
    assert "sha256:" not in out and "unknown.invalid" not in out
    for name in waves:
        assert any(line.strip(" │├└─").startswith(name) for line in lines), name
    assert CA_KEY not in out

    for form, first in (("dot", "digraph bundle {"), ("mermaid", "graph LR")):
        code, out, err = run(["inspect", str(directory), "-o", form], monkeypatch, capsys)
        assert (code, err, out.splitlines()[0]) == (0, "", first), form


@pytest.mark.parametrize("name", ["kcp-with-machines", "machinedeployment",
                                  "clusterclass-other-namespace", "global-identity"])
def test_verify_and_inspect_of_an_exported_directory_show_every_object_and_wave(
    name: str, src: Env, namespace: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str]
) -> None:
    topology = TOPOLOGIES[name]
    src.seed(topology, namespace=namespace)
    directory = tmp_path / "move"
    with src.client() as client:
        exported = export_bundle(client, ExportOptions(
            selection=Selection(namespace=namespace, clusters=frozenset(topology.clusters)),
            target=directory, layout=Layout.CLUSTERCTL))
    graph = exported.graph

    code, out, err = run(["verify", str(directory), "-o", "json"], monkeypatch, capsys)
    assert (code, err) == (0, "")
    verified = json.loads(out)
    assert (verified["objects"], verified["waves"], verified["excluded"]) == (
        len(graph.moved), len(graph.waves()), [])
    assert verified["clusters"] == len(graph.clusters())

    code, out, err = run(["inspect", str(directory), "-o", "json"], monkeypatch, capsys)
    assert (code, err) == (0, "")
    document = json.loads(out)
    assert _refs(document) == {(r.kind, r.namespace, r.name) for r in graph.moved}
    assert {(o["kind"], o["namespace"], o["name"]): o["wave"] for o in document["objects"]} == {
        (r.kind, r.namespace, r.name): graph.nodes[r].wave for r in graph.moved}


# -- what the rebuilt graph must hold ----------------------------------------------------------


Files = dict[str, dict[str, Any]]


def _owned_by_the_control_plane(ns: str) -> set[str]:
    return {f"Machine_{ns}_c1-control-plane-7xk2p.yaml", f"Secret_{ns}_c1-ca.yaml",
            f"Secret_{ns}_c1-kubeconfig.yaml"}


def _owner_file_removed(files: Files, ns: str) -> set[str]:
    del files[f"KubeadmControlPlane_{ns}_c1-control-plane.yaml"]
    return _owned_by_the_control_plane(ns)


def _owner_uid_differs(files: Files, ns: str) -> set[str]:
    files[f"KubeadmControlPlane_{ns}_c1-control-plane.yaml"]["metadata"]["uid"] = "another-uid"
    return _owned_by_the_control_plane(ns)


def _owner_of_a_built_in_kind(files: Files, ns: str) -> set[str]:
    files[f"DockerCluster_{ns}_c1.yaml"]["metadata"]["ownerReferences"] = [
        {"apiVersion": "apps/v1", "kind": "Deployment", "name": "d", "uid": "deployment-uid"}]
    return {f"DockerCluster_{ns}_c1.yaml"}


def _owners_in_a_cycle(files: Files, ns: str) -> set[str]:
    control_plane = f"KubeadmControlPlane_{ns}_c1-control-plane.yaml"
    files[control_plane]["metadata"]["ownerReferences"].append(
        {"apiVersion": "cluster.x-k8s.io/v1beta2", "kind": "Machine",
         "name": "c1-control-plane-7xk2p", "uid": MACHINE_UID})
    return {control_plane, *_owned_by_the_control_plane(ns)}


# Each change, the files verify may name (one of those it leaves out), and what it says.
DANGLING: dict[str, tuple[Callable[[Files, str], set[str]], str]] = {
    "owner's file removed": (_owner_file_removed, "does not exist"),
    "owner's uid differs": (_owner_uid_differs, "has uid another-uid"),
    "owner of a built-in kind": (_owner_of_a_built_in_kind, "built-in kind"),
    "ownership cycle": (_owners_in_a_cycle, "cycle"),
}


@pytest.mark.parametrize("case", sorted(DANGLING))
def test_verify_refuses_an_owner_the_directory_does_not_hold_and_inspect_lists_it(
    case: str, namespace: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str]
) -> None:
    files = clusterctl_files(namespace)
    change, problem = DANGLING[case]
    culprits = change(files, namespace)
    directory = write_files(tmp_path / "d", files)

    code, out, err = run(["verify", str(directory)], monkeypatch, capsys)

    assert code == 3, err
    assert out == ""
    [line] = err.splitlines()
    assert line.startswith(f"error: {directory}: ")
    assert "import would leave it out" in line
    assert any(line.startswith(f"error: {directory}: {culprit}: ") for culprit in culprits)
    assert problem in line, line

    code, out, err = run(["inspect", str(directory)], monkeypatch, capsys)
    assert (code, err) == (0, "")
    assert "left out:" in out


# -- hostile directories: the error import gives, from every reader ---------------------------


@pytest.mark.parametrize("verb", ["verify", "inspect", "import"])
@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_a_hostile_directory_gets_imports_error_from_verify_and_inspect(
    case: str, verb: str, dst: Env, namespace: str, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    tamper, message = HOSTILE[case]
    directory = write_files(tmp_path / "d", clusterctl_files(namespace))
    tamper(directory, namespace)
    argv = {"verify": ["verify", str(directory)],
            "inspect": ["inspect", str(directory), "-o", "json"],
            "import": ["import", "--kubeconfig", str(dst.kubeconfig), "--from-directory",
                       str(directory), "--quiet"]}[verb]
    before = dst.sim.request_count() if dst.sim else 0

    code, out, err = run(argv, monkeypatch, capsys)

    assert code == 3, err
    assert out == ""
    [line] = err.splitlines()  # one line, no traceback
    assert line.startswith(f"error: {directory}: ") and message in line, line
    assert CA_KEY not in line
    if dst.sim is not None:
        assert dst.sim.request_count() == before
