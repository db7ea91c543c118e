"""A file that cannot be written or read ends a command with one line, never a traceback.

Writes fail here the way a full disk fails them, mid-write, after the command has paused the
source: each command runs in a process of its own under a file size limit (a write over it
fails with EFBIG, as one on a full disk fails with ENOSPC). Reads are of what is not a bundle:
a FIFO, a device, files of /proc, a path through a file.
"""

from __future__ import annotations

import base64
import os
import resource
import signal
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from kubesim import KubeSim
from kubesim.capi.topologies import TOPOLOGIES
from movekit import cli
from movekit.contract import PAUSED_BY_ANNOTATION
from tests.lanes import Env

CLUSTERS = ("cluster.x-k8s.io/v1beta2", "Cluster")
TOPOLOGY = "two-clusters"


@dataclass(frozen=True)
class Write:
    """A command whose write fails at ``limit`` bytes, and what it must say."""

    id: str
    args: Callable[[Path, Path, Path], list[str]]  # source, target kubeconfig, work directory
    limit: int
    code: int
    error: Callable[[Path], str]  # the last line on stderr
    written: str  # what fails, under the work directory


def _move(src: Path, dst: Path, out: Path) -> list[str]:
    return ["move", "--kubeconfig", str(src), "--to-kubeconfig", str(dst),
            "--journal", str(out / "move.json")]


WRITES = [
    Write("export-archive",
          lambda src, dst, out: ["export", "--kubeconfig", str(src),
                                 "--to-archive", str(out / "bundle.tar.zst")],
          4096, 1, lambda out: f"error: {out / 'bundle.tar.zst'}: cannot be written "
                               "(File too large)", "bundle.tar.zst"),
    Write("export-directory",
          lambda src, dst, out: ["export", "--kubeconfig", str(src),
                                 "--to-directory", str(out / "bundle")],
          4096, 1, lambda out: f"error: {out / 'bundle'}: cannot be written (File too large)",
          "bundle"),
    Write("export-clusterctl-layout",
          lambda src, dst, out: ["export", "--kubeconfig", str(src),
                                 "--to-directory", str(out / "bundle"), "--clusterctl-layout"],
          512, 1, lambda out: f"error: {out / 'bundle'}: cannot be written (File too large)",
          "bundle"),
    Write("move-journal", _move, 64, 1,
          lambda out: f"error: {out / 'move.json'}: cannot be written (File too large)",
          "move.json"),
    Write("move-bundle", _move, 4096, 7,
          lambda out: f"error: move failed and was rolled back: {out / 'move.bundle'}: "
                      "cannot be written (File too large)", "move.bundle"),
]


def _limited(limit: int) -> Callable[[], None]:
    def apply() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write over the limit fails, EFBIG
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return apply


def _kubeconfig_with_files(env: Env, path: Path) -> Path:
    """``env``'s kubeconfig with its CA in a file: the client then writes no temporary copy of
    it, and the file size limit meets only the command's own writes."""
    document = yaml.safe_load(env.kubeconfig.read_text())
    for number, entry in enumerate(document["clusters"]):
        data = entry["cluster"].pop("certificate-authority-data", None)
        if data:
            ca = path.with_suffix(f".ca-{number}.crt")
            ca.write_bytes(base64.b64decode(data))
            entry["cluster"]["certificate-authority"] = str(ca)
    path.write_text(yaml.safe_dump(document))
    return path


def _pause_state(env: Env, namespace: str) -> dict[str, tuple[object, bool]]:
    """Per Cluster: spec.paused, and whether it carries movekit's mark of a pause."""
    return {name: (c["spec"].get("paused"),
                   PAUSED_BY_ANNOTATION in (c["metadata"].get("annotations") or {}))
            for name, c in _clusters(env, namespace).items()}


def _clusters(env: Env, namespace: str) -> dict[str, dict[str, Any]]:
    with env.client() as client:
        res = client.resource(*CLUSTERS)
        assert res is not None
        return {c["metadata"]["name"]: c for c in client.list(res, namespace)}


@pytest.mark.parametrize("case", WRITES, ids=[w.id for w in WRITES])
def test_a_write_that_fails_midway_ends_in_one_line_with_the_clusters_as_they_were(
        case: Write, src: Env, dst: Env, namespace: str, tmp_path: Path) -> None:
    src.seed(TOPOLOGIES[TOPOLOGY], namespace=namespace)
    before = _pause_state(src, namespace)
    out = tmp_path / "out"
    out.mkdir()
    args = case.args(_kubeconfig_with_files(src, tmp_path / "source.yaml"),
                     _kubeconfig_with_files(dst, tmp_path / "target.yaml"), out)

    done = subprocess.run([sys.executable, "-m", "movekit", *args,
                           "-n", namespace, "-q"], capture_output=True, text=True, timeout=120,
                          check=False, preexec_fn=_limited(case.limit))

    assert "Traceback" not in done.stderr
    assert done.returncode == case.code, done.stderr
    assert done.stderr.splitlines()[-1] == case.error(out)
    assert _pause_state(src, namespace) == before, "nothing left paused"
    assert not [name for name in os.listdir(out) if name.endswith(".tmp")], "no staging left"
    assert not (out / case.written).exists() or case.written == "move.json"
    if case.id.startswith("move"):
        assert _clusters(dst, namespace) == {}, "nothing was created in the target"


# -- reads --------------------------------------------------------------------------------------


def _not_bundles(root: Path) -> dict[str, Path]:
    """Paths a bundle is read from that hold no bundle, each a way a read can go wrong."""
    fifo = root / "fifo"
    os.mkfifo(fifo)
    (root / "file").write_text("not a bundle\n")
    fifo_manifest = root / "fifo-manifest"
    fifo_manifest.mkdir()
    os.mkfifo(fifo_manifest / "manifest.json")
    return {"fifo": fifo, "null": Path("/dev/null"), "zero": Path("/dev/zero"),
            "proc-mem": Path("/proc/self/mem"), "proc-environ": Path("/proc/self/environ"),
            # Another process's memory: permission denied, even to root without ptrace rights.
            "permission-denied": Path("/proc/1/mem"),
            "proc-dir": Path("/proc/self/fd"), "through-a-file": root / "file" / "bundle",
            "missing": root / "missing", "manifest-is-a-fifo": fifo_manifest}


# What the one line says of each, after the path.
NOT_A_BUNDLE = "neither a bundle directory nor a .tar.zst archive"
READS = {"fifo": NOT_A_BUNDLE, "null": NOT_A_BUNDLE, "zero": NOT_A_BUNDLE,
         "proc-environ": NOT_A_BUNDLE, "proc-mem": "cannot be read (Input/output error)",
         "permission-denied": "cannot be read (",  # EACCES, or EIO where root may trace
         "proc-dir": "is a symbolic link", "through-a-file": "cannot be read (Not a directory)",
         "missing": "no such file or directory", "manifest-is-a-fifo": "manifest.json: is a FIFO"}


@pytest.mark.parametrize("command", ["verify", "inspect"])
@pytest.mark.parametrize("shape", READS)
def test_reading_what_is_not_a_bundle_ends_in_one_line_naming_it(
        command: str, shape: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    path = _not_bundles(tmp_path)[shape]
    monkeypatch.setattr(sys, "argv", ["movekit", command, str(path)])
    capsys.readouterr()

    with pytest.raises(SystemExit) as exited:
        cli.main()

    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    assert exited.value.code == 3, captured.err
    lines = captured.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {path}: "), captured.err
    assert READS[shape] in lines[0]
    assert captured.out == ""


IMPORTS = [("--from-archive", "fifo", 2), ("--from-archive", "zero", 2),
           ("--from-archive", "proc-mem", 3), ("--from-archive", "proc-environ", 3),
           ("--from-archive", "permission-denied", 3),
           ("--from-directory", "fifo", 2), ("--from-directory", "through-a-file", 2),
           ("--from-directory", "proc-dir", 3), ("--from-directory", "manifest-is-a-fifo", 3)]


@pytest.mark.parametrize(("flag", "shape", "code"), IMPORTS,
                         ids=[f"{flag[2:]}-{shape}" for flag, shape, _ in IMPORTS])
def test_importing_from_what_is_not_a_bundle_ends_in_one_line_and_writes_nothing(
        flag: str, shape: str, code: int, source: KubeSim, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    kubeconfig = source.write_kubeconfig(tmp_path / "target.kubeconfig")
    path = _not_bundles(tmp_path)[shape]
    monkeypatch.setattr(sys, "argv", ["movekit", "import", "--kubeconfig", str(kubeconfig),
                                      flag, str(path), "-q"])
    capsys.readouterr()

    with pytest.raises(SystemExit) as exited:
        cli.main()

    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    assert exited.value.code == code, captured.err
    lines = captured.err.splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith((f"error: {flag} {path}: ", f"error: {path}: ")), captured.err
    assert source.request_count(write=True) == 0
