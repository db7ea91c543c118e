"""Soak: many imports and moves under injected faults and crashes; nothing may be lost.

Each run seeds a small Cluster API topology in a namespace of its own, then either imports
an exported bundle or moves the namespace live, while the servers add latency spikes, fail
5% of requests with 429/500/503 or drop the connection, and — in some runs — the movekit
process is killed with SIGKILL at a random moment and the work is resumed. After every run
the target must hold exactly the bundle (no missing, duplicated or altered object) and the
source must be untouched (a rolled-back move) or fully retired.

    python -m bench.soak --runs 200 --seed 1 --minutes 10
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from kubesim import KubeSim
from kubesim.capi.install import install_crds, install_providers
from kubesim.capi.topologies import TOPOLOGIES, seed
from movekit.bundle import Bundle, read_bundle
from movekit.errors import PartialFailure
from movekit.export import ExportOptions, export_bundle
from movekit.importer import ImportOptions, import_bundle
from movekit.journal import Journal, Phase
from movekit.kube import KubeClient
from movekit.model import Selection
from movekit.mover import MoveOptions, resume
from tests.scenarios.checks import assert_target_holds_bundle, target_objects

# Namespaced topologies only: runs share two servers, and cluster-scoped objects would collide.
TOPOLOGY_NAMES = ("cluster-alone", "machinedeployment", "kcp-with-machines", "machinepool",
                  "two-clusters", "clusterresourceset", "clusterclass-same-namespace")
FAULT_CODES = (429, 500, 503)


@dataclass
class SoakReport:
    runs: Counter[str] = field(default_factory=Counter)
    faults: Counter[str] = field(default_factory=Counter)
    crashes: int = 0
    objects_checked: int = 0
    failures: list[str] = field(default_factory=list)

    def render(self) -> str:
        faults = ", ".join(f"{n} {kind}" for kind, n in sorted(self.faults.items())) or "none"
        runs = ", ".join(f"{n} {kind}" for kind, n in sorted(self.runs.items()))
        return (f"soak: {sum(self.runs.values())} runs ({runs}); faults injected and survived: "
                f"{faults}; SIGKILLs: {self.crashes}; objects checked: {self.objects_checked}; "
                f"failures: {len(self.failures)}")


@dataclass
class Servers:
    source: KubeSim
    target: KubeSim
    source_config: Path
    target_config: Path


@contextmanager
def servers(work: Path) -> Iterator[Servers]:
    with KubeSim() as source, KubeSim() as target:
        for sim in (source, target):
            with sim.api_client() as api:
                install_crds(api)
                install_providers(api)
        source.write_kubeconfig(work / "source.yaml")
        target.write_kubeconfig(work / "target.yaml")
        yield Servers(source, target, work / "source.yaml", work / "target.yaml")


def _faults(sim: KubeSim, rng: random.Random) -> None:
    sim.controls.latency_ms = rng.choice((0.0, 0.0, 5.0, 30.0))  # spikes in some runs
    sim.controls.error_kinds = ("429", "500", "503", "drop")
    sim.controls.error_rate = 0.05


def _calm(sim: KubeSim) -> None:
    sim.controls.latency_ms = 0.0
    sim.controls.error_rate = 0.0


def _count_faults(sim: KubeSim, since: int, report: SoakReport) -> None:
    for record in list(sim.request_log)[since:]:
        if record.code in FAULT_CODES:
            report.faults[str(record.code)] += 1
        elif record.code == 0:
            report.faults["dropped"] += 1


def _movekit(*args: str | Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "movekit", *map(str, args), "-q"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _kill_after(process: subprocess.Popen[bytes], seconds: float) -> bool:
    """SIGKILL the process after ``seconds`` unless it ended first; True when it was killed."""
    try:
        process.wait(timeout=seconds)
        return False
    except subprocess.TimeoutExpired:
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
        return True


def _check_target(env: Servers, bundle: Bundle, report: SoakReport) -> None:
    with KubeClient(env.target_config) as client:
        assert_target_holds_bundle(client, bundle)
    report.objects_checked += len(bundle.entries)


def _seed_source(env: Servers, namespace: str, rng: random.Random) -> None:
    with env.source.api_client() as api:
        seed(api, TOPOLOGIES[rng.choice(TOPOLOGY_NAMES)], namespace=namespace)


def import_run(env: Servers, work: Path, namespace: str, rng: random.Random,
               report: SoakReport) -> None:
    _seed_source(env, namespace, rng)
    bundle_path = work / f"{namespace}.bundle"
    with KubeClient(env.source_config) as client:
        export_bundle(client, ExportOptions(selection=Selection(namespace=namespace),
                                            target=bundle_path))
    since = len(env.target.request_log)
    _faults(env.target, rng)
    if rng.random() < 0.3:
        process = _movekit("import", "--kubeconfig", env.target_config, "--from-directory",
                           bundle_path)
        report.crashes += _kill_after(process, rng.uniform(0.2, 1.5))
    for _attempt in range(5):
        try:
            with KubeClient(env.target_config) as client:
                # No controller reconciles the emulated source: nothing runs twice.
                import_bundle(client, bundle_path, ImportOptions(allow_active_source=True))
            break
        except PartialFailure:
            continue  # the retry budget ran out under faults: the re-run resumes
    _count_faults(env.target, since, report)
    _calm(env.target)
    _check_target(env, read_bundle(bundle_path), report)


def move_run(env: Servers, work: Path, namespace: str, rng: random.Random,
             report: SoakReport) -> None:
    _seed_source(env, namespace, rng)
    journal_path = work / f"{namespace}.journal.json"
    marks = (len(env.source.request_log), len(env.target.request_log))
    _faults(env.source, rng)
    _faults(env.target, rng)
    process = _movekit("move", "--kubeconfig", env.source_config, "--to-kubeconfig",
                       env.target_config, "-n", namespace, "--journal", journal_path)
    killed = _kill_after(process, rng.uniform(0.3, 4.0) if rng.random() < 0.6 else 120.0)
    report.crashes += killed
    if journal_path.exists():
        journal = Journal.load(journal_path)
        for _attempt in range(5):
            if journal.phase in (Phase.DONE, Phase.ROLLED_BACK):
                break
            try:
                with KubeClient(env.source_config) as src, KubeClient(env.target_config) as dst:
                    resume(journal, src, dst, MoveOptions(selection=Selection(namespace)))
            except PartialFailure:
                journal = Journal.load(journal_path)
    _count_faults(env.source, marks[0], report)
    _count_faults(env.target, marks[1], report)
    _calm(env.source)
    _calm(env.target)
    if not journal_path.exists():
        return  # killed before the journal was written: nothing was changed
    journal = Journal.load(journal_path)
    bundle = read_bundle(Path(journal.bundle_path)) if journal.bundle_digest else None
    if bundle is None:
        return
    with KubeClient(env.source_config) as src:
        left = target_objects(src, bundle)
    if journal.phase == Phase.ROLLED_BACK:
        # Untouched: everything still in the source, nothing of this bundle in the target.
        assert set(left) == {e.ref for e in bundle.entries}, "rolled back but source changed"
        with KubeClient(env.target_config) as dst:
            assert not target_objects(dst, bundle), "rolled back but target not emptied"
        report.objects_checked += len(bundle.entries)
        return
    assert journal.phase == Phase.DONE, journal.phase
    assert set(left) == {e.ref for e in bundle.entries if e.is_global or e.keep_in_source}
    _check_target(env, bundle, report)


def soak(runs: int, seed_value: int = 0, minutes: float = 10.0,
         move_share: float = 0.4) -> SoakReport:
    rng = random.Random(seed_value)
    report = SoakReport()
    deadline = time.monotonic() + minutes * 60
    with tempfile.TemporaryDirectory() as tmp, servers(Path(tmp)) as env:
        for number in range(runs):
            if time.monotonic() > deadline:
                break
            kind = "move" if rng.random() < move_share else "import"
            namespace = f"soak-{seed_value}-{number}"
            try:
                (move_run if kind == "move" else import_run)(env, Path(tmp), namespace, rng,
                                                             report)
            except AssertionError as failure:
                report.failures.append(f"run {number} ({kind}, {namespace}): {failure}")
            report.runs[kind] += 1
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--minutes", type=float, default=15.0, help="stop starting runs after")
    args = parser.parse_args(argv)
    report = soak(args.runs, args.seed, args.minutes)
    print(report.render())
    for failure in report.failures:
        print(f"  FAILED {failure}")
    return 1 if report.failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
