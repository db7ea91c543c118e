"""Live move: export, import, retire the source — journaled so a crash can be resumed or undone.

The order is the safety argument:

1. every check on both sides first (provisioning, kinds served by the target, conflicts,
   providers) — nothing is paused while any check fails;
2. the journal records what is about to be paused *before* it is paused;
3. export with the source left paused; import with everything left paused;
4. verify the target holds every object;
5. retire the source in reverse waves (annotate ``delete-for-move``, strip finalizers so no
   provider deletes real infrastructure, delete by UID with Orphan propagation), then wait
   until the garbage collector has finished and every retired object is gone; what the source
   serves cluster-scoped (whatever the bundle says) and keep-in-source objects stay;
6. resume the target.

Up to step 4 a failure rolls back (delete what the bundle created in the target, unpause the
source). From step 5 on only forward is safe, so rollback refuses and ``--resume`` continues.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

from movekit.apply import ApplyOptions
from movekit.bundle import Bundle, ObjectEntry
from movekit.bundle.encryption import SecretKeys, unlock
from movekit.bundle.writer import check_bundle_target
from movekit.contract import DELETE_FOR_MOVE_ANNOTATION
from movekit.entries import entry_for
from movekit.errors import (
    MovekitError,
    NotConfirmed,
    PartialFailure,
    PrecheckFailed,
    UsageError,
)
from movekit.export import ExportOptions, ExportResult, export_bundle, preview_export
from movekit.graph import wave_text
from movekit.importer import (
    ImportOptions,
    ImportResult,
    import_verified,
    load_verified,
    own_objects,
    plan_import,
    target_facts,
)
from movekit.journal import ROLLBACK_POSSIBLE, ClusterAccess, Journal, Phase
from movekit.kube import ApiResource, Conflict, Invalid, KubeClient, NotFound
from movekit.model import ConflictPolicy, Selection
from movekit.pause import (
    Pausable,
    is_pausable,
    is_paused,
    pause_patch,
    paused_by_movekit,
    set_paused,
)
from movekit.plan import Action, PlanOptions, make_plan
from movekit.progress import ProgressLike, Reporter, reporter_of
from movekit.refs import ObjectRef
from movekit.terminating import GC_FINALIZERS, Deleted, Terminating, explain, wait_until_gone

_WORKERS = 16
# Long enough for a busy garbage collector to finish a large move (it also needs up to ~30 s to
# start watching a kind whose CRD is new), short enough to report a cluster without one.
DEFAULT_RETIRE_TIMEOUT = 300.0
# Why retire keeps what the bundle means to keep; any other reason is a disagreement to report.
KEPT_GLOBAL = "global"
KEPT_SHARED = "shared with what stays in the source"
# Attempts at one object's annotate-and-delete when it keeps changing under us (409).
_CONFLICT_ATTEMPTS = 5


@dataclass(frozen=True)
class MoveOptions:
    selection: Selection
    journal: Path | None = None
    bundle_dir: Path | None = None
    dry_run: bool = False
    force: bool = False
    rollback_on_failure: bool = True
    conflict: ConflictPolicy = ConflictPolicy.FAIL
    block_move_timeout: float = 300.0
    retire_timeout: float = DEFAULT_RETIRE_TIMEOUT
    workers: int = _WORKERS
    # Where the import may write beyond the selection (see movekit.admission).
    allow_namespaces: frozenset[str] = frozenset()
    allow_secret_types: frozenset[str] = frozenset()


@dataclass
class MoveResult:
    journal: Journal | None
    preview: ExportResult
    retired: RetireResult | None = None
    imported: ImportResult | None = None  # None: a dry run, or imported by an earlier run


class Driven(NamedTuple):
    """What a run of a move did: its import (None when an earlier run imported) and its
    retirement of the source (None when it stopped before)."""

    imported: ImportResult | None
    retired: RetireResult | None


@dataclass
class RetireResult:
    deleted: list[ObjectRef] = field(default_factory=list)  # deleted, and gone since
    already_gone: list[ObjectRef] = field(default_factory=list)
    recreated: list[ObjectRef] = field(default_factory=list)  # same name, other UID: untouched
    kept: list[ObjectRef] = field(default_factory=list)  # global, shared, or not the source's
    terminating: list[Terminating] = field(default_factory=list)  # deleted, still there
    why_kept: dict[ObjectRef, str] = field(default_factory=dict)
    dry_run: bool = False  # deleted: what would be deleted; nothing was


@dataclass(frozen=True)
class RetireOptions:
    dry_run: bool = False
    force: bool = False  # retire without checking the source is paused and the target holds all
    timeout: float = DEFAULT_RETIRE_TIMEOUT
    keys: SecretKeys = field(default_factory=SecretKeys)  # to compare encrypted Secrets


@dataclass
class RetireScope:
    """Which of a bundle's objects retire may delete, decided by what the source serves."""

    doomed: list[tuple[ObjectEntry, ApiResource]] = field(default_factory=list)
    kept: dict[ObjectRef, str] = field(default_factory=dict)  # ref -> why it stays
    # Kept as the manifest says (global, keep-in-source), and served as the manifest says.
    staying: list[tuple[ObjectEntry, ApiResource]] = field(default_factory=list)


@dataclass
class SourceResumed:
    resumed: list[ObjectRef] = field(default_factory=list)
    recreated: list[ObjectRef] = field(default_factory=list)  # same name, other UID: untouched


class RetireIncomplete(PartialFailure):
    """Retired objects were still terminating in the source when the wait ended."""

    def __init__(self, result: RetireResult, report: str,
                 next_step: str = "run the same command again to finish retiring") -> None:
        self.result = result
        self.report = report
        super().__init__(f"{report}\n{next_step}")

    def with_next_step(self, next_step: str) -> RetireIncomplete:
        return RetireIncomplete(self.result, self.report, next_step)


def default_journal_path(now: datetime | None = None) -> Path:
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    return Path.cwd() / f"movekit-move-{stamp}.journal.json"


def move(
    source: KubeClient,
    target: KubeClient,
    options: MoveOptions,
    access: tuple[ClusterAccess, ClusterAccess],
    progress: ProgressLike | None = None,
) -> MoveResult:
    """Move the selection from ``source`` to ``target``; see the module docstring."""
    say = reporter_of(progress)
    say("checking the source")
    preview = preview_export(source, ExportOptions(
        selection=options.selection, target=None, dry_run=True, force=options.force))
    say("checking the target")
    check_target(target, preview, options.conflict)
    if options.dry_run:
        return MoveResult(journal=None, preview=preview)
    # Lexically absolute: a symbolic link at either name is refused below, never followed.
    journal_path = Path(os.path.abspath(options.journal or default_journal_path()))
    bundle_dir = Path(os.path.abspath(options.bundle_dir or journal_path.with_suffix(".bundle")))
    check_bundle_target(bundle_dir, archive=False)  # refused now, not once the source is paused
    journal = Journal(
        path=journal_path, source=access[0], target=access[1],
        selection={"namespace": options.selection.namespace,
                   "clusters": sorted(options.selection.clusters)},
        bundle_path=str(bundle_dir),
    )
    journal.advance(Phase.PLANNED, "checks passed")
    result = MoveResult(journal=journal, preview=preview)
    result.imported, result.retired = _drive(journal, source, target, options, say, preview)
    return result


def resume(
    journal: Journal, source: KubeClient, target: KubeClient, options: MoveOptions,
    progress: ProgressLike | None = None,
) -> Driven:
    """Continue an interrupted move from the phase its journal reached."""
    say = reporter_of(progress)
    if journal.phase in (Phase.DONE, Phase.ROLLED_BACK):
        say(f"nothing to do: the move is {journal.phase}")
        return Driven(None, None)
    say(f"resuming from phase {journal.phase}")
    return _drive(journal, source, target, options, say, None)


def rollback(
    journal: Journal, source: KubeClient, target: KubeClient, progress: ProgressLike | None = None,
    *, bundle: Bundle | None = None,
) -> None:
    """Undo a move that has not started retiring the source; ``bundle``: its bundle, if read."""
    say = reporter_of(progress)
    if journal.phase == Phase.ROLLED_BACK:
        raise UsageError(f"{journal.path}: this move was already rolled back")
    if journal.phase not in ROLLBACK_POSSIBLE:
        raise UsageError(
            f"{journal.path}: the move reached phase {journal.phase}; the source is (partly) "
            "retired, so rolling back would lose objects. Run movekit move --resume to finish it."
        )
    if journal.bundle_digest:
        bundle = bundle or load_verified(Path(journal.bundle_path), journal.bundle_digest, say)
        say("deleting what this move created in the target")
        remove_imported(target, bundle)
    say(f"unpausing {len(journal.paused)} object(s) in the source")
    set_paused(source, _pausables(source, journal.paused), paused=False)
    journal.advance(Phase.ROLLED_BACK, "rolled back")


def _drive(
    journal: Journal,
    source: KubeClient,
    target: KubeClient,
    options: MoveOptions,
    say: Reporter,
    preview: ExportResult | None,
) -> Driven:
    """Run the move from the journal's phase on; ``preview``: a new move's checked first read,
    which the export then needs not repeat (a resumed move has none and reads afresh)."""
    selection = Selection(namespace=journal.selection["namespace"],
                          clusters=frozenset(journal.selection["clusters"]))
    bundle_dir = Path(journal.bundle_path)
    retired: RetireResult | None = None
    imported: ImportResult | None = None
    bundle: Bundle | None = None
    try:
        if journal.phase in (Phase.PLANNED, Phase.PAUSING):
            export_options = ExportOptions(
                selection=selection, target=bundle_dir, force=options.force, leave_paused=True,
                block_move_timeout=options.block_move_timeout,
                paused_by_movekit=frozenset(journal.paused))
            # A resumed move reads afresh, and records what it is about to pause before it
            # pauses, as a new move does: a crash then leaves nothing paused unrecorded.
            preview = preview or preview_export(source, export_options, say)
            journal.paused = sorted(set(journal.paused) | set(preview.to_pause))
            journal.advance(Phase.PAUSING, f"pausing {len(journal.paused)} object(s)")
            exported = export_bundle(source, export_options, say, preview=preview)
            assert exported.manifest is not None
            journal.paused = sorted(set(journal.paused) | set(exported.left_paused))
            journal.bundle_digest = exported.manifest.digest
            journal.advance(Phase.EXPORTED, f"bundle {exported.manifest.digest}")
        if journal.phase == Phase.EXPORTED:
            bundle = _verified(bundle_dir, journal, say)
            imported = import_verified(target, bundle, ImportOptions(
                plan=_plan_options(options),
                apply=ApplyOptions(workers=options.workers, leave_paused=True),
                expect_digest=journal.bundle_digest), say)
            journal.advance(Phase.IMPORTED)
        if journal.phase == Phase.IMPORTED:
            bundle = bundle or _verified(bundle_dir, journal, say)
            _verify_target(target, bundle)
            journal.advance(Phase.VERIFIED, "the target holds every object")
    except (MovekitError, OSError) as error:
        if options.rollback_on_failure and journal.phase in ROLLBACK_POSSIBLE:
            say(f"failed ({type(error).__name__}); rolling back")
            rollback(journal, source, target, say, bundle=bundle)
            raise PartialFailure(f"move failed and was rolled back: {error}") from error
        raise
    bundle = bundle or _verified(bundle_dir, journal, say)  # a resume past verification
    if journal.phase in (Phase.VERIFIED, Phase.RETIRING):
        journal.advance(Phase.RETIRING, "retiring the source")
        try:
            retired = retire(source, bundle.entries, say,
                             lambda files: _note_retired(journal, files),
                             timeout=options.retire_timeout)
        except RetireIncomplete as incomplete:
            raise incomplete.with_next_step(
                f"the target stays paused; finish with: movekit move --resume {journal.path}"
            ) from None
        journal.advance(Phase.RETIRED)
    if journal.phase == Phase.RETIRED:
        say("resuming the target")
        resume_targets = [e for e in bundle.entries if is_pausable(e.ref) and not e.was_paused]
        set_paused(target, _entry_pausables(target, resume_targets), paused=False)
        journal.advance(Phase.DONE, "move complete")
    return Driven(imported, retired)


def _verified(bundle_dir: Path, journal: Journal, say: Reporter) -> Bundle:
    """The move's bundle, read and verified once: import, verification and retirement share it."""
    say(f"verifying {bundle_dir}")
    return load_verified(bundle_dir, journal.bundle_digest, say)


def _note_retired(journal: Journal, files: Iterable[str]) -> None:
    journal.retired = sorted(set(journal.retired) | set(files))
    journal.save()


def _plan_options(options: MoveOptions) -> PlanOptions:
    # The bundle of a live move is what this run just read from the source, in the selection
    # given on its command line: the source's namespace labels (Pod Security included) are
    # what the operator moves, not an untrusted file's claim.
    return PlanOptions(conflict=options.conflict, allow_namespaces=options.allow_namespaces,
                       allow_secret_types=options.allow_secret_types,
                       allow_pod_security_labels=True)


def check_target(target: KubeClient, preview: ExportResult,
                 conflict: ConflictPolicy = ConflictPolicy.FAIL) -> None:
    """Refuse, before anything is paused, a target that cannot take the move set."""
    entries = [entry_for(preview.graph.nodes[ref]) for ref in preview.graph.moved]
    options = PlanOptions(conflict=conflict)
    facts = target_facts(target, entries, options)
    crds = {gk: str(info.crd_name) for gk, info in preview.discovery.kinds.items()
            if info.crd_name}
    plan = make_plan("", entries, preview.discovery.providers, facts, options, crds)
    if plan.errors:
        lines = "\n".join(f"  - {e}" for e in plan.errors)
        raise PrecheckFailed(f"the target cannot take this move; nothing was paused:\n{lines}")


def _verify_target(target: KubeClient, bundle: Bundle) -> None:
    plan = plan_import(target, bundle, PlanOptions(conflict=ConflictPolicy.SKIP))
    missing = [str(s.target) for s in plan.steps if s.action is Action.CREATE]
    if missing or plan.errors:
        raise PartialFailure(f"the target is missing {len(missing)} object(s) after import: "
                             + ", ".join(missing[:10]))


def retire_scope(source: KubeClient, entries: Sequence[ObjectEntry]) -> RetireScope:
    """Split the entries into those retire deletes and those it keeps, and why.

    The manifest's flags can only keep an object. What may be deleted is decided by what the
    source serves: a kind served cluster-scoped (a global identity, a Namespace) is never
    deleted, whatever the manifest says, and neither is an entry whose kind or namespace
    disagrees with how the source serves it.
    """
    scope = RetireScope()
    for entry in entries:
        ref = entry.ref
        res = source.resource(entry.api_version, ref.kind)
        if res is None:
            why = f"the source does not serve {ref.kind} at {entry.api_version}"
        elif not res.namespaced:
            why = KEPT_GLOBAL if entry.is_global else (
                "cluster-scoped in the source, though the bundle does not mark it global")
        elif not ref.namespace:
            why = "namespaced in the source, but the bundle gives it no namespace"
        elif entry.is_global:
            why = KEPT_GLOBAL
        elif entry.keep_in_source:
            why = KEPT_SHARED
        else:
            scope.doomed.append((entry, res))
            continue
        scope.kept[ref] = why
        if res is not None and res.namespaced and ref.namespace:
            scope.staying.append((entry, res))
    return scope


def retire_bundle(
    source: KubeClient,
    bundle: Bundle,
    options: RetireOptions,
    target: KubeClient | None = None,
    progress: ProgressLike | None = None,
    confirm: Callable[[RetireResult], bool] | None = None,
) -> RetireResult:
    """Retire a bundle's objects from the source after an air-gapped import into ``target``.

    Refuses, changing nothing, unless ``options.force``: while an object to delete is not
    paused in the source (its controllers would fight the target's), and unless ``target``
    holds every object of the bundle (each one to delete as this bundle created it there).
    With ``options.dry_run`` it reads and reports what it would do. ``confirm`` is shown that
    report after the checks and before the first deletion; NotConfirmed unless it agrees.
    """
    say = reporter_of(progress)
    if target is None and not options.force:
        raise PrecheckFailed("retire cannot check that this bundle was imported: pass "
                             "--to-kubeconfig (and --to-context) for the target, or --force")
    scope = retire_scope(source, bundle.entries)
    if target is not None and not options.force:
        say("checking the source is paused")
        problems = _unpaused(source, scope)
        say(f"checking {target.server} holds the bundle's objects")
        problems += _not_imported(target, bundle, scope, options.keys)
        if problems:
            lines = "\n".join(f"  - {p}" for p in problems)
            raise PrecheckFailed(f"retire refused; nothing was deleted:\n{lines}")
    if options.dry_run:
        return _retire_preview(source, scope)
    if confirm is not None:
        preview = _retire_preview(source, scope)
        # Deletion goes by UID, so it takes at most what was shown: an object gone or
        # recreated since cannot come back with the bundle's UID.
        if preview.deleted and not confirm(preview):
            raise NotConfirmed("retire not confirmed; nothing was deleted")
    return retire(source, bundle.entries, say, timeout=options.timeout)


def _unpaused(source: KubeClient, scope: RetireScope) -> list[str]:
    """Each object to delete that pauses and runs unpaused in the source (a list per kind and
    namespace)."""
    pausable = [(e, res) for e, res in scope.doomed if is_pausable(e.ref)]
    where = sorted({(res, e.ref.namespace) for e, res in pausable},
                   key=lambda w: (str(w[0]), w[1]))
    live: dict[tuple[ApiResource, str, str], dict[str, Any]] = {}
    for (res, namespace), objects in zip(
            where, source.map(lambda w: source.list(w[0], w[1]), where, limit=_WORKERS),
            strict=True):
        live.update({(res, namespace, o["metadata"]["name"]): o for o in objects})
    problems = []
    for entry, res in pausable:
        obj = live.get((res, entry.ref.namespace, entry.ref.name))
        if (obj is not None and obj["metadata"].get("uid") == entry.source_uid
                and not is_paused(obj)):
            problems.append(f"{entry.ref}: not paused in the source, so its controllers still "
                            "act on it (export --leave-paused pauses it; --force retires anyway)")
    return problems


def _not_imported(target: KubeClient, bundle: Bundle, scope: RetireScope,
                  keys: SecretKeys) -> list[str]:
    """Each object of the bundle the target lacks, or holds otherwise than this bundle
    creates it (for an object retire deletes)."""
    if bundle.parsed_manifest.encryption:
        unlock(bundle, keys)  # encrypted Secrets are compared as the import created them
    found = own_objects(target, bundle)
    doomed = {entry.ref for entry, _ in scope.doomed}
    problems = []
    for entry in bundle.entries:
        there = found.get(entry.ref)
        if there is None:
            problems.append(f"{entry.ref}: not in the target {target.server}")
        elif entry.ref in doomed and not there.own:
            problems.append(f"{entry.ref}: in the target {target.server}, but not as this "
                            "bundle creates it")
    return problems


def _retire_preview(source: KubeClient, scope: RetireScope) -> RetireResult:
    """What retire would do with each object, read and changing nothing."""
    def outcome(item: tuple[ObjectEntry, ApiResource]) -> str:
        entry, res = item
        live = source.get(res, entry.ref.namespace, entry.ref.name)
        if live is None:
            return "gone"
        return "deleted" if live["metadata"].get("uid") == entry.source_uid else "recreated"

    result = RetireResult(kept=sorted(scope.kept), why_kept=dict(scope.kept), dry_run=True)
    lists = {"deleted": result.deleted, "gone": result.already_gone,
             "recreated": result.recreated}
    for (entry, _), what in zip(scope.doomed, source.map(outcome, scope.doomed, limit=_WORKERS),
                                strict=True):
        lists[what].append(entry.ref)
    for refs in lists.values():
        refs.sort()
    return result


def retire(
    source: KubeClient,
    entries: Sequence[ObjectEntry],
    progress: ProgressLike | None = None,
    on_wave: Callable[[list[str]], None] | None = None,
    *,
    timeout: float = DEFAULT_RETIRE_TIMEOUT,
) -> RetireResult:
    """Delete the bundle's objects from the source, dependents first, by UID, and wait (up to
    ``timeout`` seconds) until they are gone.

    Only what :func:`retire_scope` dooms is deleted. Each object is annotated
    ``delete-for-move`` (so providers know not to delete real infrastructure) and loses its
    finalizers before the delete; an object already gone is success, and one recreated since
    under the same name (another UID) is left alone. The delete orphans: the garbage
    collector un-owns what stays before the object goes, so it never takes along an object
    that stays. Raises RetireIncomplete, listing what still terminates, when the wait ends
    first.
    """
    report = reporter_of(progress)
    scope = retire_scope(source, entries)
    result = RetireResult(kept=sorted(scope.kept), why_kept=dict(scope.kept))
    waves = sorted({e.wave for e, _ in scope.doomed}, reverse=True)
    terminating: list[Deleted] = []
    for wave in waves:
        batch = [(e, res) for e, res in scope.doomed if e.wave == wave]

        def one(item: tuple[ObjectEntry, ApiResource]) -> tuple[ObjectEntry, str, Deleted | None]:
            entry, res = item
            return entry, *_retire_one(source, res, entry)

        with report.task(f"retiring {wave_text(wave, waves[0] + 1)}", len(batch)) as advance:
            outcomes = []
            for finished in source.map(one, batch, limit=_WORKERS):
                outcomes.append(finished)
                advance()
        for entry, outcome, stays in outcomes:
            if stays is not None:
                terminating.append(stays)
                continue
            {"deleted": result.deleted, "gone": result.already_gone,
             "recreated": result.recreated}[outcome].append(entry.ref)
        if on_wave:
            on_wave([e.file for e, _, _ in outcomes])
    if terminating:
        report(f"waiting up to {timeout:g}s for {len(terminating)} deleted object(s) to leave "
               "the source (the garbage collector finishes their deletion)")
    waited = wait_until_gone(source, terminating, timeout, report)
    result.deleted = sorted(result.deleted + waited.gone)
    result.terminating = waited.terminating
    # What stays in the source (a ClusterClass other Clusters use) must reconcile again there.
    _resume_exported(source, [(e, res) for e, res in scope.staying
                              if is_pausable(e.ref) and not e.was_paused])
    if result.terminating:
        raise RetireIncomplete(result, f"retiring the source: {explain(waited)}")
    return result


def _retire_one(source: KubeClient, res: ApiResource, entry: ObjectEntry
                ) -> tuple[str, Deleted | None]:
    """Retire one object: its outcome, and what to wait for when the delete left it there.

    A 409 means the object changed since we read it (a stale resourceVersion), or that it is
    another object now (the UID precondition): read it again and decide again.
    """
    for _ in range(_CONFLICT_ATTEMPTS - 1):
        try:
            return _try_retire_one(source, res, entry)
        except Conflict:
            pass
    return _try_retire_one(source, res, entry)


def _try_retire_one(source: KubeClient, res: ApiResource, entry: ObjectEntry
                    ) -> tuple[str, Deleted | None]:
    ref = entry.ref
    live = source.get(res, ref.namespace, ref.name)
    if live is None:
        return "gone", None
    meta = live["metadata"]
    if meta.get("uid") != entry.source_uid:
        return "recreated", None
    patch: dict[str, Any] = {"metadata": {"resourceVersion": meta["resourceVersion"]}}
    if DELETE_FOR_MOVE_ANNOTATION not in (meta.get("annotations") or {}):
        patch["metadata"]["annotations"] = {DELETE_FOR_MOVE_ANNOTATION: ""}
    if not meta.get("deletionTimestamp"):
        # Before the delete, so no provider ever sees its object deleting with its finalizer.
        # Not once deleting: that would drop the orphan finalizer, the collector's cue.
        patch["metadata"]["finalizers"] = None
    try:
        if len(patch["metadata"]) > 1:
            # The resourceVersion makes it a 409 if the object changed since we read it.
            source.merge_patch(res, ref.namespace, ref.name, patch)
        # Orphan, not cascade: the garbage collector must not take along an object that stays
        # (one excluded from the move whose last remaining owner is being retired).
        stays = source.delete_object(res, ref.namespace, ref.name, uid=entry.source_uid,
                                     propagation="Orphan")
        if stays is not None:
            _release_provider_finalizers(source, res, stays)
    except NotFound:
        return "gone", None
    if stays is None:
        return "deleted", None
    return "deleted", Deleted(ref, res, entry.source_uid)


def _release_provider_finalizers(source: KubeClient, res: ApiResource,
                                 deleted: dict[str, Any]) -> None:
    """Remove from a deleted object every finalizer but the garbage collector's (one a
    controller added after we stripped them, or one held since an earlier delete).

    On a conflict it reads the object again and keeps what it holds then: once our Orphan
    delete is in, only the collector removes ``orphan``, after it has un-owned the dependents.
    """
    meta = deleted["metadata"]
    uid, namespace, name = meta["uid"], meta.get("namespace", ""), meta["name"]
    for attempt in range(_CONFLICT_ATTEMPTS):
        finalizers = meta.get("finalizers") or []
        kept = [f for f in finalizers if f in GC_FINALIZERS]
        if kept == finalizers:
            return
        try:
            # No finalizer can be added to a deleting object: this can only ever remove some.
            source.merge_patch(res, namespace, name, {"metadata": {
                "finalizers": kept or None, "resourceVersion": meta["resourceVersion"]}})
            return
        except Conflict:
            if attempt == _CONFLICT_ATTEMPTS - 1:
                raise
        fresh = source.get(res, namespace, name)
        if fresh is None or fresh["metadata"].get("uid") != uid:
            return
        meta = fresh["metadata"]


def remove_imported(target: KubeClient, bundle: Bundle) -> int:
    """Delete from the target every object of the bundle that this bundle created there.

    Created by it means holding what importing it creates (:func:`own_objects`): the bundle's
    annotation alone is not enough, since anyone can write it; an object of another origin
    that carries it stays.
    """
    found = own_objects(target, bundle)
    removed = 0
    for wave in sorted({e.wave for e in bundle.entries}, reverse=True):
        for entry in (e for e in bundle.entries if e.wave == wave):
            there = found.get(entry.ref)
            res = target.resource(entry.api_version, entry.ref.kind)
            if there is None or not there.own or res is None:
                continue
            ref = entry.ref
            try:
                # The uid makes the server refuse the patch once the object is another one.
                target.merge_patch(res, ref.namespace, ref.name,
                                   {"metadata": {"uid": there.uid, "finalizers": None}})
            except (NotFound, Invalid):
                continue
            if target.delete(res, ref.namespace, ref.name, uid=there.uid):
                removed += 1
    return removed


def resume_source(source: KubeClient, entries: Sequence[ObjectEntry]) -> SourceResumed:
    """Unpause what an export with --leave-paused paused (aborts an air-gapped move), and what
    the bundle says was paused before but a killed run of movekit has marked as its own.

    Only the exported objects themselves: a Cluster deleted and recreated since under the same
    name (another UID) is not the bundle's, and is left alone, and reported.
    """
    targets = []
    for entry in entries:
        res = source.resource(entry.api_version, entry.ref.kind)
        if res is not None and res.namespaced and entry.ref.namespace and is_pausable(entry.ref):
            targets.append((entry, res))
    return _resume_exported(source, targets)


def _resume_exported(source: KubeClient, targets: Sequence[tuple[ObjectEntry, ApiResource]]
                     ) -> SourceResumed:
    """Resume each target that still has the UID it was exported with, concurrently."""
    def one(item: tuple[ObjectEntry, ApiResource]) -> str:
        entry, res = item
        ref = entry.ref
        live = source.get(res, ref.namespace, ref.name)
        if live is None:
            return "gone"
        if live["metadata"].get("uid") != entry.source_uid:
            return "recreated"
        if entry.was_paused and not paused_by_movekit(live):
            return "kept"  # paused before the export, by someone else
        patch = pause_patch(ref, paused=False)
        # The uid makes the server refuse (422: an immutable field) an object recreated since.
        patch.setdefault("metadata", {})["uid"] = entry.source_uid
        try:
            source.merge_patch(res, ref.namespace, ref.name, patch)
        except NotFound:
            return "gone"
        except Invalid:
            again = source.get(res, ref.namespace, ref.name)
            if again is None:
                return "gone"
            if again["metadata"].get("uid") != entry.source_uid:
                return "recreated"
            raise
        return "resumed"

    done = SourceResumed()
    for (entry, _), outcome in zip(targets, source.map(one, targets, limit=_WORKERS),
                                   strict=True):
        if outcome == "resumed":
            done.resumed.append(entry.ref)
        elif outcome == "recreated":
            done.recreated.append(entry.ref)
    return done



def _pausables(client: KubeClient, refs: Iterable[ObjectRef]) -> list[Pausable]:
    found = []
    for ref in refs:
        res = client.resource_of(ref.group_kind)
        if res is not None:
            found.append(Pausable(ref, res))
    return found


def _entry_pausables(client: KubeClient, entries: Iterable[ObjectEntry]) -> list[Pausable]:
    found = []
    for entry in entries:
        res = client.resource(entry.api_version, entry.ref.kind)
        if res is not None:
            found.append(Pausable(entry.ref, res))
    return found
