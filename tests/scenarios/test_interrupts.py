"""Signals, a reader that goes away, and kills: the source never stays paused without a way back.

Every command runs as a user runs it, in a process of its own. A Cluster carrying the
block-move annotation holds the export after it has paused the source (it waits for the
annotation to clear), which makes the window in which the source is paused as wide as a test
needs, in both lanes.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from kubesim.capi.topologies import TOPOLOGIES
from movekit.bundle import read_bundle
from movekit.contract import BLOCK_MOVE_ANNOTATION, PAUSED_BY_ANNOTATION
from movekit.export import ExportOptions, export_bundle
from movekit.journal import Journal, Phase
from movekit.model import Selection
from movekit.mover import MoveOptions, resume, resume_source
from movekit.pause import Pausable, set_paused
from movekit.refs import ObjectRef
from tests.lanes import Env
from tests.scenarios.checks import assert_target_holds_bundle
from tests.scenarios.commands import movekit

CLUSTERS = ("cluster.x-k8s.io/v1beta2", "Cluster")
TOPOLOGY = "two-clusters"
SIGNALS = [signal.SIGTERM, signal.SIGHUP, signal.SIGINT]


def _seed(env: Env, namespace: str) -> Selection:
    topology = TOPOLOGIES[TOPOLOGY]
    env.seed(topology, namespace=namespace)
    return Selection(namespace=namespace, clusters=frozenset(topology.clusters))


def _clusters(env: Env, namespace: str) -> dict[str, dict[str, Any]]:
    with env.client() as client:
        res = client.resource(*CLUSTERS)
        assert res is not None
        return {c["metadata"]["name"]: c for c in client.list(res, namespace)}


def _pause_state(env: Env, namespace: str) -> dict[str, tuple[object, bool]]:
    """Per Cluster: spec.paused, and whether it carries movekit's mark of a pause."""
    return {name: (c["spec"].get("paused"),
                   PAUSED_BY_ANNOTATION in (c["metadata"].get("annotations") or {}))
            for name, c in _clusters(env, namespace).items()}


def _block_move(env: Env, namespace: str, blocked: bool) -> None:
    """Set (or clear) block-move on the first Cluster: the export waits after pausing."""
    with env.client() as client:
        res = client.resource(*CLUSTERS)
        assert res is not None
        name = sorted(_clusters(env, namespace))[0]
        client.merge_patch(res, namespace, name, {"metadata": {"annotations": {
            BLOCK_MOVE_ANNOTATION: "" if blocked else None}}})


def _start(*args: str | Path, stdout: int | None = subprocess.DEVNULL,
           stderr: int | None = subprocess.PIPE) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "movekit", *map(str, args)],
                            stdout=stdout, stderr=stderr)


def _wait_until_paused(env: Env, namespace: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while not all(paused is True for paused, _ in _pause_state(env, namespace).values()):
        assert process.poll() is None, "the command ended before the source was paused"
        assert time.monotonic() < deadline, "the source was never paused"
        time.sleep(0.05)


def _finish(process: subprocess.Popen[bytes]) -> tuple[int, list[str]]:
    _, stderr = process.communicate(timeout=60)
    text = stderr.decode() if stderr else ""
    assert "Traceback" not in text, text
    return process.returncode, [line for line in text.splitlines() if line.strip()]


def _unpaused(env: Env, namespace: str) -> dict[str, tuple[object, bool]]:
    return dict.fromkeys(_clusters(env, namespace), (None, False))


@pytest.mark.parametrize("signum", SIGNALS, ids=lambda s: signal.Signals(s).name)
def test_a_signal_while_the_source_is_paused_restores_it_and_says_how_to_go_on(
    signum: int, src: Env, namespace: str, tmp_path: Path
) -> None:
    _seed(src, namespace)
    _block_move(src, namespace, True)
    out = tmp_path / "out"
    out.mkdir()
    process = _start("export", "--kubeconfig", src.kubeconfig, "-n", namespace,
                     "--to-directory", out / "bundle", "-q")
    _wait_until_paused(src, namespace, process)

    process.send_signal(signum)
    code, lines = _finish(process)

    assert code == 128 + signum
    reason = "interrupted" if signum == signal.SIGINT else \
        f"interrupted ({signal.Signals(signum).name})"
    assert lines == [f"{reason}; run the same command again to resume"]
    assert _pause_state(src, namespace) == _unpaused(src, namespace)
    assert os.listdir(out) == [], "no bundle, and no staging directory left behind"


def test_a_reader_that_goes_away_during_an_export_ends_it_with_the_source_restored(
    src: Env, namespace: str, tmp_path: Path
) -> None:
    _seed(src, namespace)
    _block_move(src, namespace, True)
    # -vv logs every request, from the worker threads: their write to the closed pipe must
    # interrupt the main thread, which writes nothing while it waits for block-move.
    read, write = os.pipe()
    process = _start("export", "--kubeconfig", src.kubeconfig, "-n", namespace,
                     "--to-directory", tmp_path / "bundle", "-vv", stderr=write)
    os.close(write)
    with os.fdopen(read, "rb") as reader:
        reader.readline()
        _wait_until_paused(src, namespace, process)
    code, _ = _finish(process)

    assert code == 128 + signal.SIGPIPE
    assert _pause_state(src, namespace) == _unpaused(src, namespace)
    assert not (tmp_path / "bundle").exists()


@pytest.mark.parametrize("how", ["reader gone", "closed"])
@pytest.mark.parametrize("command", ["export", "import", "version", "verify", "inspect"])
def test_a_closed_standard_output_ends_a_command_with_no_traceback_and_a_hint_if_it_resumes(
    command: str, how: str, src: Env, namespace: str, tmp_path: Path
) -> None:
    selection = _seed(src, namespace)
    bundle = tmp_path / "bundle"
    with src.client() as client:
        export_bundle(client, ExportOptions(selection=selection, target=bundle))
    args: dict[str, list[str | Path]] = {
        "export": ["--kubeconfig", src.kubeconfig, "-n", namespace,
                   "--to-directory", tmp_path / "again"],
        "import": ["--kubeconfig", src.kubeconfig, "--from-directory", bundle, "--dry-run",
                   "--conflict", "skip", "--allow-active-source"],
        "version": [], "verify": [bundle], "inspect": [bundle]}
    if how == "closed":  # `movekit ... >&-`
        process = subprocess.Popen(
            [sys.executable, "-m", "movekit", command, *map(str, args[command])],
            stderr=subprocess.PIPE, preexec_fn=lambda: os.close(1))
    else:  # `movekit ... | head -0`: the reader is gone before the first line
        read, write = os.pipe()
        os.close(read)
        process = _start(command, *args[command], stdout=write)
        os.close(write)
    code, lines = _finish(process)

    assert code == 128 + signal.SIGPIPE
    # Running export or import again resumes it; running a read-only command again does not.
    assert lines[-1] == ("interrupted (output closed); run the same command again to resume"
                         if command in ("export", "import") else "interrupted (output closed)")
    assert _pause_state(src, namespace) == _unpaused(src, namespace)
    if command == "export":
        assert read_bundle(tmp_path / "again").digest  # written before the summary was


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP, signal.SIGPIPE],
                         ids=lambda s: signal.Signals(s).name)
def test_an_interrupted_move_keeps_its_journal_resumable_and_says_how(
    signum: int, src: Env, dst: Env, namespace: str, tmp_path: Path
) -> None:
    selection = _seed(src, namespace)
    _block_move(src, namespace, True)
    journal = tmp_path / "move.journal.json"
    args = ("move", "--kubeconfig", src.kubeconfig, "--to-kubeconfig", dst.kubeconfig,
            "-n", namespace, "--journal", journal)
    if signum == signal.SIGPIPE:
        read, write = os.pipe()
        process = _start(*args, "-vv", stderr=write)
        os.close(write)
        with os.fdopen(read, "rb") as reader:
            reader.readline()
            _wait_until_paused(src, namespace, process)
    else:
        process = _start(*args, "-q")
        _wait_until_paused(src, namespace, process)
        process.send_signal(signum)
    code, lines = _finish(process)

    assert code == 128 + signum
    if signum != signal.SIGPIPE:
        assert lines[-1] == (
            f"interrupted ({signal.Signals(signum).name}); continue with: movekit move "
            f"--resume {journal}  (or undo with --rollback {journal})")
    record = Journal.load(journal)
    assert record.phase == Phase.PAUSING
    assert _pause_state(src, namespace) == _unpaused(src, namespace)

    _block_move(src, namespace, False)
    with src.client() as source, dst.client() as target:
        resume(record, source, target, MoveOptions(selection=selection))
        assert record.phase == Phase.DONE
        assert_target_holds_bundle(target, read_bundle(Path(record.bundle_path)))


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP],
                         ids=lambda s: signal.Signals(s).name)
def test_an_interrupted_import_says_how_to_go_on_and_running_it_again_finishes(
    signum: int, src: Env, dst: Env, namespace: str, tmp_path: Path
) -> None:
    sim = dst.require_sim("slows the target down to signal the import while it creates")
    selection = _seed(src, namespace)
    bundle = tmp_path / "bundle"
    with src.client() as client:
        export_bundle(client, ExportOptions(selection=selection, target=bundle))
    sim.controls.latency_ms = 30.0
    created = sim.request_count(verb="create")
    process = _start("import", "--kubeconfig", dst.kubeconfig, "--from-directory", bundle,
                     "-q", "--workers", "1", "--allow-active-source")
    deadline = time.monotonic() + 60
    while sim.request_count(verb="create") < created + 3:
        assert process.poll() is None and time.monotonic() < deadline
        time.sleep(0.02)
    process.send_signal(signum)
    code, lines = _finish(process)
    sim.controls.latency_ms = 0.0

    assert code == 128 + signum
    assert lines == [f"interrupted ({signal.Signals(signum).name}); "
                     "run the same command again to resume"]
    again = movekit("import", "--kubeconfig", dst.kubeconfig, "--from-directory", bundle,
                    "--allow-active-source")
    assert again.returncode == 0, again.stderr
    with dst.client() as target:
        assert_target_holds_bundle(target, read_bundle(bundle))


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT],
                         ids=lambda s: signal.Signals(s).name)
def test_an_interrupted_demo_says_only_that_it_was_interrupted(signum: int) -> None:
    process = subprocess.Popen([sys.executable, "-m", "movekit", "demo", "--clusters", "1"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert process.stdout is not None
    process.stdout.readline()  # the demo has started its clusters

    process.send_signal(signum)
    code, lines = _finish(process)

    assert code == 128 + signum
    reason = "interrupted" if signum == signal.SIGINT else \
        f"interrupted ({signal.Signals(signum).name})"
    assert lines == [reason]


# -- a kill no handler sees ---------------------------------------------------------------------


def _kill_while_paused(src: Env, namespace: str, tmp_path: Path) -> None:
    """SIGKILL an export while it holds the source paused; the pause stays, with its mark."""
    _block_move(src, namespace, True)
    process = _start("export", "--kubeconfig", src.kubeconfig, "-n", namespace,
                     "--to-directory", tmp_path / "killed", "-q")
    _wait_until_paused(src, namespace, process)
    process.kill()
    process.wait()
    _block_move(src, namespace, False)
    assert set(_pause_state(src, namespace).values()) == {(True, True)}


def test_the_export_after_a_killed_one_records_the_clusters_as_not_paused_and_resumes_them(
    src: Env, namespace: str, tmp_path: Path
) -> None:
    selection = _seed(src, namespace)
    _kill_while_paused(src, namespace, tmp_path)

    with src.client() as client:
        export_bundle(client, ExportOptions(selection=selection, target=tmp_path / "bundle"))
    bundle = read_bundle(tmp_path / "bundle")

    clusters = [e for e in bundle.entries if e.ref.kind == "Cluster"]
    assert clusters and not any(e.was_paused for e in clusters)
    assert _pause_state(src, namespace) == _unpaused(src, namespace)
    stored = [json.dumps(bundle.load(e)) for e in bundle.entries]
    assert not any(PAUSED_BY_ANNOTATION in text for text in stored)


def test_resume_source_resumes_clusters_a_killed_export_left_paused(
    src: Env, namespace: str, tmp_path: Path
) -> None:
    selection = _seed(src, namespace)
    # A bundle from when the user had paused the Clusters: it says they were paused before.
    with src.client() as client:
        res = client.resource(*CLUSTERS)
        assert res is not None
        refs = [Pausable(ObjectRef("cluster.x-k8s.io", "Cluster", namespace, name), res)
                for name in _clusters(src, namespace)]
        for ref in refs:
            client.merge_patch(res, namespace, ref.ref.name, {"spec": {"paused": True}})
        export_bundle(client, ExportOptions(selection=selection, target=tmp_path / "old"))
        set_paused(client, refs, paused=False)
    old = read_bundle(tmp_path / "old")
    assert all(e.was_paused for e in old.entries if e.ref.kind == "Cluster")
    _kill_while_paused(src, namespace, tmp_path)

    with src.client() as client:
        resumed = resume_source(client, old.entries)

    assert {r.name for r in resumed.resumed} == set(_clusters(src, namespace))
    assert resumed.recreated == []
    assert _pause_state(src, namespace) == _unpaused(src, namespace)


def test_the_staging_of_an_export_killed_while_writing_is_removed_by_the_next_one(
    src: Env, namespace: str, tmp_path: Path
) -> None:
    _seed(src, namespace)
    out = tmp_path / "out"
    out.mkdir()
    archive = out / "bundle.tar.zst"
    args = ("export", "--kubeconfig", src.kubeconfig, "-n", namespace, "--to-archive", archive,
            "-q")
    for _ in range(10):
        process = _start(*args)
        while process.poll() is None and not os.listdir(out):
            pass  # the staging directory lives for milliseconds: look without pausing
        process.kill()
        process.wait()
        left = os.listdir(out)
        if left and not archive.exists():
            break
        for name in left:  # it finished first: try again
            os.unlink(out / name)
    else:
        pytest.fail("the export always finished before it could be killed while writing")
    assert [name.startswith(".bundle.tar.zst.movekit-") for name in left] == [True]

    again = movekit(*args)

    assert again.returncode == 0, again.stderr
    assert "warning" not in again.stderr
    assert os.listdir(out) == ["bundle.tar.zst"]
    bundle = read_bundle(archive)
    assert {e.ref.name for e in bundle.entries if e.ref.kind == "Cluster"} == \
        set(_clusters(src, namespace))
    assert _pause_state(src, namespace) == _unpaused(src, namespace)


@pytest.mark.parametrize("planted", ["journal", "journal (dangling)", "bundle"])
def test_a_move_refuses_a_link_planted_at_its_journal_or_bundle_before_pausing_anything(
    planted: str, src: Env, dst: Env, namespace: str, tmp_path: Path
) -> None:
    _seed(src, namespace)
    victim = tmp_path / "elsewhere" / "victim"
    victim.parent.mkdir()
    victim.write_text("someone else's\n")
    journal = tmp_path / "move.journal.json"
    if planted == "journal":
        journal.symlink_to(victim)
    elif planted == "journal (dangling)":
        journal.symlink_to(tmp_path / "nowhere")
    else:
        journal.with_suffix(".bundle").symlink_to(victim.parent, target_is_directory=True)
    patches = src.sim.request_count(verb="patch", write=True) if src.sim else 0

    result = movekit("move", "--kubeconfig", src.kubeconfig, "--to-kubeconfig",
                     dst.kubeconfig, "-n", namespace, "--journal", journal)

    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert victim.read_text() == "someone else's\n"
    assert os.listdir(victim.parent) == ["victim"]
    assert not (tmp_path / "nowhere").exists()
    assert _pause_state(src, namespace) == _unpaused(src, namespace)
    if src.sim is not None:
        assert src.sim.request_count(verb="patch", write=True) == patches, "nothing was paused"
    with dst.client() as target:
        res = target.resource(*CLUSTERS)
        assert res is None or target.list(res, namespace) == []
