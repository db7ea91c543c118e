"""What the commands print: whole names at any width, counts that say what happened, one line
with -q, one envelope for every document, and a summary instead of a fleet's every object."""

from __future__ import annotations

import io
import json
import random
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from rich.console import Console

from kubesim.capi.fleet import fleet
from kubesim.capi.model import Expected, Owner, Topology
from kubesim.capi.topologies import TOPOLOGIES, base_cluster, machine_stack
from movekit import render
from movekit.bundle import read_bundle
from movekit.importer import ImportOptions, import_bundle
from movekit.progress import ConsoleReporter
from movekit.schemas import load_schema
from tests.lanes import Env
from tests.scenarios.commands import movekit

# Names as long as the API server takes them: a Cluster name is also a label value (63), a
# Machine's and what hangs off it are DNS-1123 subdomains (253).
CLUSTER = "c" * 60 + "-c1"
MACHINE = "m" * 240 + "-end-of-it"
LONG_NAMES = Topology(
    "long-names", "A Cluster named to the limit of a label value, with a Machine stack named "
    "to the limit of an object name.",
    (*base_cluster(random.Random("long"), CLUSTER),
     *machine_stack(random.Random("long"), CLUSTER, MACHINE,
                    owners=[Owner(f"Cluster/{CLUSTER}")])),
    Expected(moved={}))
COLUMNS = ("40", "60", "120")


def _ok(done: subprocess.CompletedProcess[str], what: str) -> str:
    assert done.returncode == 0, f"{what}: {done.stderr}"
    assert "Traceback" not in done.stderr, what
    return done.stdout


def _exported(src: Env, topology: str, namespace: str, bundle: Path) -> Path:
    """``topology`` seeded in the source and exported by the CLI to the directory ``bundle``."""
    src.seed(TOPOLOGIES[topology], namespace=namespace)
    _ok(movekit("export", "--kubeconfig", src.kubeconfig, "-n", namespace, "--leave-paused",
                "--to-directory", bundle), "export")
    return bundle


def _names(path: Path) -> list[str]:
    return [f"{e.ref.kind}/{e.ref.name}" for e in read_bundle(path).entries]


def test_every_output_shows_each_long_name_and_its_action_whole_at_any_width(
    src: Env, dst: Env, namespace: str, tmp_path: Path
) -> None:
    src.seed(LONG_NAMES, namespace=namespace)
    source = ("--kubeconfig", src.kubeconfig, "-n", namespace)
    bundle = tmp_path / "b"
    _ok(movekit("export", *source, "--leave-paused", "--to-directory", bundle), "export")
    names = _names(bundle)
    assert any(MACHINE in name for name in names)
    target = ("--kubeconfig", dst.kubeconfig, "--from-directory", bundle)

    for columns in COLUMNS:
        env = {"COLUMNS": columns}
        for what, args in (("export --dry-run -v", ("export", *source, "--dry-run", "-v")),
                           ("inspect", ("inspect", bundle))):
            stdout = _ok(movekit(*args, env=env), what)
            assert "…" not in stdout, what
            for name in names:
                assert name in stdout, f"{what} at {columns} columns cuts {name[:40]}..."
        stdout = _ok(movekit("import", *target, "--dry-run", env=env), "import --dry-run")
        lines = stdout.splitlines()
        for name in names:
            shown = [line for line in lines if f" {name} " in line]
            assert len(shown) == 1 and "-> create (wave " in shown[0], (columns, name[:40])

    imported = _ok(movekit("import", *target, env={"COLUMNS": "40"}), "import")
    assert "…" not in imported
    for kind in {name.split("/")[0] for name in names}:
        assert any(line.startswith(kind + " ") for line in imported.splitlines()), kind
    retired = _ok(movekit("retire", "--kubeconfig", src.kubeconfig, "--from-directory", bundle,
                          "--dry-run", "--force", env={"COLUMNS": "40"}), "retire --dry-run")
    for entry in read_bundle(bundle).entries:
        assert str(entry.ref) in retired


def test_a_fresh_import_counts_creations_and_a_repeated_one_creates_nothing(
    src: Env, dst: Env, namespace: str, tmp_path: Path
) -> None:
    bundle = _exported(src, "machinedeployment", namespace, tmp_path / "b")
    total = len(read_bundle(bundle).entries)
    target = ("--kubeconfig", dst.kubeconfig, "--from-directory", bundle)

    first = _ok(movekit("import", *target), "import")
    again_text = _ok(movekit("import", *target), "import again")
    again = json.loads(_ok(movekit("import", *target, "-o", "json"), "import again -o json"))

    assert f"created {total}, adopted 0, updated 0, skipped 0; resumed 1 " in first
    assert "created 0, adopted " in again_text and "resumed 0 " in again_text
    jsonschema.validate(again, load_schema("output-import.v1.json"))
    totals = again["totals"]
    assert totals["created"] == 0 and totals["updated"] == 0 and totals["resumed"] == 0
    assert totals["adopted"] + totals["skipped"] == total
    assert f"adopted {totals['adopted']}, updated 0, skipped {totals['skipped']}" in again_text
    assert sum(n for kind in again["summary"].values()
               for action, n in kind.items() if action == "created") == 0


@pytest.mark.parametrize("output", ["text", "json"])
def test_a_move_counts_what_its_import_created_in_the_target(
    src: Env, dst: Env, namespace: str, tmp_path: Path, output: str
) -> None:
    src.seed(TOPOLOGIES["machinedeployment"], namespace=namespace)
    moved = _ok(movekit("move", "--kubeconfig", src.kubeconfig, "-n", namespace,
                        "--to-kubeconfig", dst.kubeconfig, "--journal", tmp_path / "move.json",
                        "-o", output), "move")
    total = len(read_bundle(tmp_path / "move.bundle").entries)

    if output == "text":
        assert f"target: created {total}, adopted 0, updated 0, skipped 0" in moved.splitlines()
    else:
        document = json.loads(moved)
        jsonschema.validate(document, load_schema("output-move.v1.json"))
        assert document["imported"] == {"created": total, "adopted": 0, "updated": 0,
                                        "skipped": 0}


def _quiet_and_documents(src: Env, dst: Env, namespace: str, tmp_path: Path
                         ) -> list[tuple[str, Callable[[str], list[str | Path]]]]:
    """Each command with -q or -o, as a row: its name and its arguments for a flag."""
    src.seed(TOPOLOGIES["cluster-alone"], namespace=namespace)
    source = ("--kubeconfig", src.kubeconfig, "-n", namespace)
    fixed = tmp_path / "fixed"
    _ok(movekit("export", *source, "--leave-paused", "--to-directory", fixed), "export")
    into = ("--kubeconfig", dst.kubeconfig, "--from-directory", fixed)
    fresh = iter(range(1000))
    return [
        ("export", lambda flag: ["export", *source, "--to-directory",
                                 tmp_path / f"e{next(fresh)}", flag]),
        ("export --dry-run", lambda flag: ["export", *source, "--dry-run", flag]),
        ("import --dry-run", lambda flag: ["import", *into, "--dry-run", flag]),
        ("retire --dry-run", lambda flag: ["retire", "--kubeconfig", src.kubeconfig,
                                           "--from-directory", fixed, "--dry-run", "--force",
                                           flag]),
        ("move --dry-run", lambda flag: ["move", *source, "--to-kubeconfig", dst.kubeconfig,
                                         "--dry-run", flag]),
        ("import", lambda flag: ["import", *into, flag]),
    ]


def test_quiet_prints_exactly_the_one_result_line_for_every_command(
    src: Env, dst: Env, namespace: str, tmp_path: Path
) -> None:
    for what, args in _quiet_and_documents(src, dst, namespace, tmp_path):
        stdout = _ok(movekit(*args("-q")), f"{what} -q")
        assert len(stdout.splitlines()) == 1, f"{what} -q printed:\n{stdout}"
    moved = movekit("move", "--kubeconfig", src.kubeconfig, "-n", namespace, "--to-kubeconfig",
                    dst.kubeconfig, "--journal", tmp_path / "move.json", "--conflict", "skip",
                    "-q")
    assert len(_ok(moved, "move -q").splitlines()) == 1, moved.stdout


@pytest.mark.parametrize("output", ["json", "yaml"])
def test_every_document_wears_the_same_envelope(
    src: Env, dst: Env, namespace: str, tmp_path: Path, output: str
) -> None:
    rows = _quiet_and_documents(src, dst, namespace, tmp_path)
    fixed = tmp_path / "fixed"
    rows += [
        ("verify", lambda flag: ["verify", fixed, flag]),
        ("inspect", lambda flag: ["inspect", fixed, flag]),
        ("resume-source", lambda flag: ["resume-source", "--kubeconfig", src.kubeconfig,
                                        "--from-directory", fixed, flag]),
        ("version", lambda flag: ["version", flag]),
    ]
    kinds = {}
    for what, args in rows:
        stdout = _ok(movekit(*args("-o"), output), f"{what} -o {output}")
        document: dict[str, Any] = (json.loads(stdout) if output == "json"
                                    else yaml.safe_load(stdout))
        assert document["apiVersion"] == render.OUTPUT_API_VERSION, what
        kinds[what] = document["kind"]
    failed = movekit("verify", tmp_path / "missing", "-o", output)
    assert failed.returncode == 3
    error = json.loads(failed.stdout) if output == "json" else yaml.safe_load(failed.stdout)
    assert (error["apiVersion"], error["kind"]) == (render.OUTPUT_API_VERSION, "Error")
    assert kinds["inspect"] == "Bundle" and kinds["version"] == "Version"
    assert all(kinds.values()), kinds


def test_a_big_fleet_dry_run_prints_a_summary_and_the_tree_with_verbose(
    src: Env, namespace: str
) -> None:
    topology = fleet(4)
    src.seed(topology, namespace=namespace)
    clusters = [spec.manifest["metadata"]["name"] for spec in topology.objects
                if spec.manifest["kind"] == "Cluster"]
    names = [spec.manifest["metadata"]["name"] for spec in topology.objects]
    source = ("--kubeconfig", src.kubeconfig, "-n", namespace, "--dry-run")

    summary = _ok(movekit("export", *source), "export --dry-run")
    tree = _ok(movekit("export", *source, "-v"), "export --dry-run -v")

    lines = summary.splitlines()
    assert len(names) > render.SUMMARY_OBJECTS and len(clusters) > render.SUMMARY_CLUSTERS
    assert len(lines) < 40, summary
    assert "-v shows every object" in summary
    for cluster in clusters:
        assert any(line.startswith(f"{namespace}/{cluster} ") for line in lines), cluster
    assert any(line.startswith(namespace + " ") for line in lines)
    machines = [spec.manifest["metadata"]["name"] for spec in topology.objects
                if spec.manifest["kind"] == "Machine"]
    assert not any(machine in summary for machine in machines)
    assert all(f"Machine/{machine}" in tree for machine in machines)
    assert summary.splitlines()[-1] == tree.splitlines()[-1]


def test_import_shows_one_bar_across_its_waves_naming_the_wave_it_is_in(
    src: Env, dst: Env, namespace: str, tmp_path: Path
) -> None:
    bundle = _exported(src, "machinedeployment", namespace, tmp_path / "b")
    entries = read_bundle(bundle).entries
    last = max(e.wave for e in entries)
    reporter = ConsoleReporter(stream=io.StringIO(), interactive=True)
    reporter.console = Console(file=io.StringIO(), force_terminal=True, record=True, width=200)

    with dst.client() as client:
        import_bundle(client, bundle, ImportOptions(), reporter)

    # The recording holds every redraw of the bar, one after another.
    frames = reporter.console.export_text().split("importing")[1:]
    total = f"/{len(entries)} "
    assert frames and all(total in frame for frame in frames), frames
    assert frames[-1].startswith(f" (wave {last} of 0-{last})")
    assert f"{len(entries)}{total}" in frames[-1]
    assert "elapsed " in frames[-1] and "eta " in frames[-1]
