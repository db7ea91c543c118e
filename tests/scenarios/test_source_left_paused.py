"""An import never lets two management clusters reconcile the same workload clusters by
accident: the bundle records whether its export left the source paused, and an import of a
bundle whose source still runs is refused unless the operator says so."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from kubesim.capi.topologies import TOPOLOGIES
from movekit.bundle import read_bundle
from movekit.errors import InvalidBundle
from movekit.export import ExportOptions, export_bundle
from movekit.importer import ACTIVE_SOURCE_FLAG
from movekit.model import Layout, Selection
from tests.bundle.bundle_samples import tamper, write_sample
from tests.lanes import Env
from tests.scenarios.checks import assert_target_holds_bundle, target_objects
from tests.scenarios.commands import movekit

TOPOLOGY = "two-clusters"
UNKNOWN = "does not record whether its source was left paused"


def _export(src: Env, namespace: str, path: Path, **options: Any) -> None:
    src.seed(TOPOLOGIES[TOPOLOGY], namespace=namespace)
    with src.client() as client:
        export_bundle(client, ExportOptions(selection=Selection(namespace=namespace),
                                            target=path, archive=path.name.endswith(".tar.zst"),
                                            **options))


def _source_paused(src: Env, path: Path) -> dict[str, bool]:
    """Whether each Cluster of the bundle at ``path`` is paused in the source now."""
    with src.client() as client:
        found = target_objects(client, read_bundle(path))
    return {ref.name: bool((obj.get("spec") or {}).get("paused"))
            for ref, obj in found.items() if ref.kind == "Cluster"}


@pytest.mark.parametrize(("options", "left_paused"), [
    ({}, False),
    ({"leave_paused": True}, True),
    ({"pause": False}, False),
], ids=["default", "leave-paused", "no-pause"])
def test_the_manifest_says_what_the_export_left_in_the_source(
        options: dict[str, Any], left_paused: bool, src: Env, namespace: str,
        tmp_path: Path) -> None:
    _export(src, namespace, tmp_path / "b", **options)

    manifest = json.loads((tmp_path / "b" / "manifest.json").read_text())
    assert manifest["formatVersion"] == 2
    assert manifest["source"]["leftPaused"] is left_paused
    paused = _source_paused(src, tmp_path / "b")
    assert paused and set(paused.values()) == {left_paused}


def _bundle_flag(form: str, path: Path) -> list[str]:
    return [f"--from-{form}", str(path)]


# Every command that imports a bundle it is given.
IMPORTS = {
    "import": lambda dst, bundle: ["import", "--kubeconfig", str(dst.kubeconfig), *bundle],
    "import --dry-run": lambda dst, bundle: ["import", "--kubeconfig", str(dst.kubeconfig),
                                             *bundle, "--dry-run"],
    "move --from-directory": lambda dst, bundle: ["move", "--to-kubeconfig",
                                                  str(dst.kubeconfig), *bundle],
}


@pytest.mark.parametrize("form", ["directory", "archive"])
@pytest.mark.parametrize("command", sorted(IMPORTS))
def test_a_bundle_whose_source_still_runs_is_refused_before_any_request(
        command: str, form: str, src: Env, dst: Env, namespace: str, tmp_path: Path) -> None:
    if command.startswith("move") and form == "archive":
        pytest.skip("move reads a bundle from a directory only")
    path = tmp_path / ("b" if form == "directory" else "b.tar.zst")
    _export(src, namespace, path)
    before = dst.sim.request_count() if dst.sim is not None else None

    result = movekit(*IMPORTS[command](dst, _bundle_flag(form, path)))

    assert result.returncode == 4, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1, result.stderr
    assert "did not leave the source paused" in lines[0]
    assert "--leave-paused" in lines[0] and ACTIVE_SOURCE_FLAG in lines[0]
    if dst.sim is not None:
        assert dst.sim.request_count() == before, "a refused import sent a request"
    with dst.client() as client:
        assert target_objects(client, read_bundle(path)) == {}


@pytest.mark.parametrize("command", ["import", "move --from-directory"])
def test_allow_active_source_imports_it_anyway(command: str, src: Env, dst: Env,
                                               namespace: str, tmp_path: Path) -> None:
    _export(src, namespace, tmp_path / "b")

    result = movekit(*IMPORTS[command](dst, _bundle_flag("directory", tmp_path / "b")),
                     ACTIVE_SOURCE_FLAG)

    assert result.returncode == 0, result.stderr
    assert UNKNOWN not in result.stderr
    with dst.client() as client:
        assert_target_holds_bundle(client, read_bundle(tmp_path / "b"))


def test_an_import_that_leaves_the_target_paused_takes_it(src: Env, dst: Env, namespace: str,
                                                          tmp_path: Path) -> None:
    """Paused in the target, the clusters are reconciled by the source alone."""
    _export(src, namespace, tmp_path / "b")

    result = movekit("import", "--kubeconfig", dst.kubeconfig, "--from-directory",
                     tmp_path / "b", "--leave-paused")

    assert result.returncode == 0, result.stderr
    with dst.client() as client:
        assert_target_holds_bundle(client, read_bundle(tmp_path / "b"), paused=True)


def test_a_bundle_exported_with_leave_paused_imports_without_a_word(
        src: Env, dst: Env, namespace: str, tmp_path: Path) -> None:
    _export(src, namespace, tmp_path / "b", leave_paused=True)

    result = movekit("import", "--kubeconfig", dst.kubeconfig, "--from-directory", tmp_path / "b")

    assert result.returncode == 0, result.stderr
    assert "warning" not in result.stderr


def _format_1(doc: dict[str, Any]) -> None:
    doc["formatVersion"] = 1
    del doc["source"]["leftPaused"]


def _unknown(doc: dict[str, Any]) -> None:
    doc["source"]["leftPaused"] = None


@pytest.mark.parametrize("shape", ["format-1", "left-paused-null", "clusterctl-directory"])
def test_a_bundle_that_does_not_say_is_imported_with_one_warning(
        shape: str, src: Env, dst: Env, namespace: str, tmp_path: Path) -> None:
    path = tmp_path / "b"
    _export(src, namespace, path, **({"layout": Layout.CLUSTERCTL}
                                     if shape == "clusterctl-directory" else {}))
    if shape != "clusterctl-directory":
        tamper(path, manifest=_format_1 if shape == "format-1" else _unknown)

    result = movekit("import", "--kubeconfig", dst.kubeconfig, "--from-directory", path)

    assert result.returncode == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if UNKNOWN in line]
    assert len(warnings) == 1 and warnings[0].startswith("warning: "), result.stderr
    assert str(path) in warnings[0]
    assert "two management clusters will reconcile them" in warnings[0]


@pytest.mark.parametrize("argv", [
    ["move", "--to-kubeconfig", "dst.yaml", ACTIVE_SOURCE_FLAG],
    ["move", "--to-directory", "out", ACTIVE_SOURCE_FLAG],
], ids=["live-move", "move-to-directory"])
def test_move_takes_the_flag_only_where_it_imports_a_given_bundle(argv: list[str],
                                                                  tmp_path: Path) -> None:
    result = movekit(*argv, cwd=tmp_path)

    assert result.returncode == 2, result.stderr
    assert ACTIVE_SOURCE_FLAG in result.stderr
    assert not (tmp_path / "out").exists()


# The field is untrusted like every other: a value of another type is refused as the schema
# says, a format-1 manifest may not carry it, and a format-2 manifest must.
@pytest.mark.parametrize("value", ["true", "false", 1, 0, [], {}, "null"])
def test_a_left_paused_of_another_type_is_an_invalid_bundle(value: Any, tmp_path: Path) -> None:
    write_sample(tmp_path / "b")
    tamper(tmp_path / "b", manifest=lambda doc: doc["source"].update(leftPaused=value))

    with pytest.raises(InvalidBundle, match=r"manifest\.json source\.leftPaused"):
        read_bundle(tmp_path / "b")


@pytest.mark.parametrize("value", [True, False, None])
def test_a_format_1_manifest_with_left_paused_is_an_invalid_bundle(value: Any,
                                                                   tmp_path: Path) -> None:
    write_sample(tmp_path / "b")
    tamper(tmp_path / "b", manifest=lambda doc: doc.update(formatVersion=1)
           or doc["source"].update(leftPaused=value))

    with pytest.raises(InvalidBundle, match="leftPaused"):
        read_bundle(tmp_path / "b")


def test_a_format_2_manifest_without_left_paused_is_an_invalid_bundle(tmp_path: Path) -> None:
    write_sample(tmp_path / "b")
    tamper(tmp_path / "b", manifest=lambda doc: doc["source"].pop("leftPaused"))

    with pytest.raises(InvalidBundle, match="leftPaused"):
        read_bundle(tmp_path / "b")


def test_a_format_1_bundle_reads_as_not_saying(tmp_path: Path) -> None:
    write_sample(tmp_path / "b")
    tamper(tmp_path / "b", manifest=_format_1_from_sample)

    bundle = read_bundle(tmp_path / "b")

    assert bundle.format_version == 1
    assert bundle.parsed_manifest.source.left_paused is None


def _format_1_from_sample(doc: dict[str, Any]) -> None:
    doc["formatVersion"] = 1
    doc["source"].pop("leftPaused")
