"""The command line as a user runs it: output, exit codes, one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from kubesim.capi.topologies import TOPOLOGIES
from movekit.bundle import read_bundle
from tests.lanes import Env


def movekit(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "movekit", *map(str, args)],
                          capture_output=True, text=True, timeout=120, check=False)


def _one_line_error(completed: subprocess.CompletedProcess[str]) -> str:
    lines = [line for line in completed.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, completed.stderr
    assert "Traceback" not in completed.stderr
    return lines[0]


def test_export_verify_inspect_import_through_the_cli(
    src: Env, dst: Env, namespace: str, tmp_path: Path
) -> None:
    src.seed(TOPOLOGIES["kcp-with-machines"], namespace=namespace)
    bundle = tmp_path / "b.tar.zst"

    exported = movekit("export", "--kubeconfig", src.kubeconfig, "-n", namespace,
                       "--leave-paused", "--to-archive", bundle)
    assert exported.returncode == 0, exported.stderr
    digest = read_bundle(bundle).digest
    assert f"bundle digest: {digest}" in exported.stdout

    verified = movekit("verify", bundle)
    assert verified.returncode == 0
    assert verified.stdout.strip().splitlines()[-1] == digest

    tree = movekit("inspect", bundle)
    assert tree.returncode == 0 and "KubeadmControlPlane" in tree.stdout
    as_json = movekit("inspect", bundle, "--format", "json")
    assert json.loads(as_json.stdout)["digest"] == digest
    assert movekit("inspect", bundle, "--format", "dot").stdout.startswith("digraph")
    assert movekit("inspect", bundle, "--format", "mermaid").stdout.startswith("graph LR")

    plan = movekit("import", "--kubeconfig", dst.kubeconfig, "--from-archive", bundle,
                   "--dry-run", "--output", "json")
    assert plan.returncode == 0, plan.stderr
    steps = json.loads(plan.stdout)["plan"]
    assert {s["action"] for s in steps} == {"create"}

    imported = movekit("import", "--kubeconfig", dst.kubeconfig, "--from-archive", bundle,
                       "--expect-digest", digest)
    assert imported.returncode == 0, imported.stderr
    assert f"from bundle {digest}" in " ".join(imported.stdout.split())


@pytest.mark.parametrize(("args", "code", "says"), [
    (["export", "--to-directory", "a", "--to-archive", "b.tar.zst"], 2, "exclude each other"),
    (["import", "--from-directory", "b", "--conflict", "merge"], 2,
     "'merge' is not one of 'fail', 'skip', 'update'"),
    (["import", "--from-directory", "b", "--namespace-map", "nope"], 2, "OLD=NEW"),
    (["verify", "missing-bundle"], 3, "missing-bundle"),
    (["export", "--kubeconfig", "no-such-kubeconfig", "--to-directory", "b"], 2,
     "kubeconfig no-such-kubeconfig does not exist"),
])
def test_bad_input_gets_one_line_and_its_exit_code(
    args: list[str], code: int, says: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "b").mkdir()  # a bundle directory that exists: each row has one problem
    completed = movekit(*args)
    assert completed.returncode == code, completed.stderr
    assert says in _one_line_error(completed)


def test_an_unreachable_cluster_exits_5_naming_the_server(src: Env, tmp_path: Path) -> None:
    sim = src.require_sim("stops the API server mid-test")
    sim.write_kubeconfig(tmp_path / "gone.yaml")
    url = sim.url
    sim.stop()
    completed = movekit("export", "--kubeconfig", tmp_path / "gone.yaml", "-n", "x",
                        "--to-directory", tmp_path / "b")
    assert completed.returncode == 5, completed.stderr
    assert url in _one_line_error(completed) or "cannot reach" in completed.stderr
    assert not (tmp_path / "b").exists()


def test_unprovisioned_clusters_exit_4_and_name_each(src: Env, namespace: str,
                                                     tmp_path: Path) -> None:
    topology = TOPOLOGIES["not-provisioned"]
    src.seed(topology, namespace=namespace)
    completed = movekit("export", "--kubeconfig", src.kubeconfig, "-n", namespace,
                        "--to-directory", tmp_path / "b")
    assert completed.returncode == 4
    for ref in topology.expected_precheck_failures(namespace):
        assert str(ref) in completed.stderr
    assert not (tmp_path / "b").exists()


def test_a_denied_import_exits_7_and_a_rerun_resumes(
    src: Env, dst: Env, namespace: str, tmp_path: Path
) -> None:
    sim = dst.require_sim("denies creates as an admission webhook would")
    src.seed(TOPOLOGIES["two-machines"], namespace=namespace)
    assert movekit("export", "--kubeconfig", src.kubeconfig, "-n", namespace, "--leave-paused",
                   "--to-directory", tmp_path / "b").returncode == 0
    sim.controls.admission(lambda verb, obj: "not today" if obj.get("kind") == "Machine" else None)

    denied = movekit("import", "--kubeconfig", dst.kubeconfig, "--from-directory", tmp_path / "b")

    assert denied.returncode == 7
    assert "not today" in denied.stderr and "run the same import again" in denied.stderr
    sim.controls.admission(None)
    rerun = movekit("import", "--kubeconfig", dst.kubeconfig, "--from-directory", tmp_path / "b")
    assert rerun.returncode == 0, rerun.stderr


def test_shell_completion_completes_commands_and_flags() -> None:
    import os

    def complete(words: str) -> list[str]:
        env = {**os.environ, "_MOVEKIT_COMPLETE": "complete_bash", "COMP_WORDS": words,
               "COMP_CWORD": str(len(words.split()) - 1)}
        # Completion is keyed on the program's name: the installed script, as a shell runs it.
        script = Path(sys.executable).with_name("movekit")
        done = subprocess.run([str(script)], env=env, capture_output=True,
                              text=True, timeout=60, check=False)
        return done.stdout.split()

    assert complete("movekit ex") == ["export"]
    assert set(complete("movekit export --to")) == {"--to-directory", "--to-archive"}
    # typer asks shellingham for the calling shell and ignores the argument unless told not to:
    # under `make` that shell is sh, which it does not support.
    plain = {**os.environ, "_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION": "1"}
    shown = subprocess.run([str(Path(sys.executable).with_name("movekit")), "--show-completion",
                            "bash"], capture_output=True, text=True, timeout=60, check=False,
                           env=plain)
    assert shown.returncode == 0 and "_movekit_completion" in shown.stdout


def test_export_yaml_output_lists_each_excluded_object_with_its_reason(
    src: Env, namespace: str
) -> None:
    src.seed(TOPOLOGIES["orphans"], namespace=namespace)

    shown = movekit("export", "--kubeconfig", src.kubeconfig, "-n", namespace, "--dry-run",
                    "--output", "yaml")

    assert shown.returncode == 0, shown.stderr
    excluded = yaml.safe_load(shown.stdout)["excluded"]
    expected = TOPOLOGIES["orphans"].expected_excluded(namespace)
    shown_reasons = {e["name"]: e["reason"] for e in excluded}  # and the namespace's own ConfigMap
    assert {ref.name: reason for ref, reason in expected.items()}.items() <= shown_reasons.items()
