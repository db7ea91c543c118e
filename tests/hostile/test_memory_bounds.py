"""A small archive cannot make ``verify``, ``inspect`` or ``import`` use more memory than
docs/bundle-limits.md says: millions of tiny JSON values in the manifest or YAML nodes in an
object file are refused before they are built, and each command's peak resident memory,
measured as the kernel reports it for the process (``ru_maxrss``), stays under the documented
bound. A real bundle of a few hundred clusters still verifies, under the same bound."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from kubesim import KubeSim
from kubesim.capi import install_crds
from kubesim.capi.fleet import seed_fleet
from movekit.bundle.layout import MAX_FILE_VALUES, MAX_MANIFEST_VALUES
from movekit.export import ExportOptions, export_bundle
from movekit.kube import KubeClient
from movekit.model import Selection
from tests.bundle.bundle_samples import SECRET_FILE, pack, tamper, write_sample

DOCS = Path(__file__).resolve().parents[2] / "docs" / "bundle-limits.md"
SMALL_ARCHIVE = 1024 * 1024  # every hostile archive below compresses to less than this
FLEET_CLUSTERS = 200

# Runs the command as a child of its own and prints the child's peak RSS in KiB. A child
# inherits the peak of the process it was forked from, so it must not be pytest's child.
PEAK_OF = """
import os, sys
pid = os.posix_spawn(sys.argv[1], sys.argv[1:], os.environ)
_, status, usage = os.wait4(pid, 0)
print(usage.ru_maxrss, os.waitstatus_to_exitcode(status), file=sys.stderr)
"""


def documented_bound_mib() -> int:
    found = re.search(r"peak memory of `verify`, `inspect` and `import` stays under "
                      r"\*\*(\d+) MiB\*\*", DOCS.read_text())
    assert found, "docs/bundle-limits.md must state the memory bound"
    return int(found.group(1))


SECRET_HEAD = (b"apiVersion: v1\nkind: Secret\nmetadata:\n  name: c1-ca\n  namespace: prod\n"
               b"data:\n  k:\n")


@dataclass(frozen=True)
class Case:
    id: str
    files: Callable[[], dict[str, bytes | None]]
    where: str
    problem: str


def _tiny_json_values(count: int) -> bytes:
    return b'{"formatVersion":1,"x":[' + b",".join([b"{}"] * count) + b"]}"


CASES = [
    # 60 MiB of empty objects: some 1.5 GiB as Python objects, were they built.
    Case("manifest-of-20-million-empty-objects", lambda: {
        "manifest.json": _tiny_json_values(20_000_000)}, "manifest.json",
         f"holds more than {MAX_MANIFEST_VALUES:,} JSON values"),
    Case("manifest-of-30-million-zeros", lambda: {
        "manifest.json": b"[" + b",".join([b"0"] * 30_000_000) + b"]"}, "manifest.json",
         f"holds more than {MAX_MANIFEST_VALUES:,} JSON values"),
    # Just under the limit: built, then refused by the schema.
    Case("manifest-just-under-the-value-limit", lambda: {
        "manifest.json": _tiny_json_values(MAX_MANIFEST_VALUES // 2 - 10)},
         r"manifest\.json \(top level\)", "Additional properties"),
    # 15 MiB of flow-style empty mappings in a sealed Secret: 5 million nodes.
    Case("object-file-of-5-million-nodes", lambda: {
        SECRET_FILE: SECRET_HEAD + b"  - [" + b",".join([b"{}"] * 5_000_000) + b"]\n"},
         SECRET_FILE, f"holds more than {MAX_FILE_VALUES:,} YAML nodes"),
    Case("object-file-of-block-nodes", lambda: {
        SECRET_FILE: SECRET_HEAD + b"  - {}\n" * 2_000_000}, SECRET_FILE,
         f"holds more than {MAX_FILE_VALUES:,} YAML nodes"),
]


@dataclass
class World:
    archives: dict[str, Path]
    fleet: Path
    kubeconfig: Path
    sim: KubeSim
    root: Path


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("memory")
    archives = {}
    for case in CASES:
        directory = root / case.id
        directory.mkdir()
        write_sample(directory / "bundle")
        tamper(directory / "bundle", files=case.files())
        archives[case.id] = pack(directory / "bundle", directory / "bundle.tar.zst")
        assert archives[case.id].stat().st_size < SMALL_ARCHIVE
        for path in sorted((directory / "bundle").rglob("*"), reverse=True):
            path.rmdir() if path.is_dir() else path.unlink()
    with KubeSim() as source:
        with source.api_client() as api:
            install_crds(api)
        source.wait_idle()
        seed_fleet(None, FLEET_CLUSTERS, namespace="fleet", store=source.store)
        with KubeClient(source.write_kubeconfig(root / "source.kubeconfig")) as client:
            export_bundle(client, ExportOptions(selection=Selection(namespace="fleet"),
                                                target=root / "fleet.tar.zst", archive=True,
                                                leave_paused=True))
    with KubeSim() as target:
        yield World(archives, root / "fleet.tar.zst",
                    target.write_kubeconfig(root / "target.kubeconfig"), target, root)


def start(argv: list[str], root: Path) -> subprocess.Popen[str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("KUBE")}
    env.update(HOME=str(root), NO_COLOR="1", COLUMNS="200")
    return subprocess.Popen([sys.executable, "-c", PEAK_OF, sys.executable, "-m", "movekit",
                             *argv], cwd=root, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def finish(process: subprocess.Popen[str]) -> tuple[int, str, float]:
    """Exit code, stderr without the peak line, and the peak in MiB."""
    _, stderr = process.communicate(timeout=900)
    *lines, peak_line = stderr.splitlines()
    peak_kib, code = (int(word) for word in peak_line.split())
    return code, "\n".join(lines), peak_kib / 1024


VERBS = ("verify", "inspect", "import")
# Each case runs through verify; these through every command (each process costs seconds).
EVERY_COMMAND = {"manifest-of-20-million-empty-objects", "object-file-of-5-million-nodes"}


def argv_of(verb: str, path: Path, kubeconfig: Path) -> list[str]:
    if verb == "import":
        return ["import", "--kubeconfig", str(kubeconfig), "--from-archive", str(path),
                "--quiet"]
    return [verb, str(path)]


@pytest.mark.timeout(1200)
def test_a_small_archive_of_tiny_values_is_refused_early_within_the_memory_bound(
        world: World) -> None:
    bound = documented_bound_mib()
    runs = [(case, verb, start(argv_of(verb, world.archives[case.id], world.kubeconfig),
                               world.root))
            for case in CASES for verb in VERBS
            if verb == "verify" or case.id in EVERY_COMMAND]
    peaks = {}
    for case, verb, process in runs:
        code, stderr, peak = finish(process)
        path = world.archives[case.id]
        assert code == 3, (case.id, verb, stderr)
        errors = [line for line in stderr.splitlines() if line.startswith("error: ")]
        assert len(errors) == 1, stderr
        assert re.match(f"error: {re.escape(str(path))}: {case.where}: .*{case.problem}",
                        errors[0]), errors[0]
        peaks[(case.id, verb)] = peak
    assert world.sim.request_log == []
    assert max(peaks.values()) < bound, peaks


@pytest.mark.timeout(1200)
def test_a_real_bundle_of_a_few_hundred_clusters_verifies_within_the_memory_bound(
        world: World) -> None:
    code, stderr, peak = finish(start(["verify", str(world.fleet)], world.root))
    assert code == 0, stderr
    assert peak < documented_bound_mib(), peak
