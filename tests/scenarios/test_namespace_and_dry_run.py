"""``-n`` of a namespace that does not exist is told from an empty one, and ``--dry-run`` takes
kubectl's spellings: against a cluster, in both lanes."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from kubesim.capi.install import ensure_namespace
from kubesim.capi.topologies import TOPOLOGIES
from movekit.bundle import read_bundle
from tests.cli_run import movekit
from tests.lanes import Env

# Each command that selects by namespace, as a user would run it against src (and dst).
SELECTING: dict[str, Callable[[Env, Env, str, Path], list[str]]] = {
    "export": lambda src, dst, ns, tmp: [
        "export", "--kubeconfig", str(src.kubeconfig), "-n", ns, "--to-directory",
        str(tmp / "bundle")],
    "export --dry-run": lambda src, dst, ns, tmp: [
        "export", "--kubeconfig", str(src.kubeconfig), "-n", ns, "--dry-run"],
    "export --cluster": lambda src, dst, ns, tmp: [
        "export", "--kubeconfig", str(src.kubeconfig), "-n", ns, "--cluster", "web",
        "--to-archive", str(tmp / "bundle.tar.zst")],
    "move --dry-run": lambda src, dst, ns, tmp: [
        "move", "--kubeconfig", str(src.kubeconfig), "--to-kubeconfig", str(dst.kubeconfig),
        "-n", ns, "--dry-run=client"],
    "move": lambda src, dst, ns, tmp: [
        "move", "--kubeconfig", str(src.kubeconfig), "--to-kubeconfig", str(dst.kubeconfig),
        "-n", ns, "--journal", str(tmp / "move.journal.json")],
}


def _errors(err: str) -> list[str]:
    assert "Traceback" not in err
    return [line for line in err.splitlines() if line.startswith("error:")]


@pytest.mark.parametrize("command", sorted(SELECTING))
def test_a_namespace_that_does_not_exist_is_refused_as_such(
        command: str, src: Env, dst: Env, namespace: str, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    work = tmp_path / "work"
    work.mkdir()
    args = SELECTING[command](src, dst, namespace, work)

    code, out, err = movekit(*args, "-q", monkeypatch=monkeypatch, capsys=capsys)

    assert code == 4, err
    assert out == ""
    assert _errors(err) == [f"error: namespace {namespace} does not exist"], err
    assert list(work.iterdir()) == [], "nothing is written"


@pytest.mark.parametrize("command", sorted(SELECTING))
def test_an_empty_namespace_says_it_holds_nothing_to_export(
        command: str, src: Env, dst: Env, namespace: str, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    ensure_namespace(src.api, namespace)
    work = tmp_path / "work"
    work.mkdir()
    args = SELECTING[command](src, dst, namespace, work)

    code, out, err = movekit(*args, "-q", monkeypatch=monkeypatch, capsys=capsys)

    assert code == 4, err
    assert out == ""
    expected = (f"error: no Cluster named web in namespace {namespace}" if "--cluster" in args
                else f"error: nothing to export: namespace {namespace} holds no Cluster, "
                     "ClusterClass, ClusterResourceSet or object labelled for move")
    assert _errors(err) == [expected], err
    assert list(work.iterdir()) == [], "nothing is written"


# (the --dry-run spelling, whether it is a dry run)
SPELLINGS = {"(none)": ((), False), "--dry-run": (("--dry-run",), True),
             "--dry-run=client": (("--dry-run=client",), True),
             "--dry-run=server": (("--dry-run=server",), True),
             "--dry-run=none": (("--dry-run=none",), False)}


@pytest.mark.parametrize("spelling", sorted(SPELLINGS))
def test_export_takes_kubectls_dry_run_spellings(
        spelling: str, src: Env, namespace: str, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    src.seed(TOPOLOGIES["kcp-with-machines"], namespace=namespace)
    flags, dry = SPELLINGS[spelling]
    target = tmp_path / "bundle"

    code, out, err = movekit("export", "--kubeconfig", str(src.kubeconfig), "-n", namespace,
                             "--to-directory", str(target), *flags,
                             monkeypatch=monkeypatch, capsys=capsys)

    assert code == 0, err
    if dry:
        assert "would export" in out and not target.exists()
    else:
        assert read_bundle(target).entries
