"""Crash points: a live move crashed after each of its events in turn, then resumed or undone.

Not a sample: the move is crashed after its k-th event for every k (or every ``stride``-th),
until a run finishes within k. An event is a request to either cluster — kubesim's shared
``Cutoff`` lets k of them land and drops every later one unanswered, so nothing past it
reaches a store — or a write of the journal, counted on the same cutoff (one past it never
reaches the disk). The crashed mover cannot roll itself back either: the servers answer
nothing. Then the servers come back and the operator runs ``resume`` (or ``rollback``) from
the journal the crash left. After each run:

* the target holds every object of the bundle, once, with the bundle's content, owners that
  resolve to the target's objects, and each as the source held it before the move — no
  Cluster left paused (after a resume);
* the source is untouched and unpaused (after a rollback, or when the crash came before the
  journal was first written), or holds none of the moved objects (after a resume);
* the journal says how it ended (done and every object retired, or rolled back), and the
  crashed mover left it resumable (never done or rolled back on its own).

Crash points reached: before any request; between any two requests (after any write landed,
whatever the journal says); after a journal write, before the request that follows it; after
a request landed, before the journal records it. The mover runs one request at a time
(``workers=1``), so the order, and with it each k, is (nearly: how often it polls for the
garbage collector varies) the same in every run. Not reached: a crash among concurrent
requests (one landed, an earlier one not), or inside the writing of the bundle directory
(the bundle is written whole between two events; a resume re-exports over it).

``--twice-after-write N`` crashes the move right after its N-th journal write, then crashes the
operator's resume after each of its events in turn, and checks what ``--then`` makes of that.

    python -m bench.crash_points --then both                         # every k: minutes
    python -m bench.crash_points --then rollback --twice-after-write 0
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from bench.soak import Servers, servers
from kubesim import Cutoff
from kubesim.capi.model import Expected, Owner, Topology
from kubesim.capi.seeding import seed
from kubesim.capi.topologies import base_cluster, machine_stack
from movekit.bundle import Bundle, read_bundle
from movekit.errors import MovekitError, UsageError
from movekit.journal import ROLLBACK_POSSIBLE, ClusterAccess, Journal, Phase
from movekit.kube import KubeClient, RetryPolicy
from movekit.model import Selection
from movekit.mover import MoveOptions, move, resume, rollback
from movekit.refs import ObjectRef
from tests.scenarios.checks import assert_target_holds_bundle, comparable

THEN = ("resume", "rollback")
_PHASES = list(Phase)
# The crashed mover gives up at its first unanswered request: a retry meets the same silence.
NO_RETRY = RetryPolicy(base_delay=0.001, max_delay=0.001, budget=0.0, first_contact_budget=0.0)
FINALIZER = "cluster.cluster.x-k8s.io"


def fixture() -> Topology:
    """Two Clusters, the fewest objects that still take every step of a move: two Clusters to
    pause and resume, objects in four waves (Cluster, Machine, its KubeadmConfig, its data
    Secret), owners to rewrite, finalizers to strip on retire, a namespace to create."""
    rng = random.Random("crash-points")
    objects = base_cluster(rng, "c1", secrets=("kubeconfig",))
    objects += base_cluster(rng, "c2", secrets=("kubeconfig",))
    objects += machine_stack(rng, "c1", "c1-m1", owners=[Owner("Cluster/c1")])
    with_finalizers = []
    for spec in objects:
        if spec.kind in ("Cluster", "Machine", "DockerCluster"):
            manifest = dict(spec.manifest)
            manifest["metadata"] = {**manifest["metadata"], "finalizers": [FINALIZER]}
            spec = replace(spec, manifest=manifest)
        with_finalizers.append(spec)
    return Topology("crash-points", "two Clusters, one with a Machine, with finalizers",
                    tuple(with_finalizers), Expected(moved={}))


FIXTURE = fixture()


@dataclass
class CrashReport:
    then: str
    points: list[int] = field(default_factory=list)  # the k crashed after
    events: int = 0  # the events of a whole move: the first k that no longer cut it
    failures: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def render(self) -> str:
        return (f"crash points, then {self.then}: {len(self.points)} crashes "
                f"(k = {self.points[0] if self.points else '-'}..{self.events}) of a move of "
                f"{self.events} events in {self.seconds:.1f}s; failures: {len(self.failures)}")


@dataclass
class Run:
    """One crash point: where, what the source held before, whether the move was cut."""

    k: int
    namespace: str
    journal: Path
    before: dict[ObjectRef, dict[str, Any]]
    crashed: bool
    writes: list[int] = field(default_factory=list)  # the event number of each journal write


class Sweep:
    """Two servers, a client for checks on each, and one namespace per run."""

    def __init__(self, env: Servers, work: Path, prefix: str) -> None:
        self.env = env
        self.work = work
        self.prefix = prefix
        self.source = KubeClient(env.source_config)
        self.target = KubeClient(env.target_config)

    def close(self) -> None:
        self.source.close()
        self.target.close()

    def run(self, k: int, tag: str = "") -> Run:
        """Seed a namespace of its own, then move it, crashing after event ``k``."""
        namespace = f"{self.prefix}{tag}-{k}"
        seeded = seed(None, FIXTURE, namespace, store=self.env.source.store)
        refs = [ObjectRef(r.group, r.kind, r.namespace, r.name)
                for r in (seeded.ref(key) for key in seeded.objects)]
        before = _snapshot(self.source, refs)
        journal = self.work / f"{namespace}.journal.json"
        access = (ClusterAccess(str(self.env.source_config), None, ""),
                  ClusterAccess(str(self.env.target_config), None, ""))
        options = MoveOptions(selection=Selection(namespace=namespace), journal=journal,
                              workers=1, retire_timeout=10.0)
        run = Run(k, namespace, journal, before, crashed=False)
        run.crashed = self.crashing(k, run.writes, lambda source, target: move(
            source, target, options, access))
        return run

    def resume_crashing(self, run: Run, k: int) -> bool:
        """The operator's resume from ``run``'s journal, itself crashed after event ``k``;
        whether it was cut."""
        journal = Journal.load(run.journal)
        options = MoveOptions(selection=Selection(run.namespace), workers=1,
                              retire_timeout=10.0)
        return self.crashing(k, [], lambda source, target: resume(
            journal, source, target, options))

    def crashing(self, k: int, writes: list[int],
                 act: Callable[[KubeClient, KubeClient], object]) -> bool:
        """``act`` on both servers, cut off after its ``k``-th event (requests and journal
        writes); whether it was cut. ``writes``: gets the event number of each journal write."""
        sims = (self.env.source, self.env.target)
        cutoff = Cutoff(k)
        logged = [len(sim.request_log) for sim in sims]
        for sim in sims:
            sim.controls.cutoff = cutoff
        try:
            with _journal_writes_counted(cutoff, writes), \
                    KubeClient(self.env.source_config, retry=NO_RETRY, workers=1) as source, \
                    KubeClient(self.env.target_config, retry=NO_RETRY, workers=1) as target:
                try:
                    act(source, target)
                except MovekitError:
                    assert cutoff.reached, "the move failed before its cutoff"
                except Exception as error:  # a user would see a traceback
                    raise AssertionError(f"the crashed move raised {type(error).__name__}: "
                                         f"{error}") from error
                else:
                    # Only a journal write it never made (its last) may be past the cutoff.
                    dropped = [f"{r.method} {r.path}" for sim, n in zip(sims, logged, strict=True)
                               for r in sim.request_log[n:] if r.code == 0]
                    assert not dropped, f"the move finished without {dropped}"
        finally:
            cutoff.release()
            for sim in sims:
                sim.controls.cutoff = None
        return cutoff.reached

    # -- what the operator does, and what they find ---------------------------------------

    def resume(self, run: Run) -> None:
        journal = self.crashed_journal(run)
        if journal is None:
            self.assert_nothing_happened(run)
            return
        self.resume_from(run, journal)

    def rollback(self, run: Run) -> None:
        journal = self.crashed_journal(run)
        if journal is None:
            self.assert_nothing_happened(run)
            return
        if journal.phase not in ROLLBACK_POSSIBLE:
            try:
                with _clients(self.env) as (source, target):
                    rollback(journal, source, target)
            except UsageError as refused:
                assert "--resume" in str(refused), refused
            else:
                raise AssertionError(f"rolled back from phase {journal.phase}")
            self.resume_from(run, journal)
            return
        with _clients(self.env) as (source, target):
            rollback(journal, source, target)
        assert Journal.load(run.journal).phase == Phase.ROLLED_BACK
        assert _snapshot(self.source, list(run.before)) == run.before, "source changed"
        if journal.bundle_digest:
            bundle = read_bundle(Path(journal.bundle_path))
            assert _listed(self.target, bundle, run.namespace) == set(), "left in the target"
        else:
            assert _snapshot(self.target, list(run.before), missing_ok=True) == {}

    def resume_from(self, run: Run, journal: Journal) -> None:
        if journal.phase != Phase.DONE:
            with _clients(self.env) as (source, target):
                resume(journal, source, target, MoveOptions(selection=Selection(run.namespace)))
        journal = Journal.load(run.journal)
        assert journal.phase == Phase.DONE, journal.phase
        bundle = read_bundle(Path(journal.bundle_path))
        assert {e.ref for e in bundle.entries} == set(run.before)
        assert_target_holds_bundle(self.target, bundle)
        # As the source had them: a Cluster the move paused is not taken for one paused before.
        assert _without_identity(_snapshot(self.target, list(run.before))) == \
            _without_identity(run.before), "the target differs from the source before the move"
        assert _listed(self.target, bundle, run.namespace) == set(run.before), "duplicated"
        assert _snapshot(self.source, list(run.before), missing_ok=True) == {}, "not retired"
        assert set(journal.retired) == {e.file for e in bundle.entries}
        assert set(journal.paused) == {ref for ref in run.before if ref.kind == "Cluster"}

    def crashed_journal(self, run: Run) -> Journal | None:
        """The journal the crashed move left, or None when it died before writing one."""
        if not run.journal.exists():
            assert run.crashed, "a whole move wrote no journal"
            return None
        journal = Journal.load(run.journal)
        if run.crashed:
            # It could not roll itself back, nor finish: the servers answered nothing.
            assert journal.phase not in (Phase.DONE, Phase.ROLLED_BACK), journal.phase
        else:
            assert journal.phase == Phase.DONE, journal.phase
        return journal

    def assert_nothing_happened(self, run: Run) -> None:
        assert _snapshot(self.source, list(run.before)) == run.before, "source changed"
        assert _snapshot(self.target, list(run.before), missing_ok=True) == {}, "target written"


@contextmanager
def _clients(env: Servers) -> Iterator[tuple[KubeClient, KubeClient]]:
    """The operator's clients: a new process, with the default retries."""
    with KubeClient(env.source_config) as source, KubeClient(env.target_config) as target:
        yield source, target


def _snapshot(client: KubeClient, refs: list[ObjectRef], *, missing_ok: bool = False
              ) -> dict[ObjectRef, dict[str, Any]]:
    """What a user would compare of each object: its content, UID, pause, deletion."""
    found = {}
    for ref in refs:
        res = client.resource_of(ref.group_kind)
        assert res is not None, f"{ref.group_kind} not served"
        live = client.get(res, ref.namespace, ref.name)
        if live is None:
            assert missing_ok, f"{ref} is gone"
            continue
        found[ref] = {**comparable(live), "uid": live["metadata"]["uid"],
                      "paused": (live.get("spec") or {}).get("paused"),
                      "deleting": bool(live["metadata"].get("deletionTimestamp"))}
    return found


def _without_identity(objects: dict[ObjectRef, dict[str, Any]]
                      ) -> dict[ObjectRef, dict[str, Any]]:
    """Content and pause, without what differs between two clusters' copies (the UID)."""
    return {ref: {k: v for k, v in obj.items() if k != "uid"} for ref, obj in objects.items()}


def _listed(client: KubeClient, bundle: Bundle, namespace: str) -> set[ObjectRef]:
    """Every object of the bundle's kinds in ``namespace``: a second copy would show here."""
    found: list[ObjectRef] = []
    for api_version, kind in sorted({(e.api_version, e.ref.kind) for e in bundle.entries}):
        res = client.resource(api_version, kind)
        assert res is not None, f"{api_version} {kind} not served"
        found += [ObjectRef.of(o) for o in client.list(res, namespace)]
    assert len(found) == len(set(found)), f"duplicated: {sorted(found)}"
    return set(found)


@contextmanager
def _journal_writes_counted(cutoff: Cutoff, writes: list[int]) -> Iterator[None]:
    """Each journal write is one event on ``cutoff``; one past it never reaches the disk.
    ``writes`` gets the event number of each write made."""
    save = Journal.save

    def counted(journal: Journal) -> None:
        if cutoff.admit():
            save(journal)
            writes.append(cutoff.admitted)

    Journal.save = counted  # type: ignore[method-assign,assignment]
    try:
        yield
    finally:
        Journal.save = save  # type: ignore[method-assign]


def crash_points(then: str, stride: int = 1, offset: int = 0) -> CrashReport:
    """Crash a move after event ``1 + offset``, then every ``stride``-th, until one finishes
    uncut; after each, ``then`` (resume or rollback) from its journal, and check."""
    if then not in THEN:
        raise ValueError(f"then: one of {THEN}")
    report = CrashReport(then)
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp, servers(Path(tmp)) as env:
        sweep = Sweep(env, Path(tmp), f"crash-{then}")
        try:
            k = 1 + offset
            while True:
                try:
                    run = sweep.run(k)
                except AssertionError as failure:
                    report.failures.append(f"k={k} (the crashing move): {failure}")
                else:
                    _then(sweep, run, then, f"k={k}", report)
                    if not run.crashed:
                        report.events = k
                        break
                report.points.append(k)
                k += stride
        finally:
            sweep.close()
    report.seconds = time.monotonic() - started
    return report


def crash_twice(then: str, first_write: int = 0, stride: int = 1, offset: int = 0,
                until: Phase = Phase.DONE) -> CrashReport:
    """Crash a move right after its journal write number ``first_write`` (0: the first,
    phase planned), then crash the operator's resume after its event ``1 + offset``, then
    every ``stride``-th, until a resume finishes uncut (or the second crash leaves the journal
    at ``until`` or later); after each, ``then`` from the journal the second crash left, and
    check."""
    if then not in THEN:
        raise ValueError(f"then: one of {THEN}")
    report = CrashReport(f"{then}, after a resume crashed too")
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp, servers(Path(tmp)) as env:
        sweep = Sweep(env, Path(tmp), f"twice-{then}")
        try:
            first = sweep.run(10**6, "-probe").writes[first_write]
            k = 1 + offset
            while True:
                try:
                    run = sweep.run(first, f"-{k}")
                    assert run.crashed and run.journal.exists()
                    run.crashed = sweep.resume_crashing(run, k)
                    reached = Journal.load(run.journal).phase
                except AssertionError as failure:
                    report.failures.append(f"k={first},{k} (the crashing move): {failure}")
                else:
                    _then(sweep, run, then, f"k={first},{k}", report)
                    if not run.crashed or _PHASES.index(reached) >= _PHASES.index(until):
                        report.events = k
                        break
                report.points.append(k)
                k += stride
        finally:
            sweep.close()
    report.seconds = time.monotonic() - started
    return report


def _then(sweep: Sweep, run: Run, then: str, where: str, report: CrashReport) -> None:
    try:
        getattr(sweep, then)(run)
    except Exception as failure:  # each one is a finding to report
        report.failures.append(f"{where} ({then}): {type(failure).__name__}: {failure}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.crash_points", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--then", choices=(*THEN, "both"), default="both")
    parser.add_argument("--stride", type=int, default=1, help="crash after every n-th event")
    parser.add_argument("--offset", type=int, default=0, help="skip the first events")
    parser.add_argument("--twice-after-write", type=int, metavar="N",
                        help="crash right after the move's journal write N (0: the first), "
                        "then sweep the crash points of the resume")
    args = parser.parse_args(argv)
    failed = False
    for then in THEN if args.then == "both" else (args.then,):
        if args.twice_after_write is None:
            report = crash_points(then, args.stride, args.offset)
        else:
            report = crash_twice(then, args.twice_after_write, args.stride, args.offset)
        print(report.render(), flush=True)
        for failure in report.failures:
            print(f"  FAILED {failure}")
        failed = failed or bool(report.failures)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
