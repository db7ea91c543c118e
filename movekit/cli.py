"""The ``movekit`` command line: parse flags, call the library, render. No logic lives here."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from enum import StrEnum
from importlib.metadata import entry_points
from pathlib import Path
from typing import Annotated, Any, NoReturn, TypeVar

import typer
from rich.console import Console

from movekit import preflight, render
from movekit.apply import DEFAULT_WORKERS, ApplyOptions
from movekit.bundle import Bundle, read_bundle
from movekit.bundle.encryption import SecretKeys, describe
from movekit.clihelp import PlainTyper, run
from movekit.contract import BLOCK_MOVE_ANNOTATION
from movekit.errors import LocalFileError, MovekitError, UsageError
from movekit.export import ExportOptions, export_bundle
from movekit.importer import ImportOptions, import_from_path
from movekit.interrupt import Interrupted, guard_standard_streams, signals_interrupt
from movekit.kube import DEFAULT_BURST, DEFAULT_QPS, KubeClient
from movekit.model import ConflictPolicy, Layout, Selection
from movekit.mover import DEFAULT_RETIRE_TIMEOUT, RetireResult
from movekit.plan import PlanOptions
from movekit.progress import QUIET, ConsoleReporter
from movekit.refs import GroupKind
from movekit.version import __version__

app = PlainTyper(
    name="movekit",
    help="""Move Cluster API objects between management clusters through a verifiable bundle.

    Examples:
      movekit export -n prod --to-archive prod.tar.zst --leave-paused
      movekit import --from-archive prod.tar.zst --kubeconfig target.yaml
      movekit move -n prod --to-kubeconfig target.yaml --dry-run
    """,
    no_args_is_help=True,
)
# Every line is a rich Text built by render.line; markup and emoji codes stay off regardless.
out = Console(highlight=False, soft_wrap=True, markup=False, emoji=False)
err = Console(stderr=True, highlight=False, soft_wrap=True, markup=False, emoji=False)

Kubeconfig = Annotated[Path | None, typer.Option(
    "--kubeconfig", metavar="PATH", help="Kubeconfig of the cluster (default: $KUBECONFIG or ~/.kube/config).")]
Context = Annotated[str | None, typer.Option(
    "--context", "--kubeconfig-context", metavar="NAME", help="Context in the kubeconfig to use.")]
Qps = Annotated[float, typer.Option(
    "--qps", metavar="RATE", help="Client-side request rate limit per second (above 0).")]
Burst = Annotated[int, typer.Option("--burst", metavar="N", help="Requests allowed above --qps in a burst.")]
RetireTimeout = Annotated[float, typer.Option(
    metavar="SECONDS", help="Seconds to wait for retired objects to leave the source (the garbage collector "
         "finishes their deletion) before giving up with exit code 7; running again continues.")]
BundleDirectory = Annotated[Path | None, typer.Option(
    metavar="DIR", help="The bundle, as a directory.")]
BundleArchive = Annotated[Path | None, typer.Option(
    metavar="FILE", help="The bundle, as a .tar.zst file.")]
Quiet = Annotated[bool, typer.Option(
    "--quiet", "-q", help="Print only the one-line result, and warnings and errors on stderr.")]
Verbose = Annotated[int, typer.Option("--verbose", "-v", count=True,
                                      help="Show more (-v: details, -vv: every request step).")]


class OutputFormat(StrEnum):
    """What ``-o`` prints: text for people, JSON or YAML for programs."""

    TEXT = "text"
    JSON = "json"
    YAML = "yaml"


Output = Annotated[OutputFormat, typer.Option(
    "--output", "-o", metavar="FORMAT", help="text, json or yaml.")]
T = TypeVar("T")
# Commands other distributions add; movekit-kubesim brings `demo` and `kubesim`.
COMMANDS_GROUP = "movekit.commands"
EMULATOR_COMMANDS = ("demo", "kubesim")
EMULATOR_MISSING = "this command needs the emulator: pip install 'movekit[demo]'"
# The commands that continue where they stopped when run again; the others, interrupted,
# only say so.
RESUMABLE = ("export", "import", "move", "retire", "resume-source")


class InspectFormat(StrEnum):
    """What ``inspect --format`` draws."""

    TREE = "tree"
    JSON = "json"
    YAML = "yaml"
    DOT = "dot"
    MERMAID = "mermaid"


class DryRun(StrEnum):
    """``--dry-run``'s values, kubectl's: a bare ``--dry-run`` is ``client``."""

    NONE = "none"  # not a dry run
    CLIENT = "client"  # read and plan; send no write
    SERVER = "server"  # as client, and send the writes with dryRun=All


def _dry_run(mode: DryRun, command: str, *, server: bool = False) -> bool:
    """Whether ``command`` runs dry; ``server``: whether it can send its writes as a dry run."""
    if mode == DryRun.SERVER and not server:
        raise UsageError(f"{command} --dry-run=server is not supported: {command} does not send "
                         "its writes with dryRun=All; use --dry-run (client)")
    return mode != DryRun.NONE


class _State:
    """The current command's output format, so that errors are rendered in it too."""

    output = "text"


def _output(output: str) -> str:
    _State.output = output
    return output


def _emit(output: str, document: dict[str, Any], text: Callable[[], None]) -> None:
    if output == "json":
        render.print_json(out, document)
    elif output == "yaml":
        render.print_yaml(out, document)
    else:
        text()


def _progress(quiet: bool, verbose: int = 0, output: str = "text") -> ConsoleReporter:
    # Machine-readable output keeps stderr for errors only, so pipelines see one document.
    level = QUIET if quiet or output != "text" else verbose
    return ConsoleReporter(verbosity=level)


def _selection(namespace: str | None, all_namespaces: bool, clusters: list[str]) -> Selection:
    if all_namespaces and namespace:
        raise UsageError("use either --namespace or --all-namespaces, not both")
    if not all_namespaces and not namespace:
        namespace = "default"
    if all_namespaces and clusters:
        raise UsageError("--cluster needs --namespace: Cluster names are unique per namespace")
    return Selection(namespace=None if all_namespaces else namespace,
                     clusters=frozenset(clusters))


def _bundle_path(directory: Path | None, archive: Path | None, verb: str) -> tuple[Path, bool]:
    if (directory is None) == (archive is None):
        raise UsageError(f"{verb} needs exactly one of --{verb}-directory or --{verb}-archive")
    return (directory, False) if directory is not None else (archive, True)  # type: ignore[return-value]


@app.command()
def export(
    ctx: typer.Context,
    to_directory: Annotated[Path | None, typer.Option(
        metavar="DIR", help="Write the bundle as a directory.")] = None,
    to_archive: Annotated[Path | None, typer.Option(
        metavar="FILE", help="Write the bundle as a .tar.zst file.")] = None,
    namespace: Annotated[str | None, typer.Option(
        "--namespace", "-n", metavar="NAME", help="Namespace to export (default: default).")] = None,
    all_namespaces: Annotated[bool, typer.Option("--all-namespaces", "-A",
                                                 help="Export from every namespace.")] = False,
    cluster: Annotated[list[str] | None, typer.Option(
        metavar="NAME", help="Export only this Cluster and what it needs (repeatable).")] = None,
    kubeconfig: Kubeconfig = None,
    context: Context = None,
    dry_run_mode: Annotated[DryRun, typer.Option(
        "--dry-run", metavar="MODE",
        help="Show what would be exported; write nothing. MODE is client (as --dry-run alone) or "
             "server, the same here: the pauses are only tried, with dryRun=All.")]
    = DryRun.NONE,
    force: Annotated[bool, typer.Option(
        help="Export even when Clusters or Machines are not fully provisioned.")] = False,
    leave_paused: Annotated[bool, typer.Option(
        help="Leave the source paused afterwards (first step of an air-gapped move).")] = False,
    clusterctl_layout: Annotated[bool, typer.Option(
        "--clusterctl-layout",
        help="Write the directory clusterctl move --to-directory writes, not a bundle.")] = False,
    no_pause: Annotated[bool, typer.Option(
        "--no-pause", help="Do not pause the source while reading (read-only credentials).")] = False,
    block_move_timeout: Annotated[float, typer.Option(
        metavar="SECONDS", help=f"Seconds to wait for {BLOCK_MOVE_ANNOTATION} to clear.")] = 300.0,
    encrypt_to: Annotated[list[str] | None, typer.Option(
        "--encrypt-to", metavar="RECIPIENT", help="Encrypt Secret values to this age recipient (age1..., repeatable).")] = None,
    passphrase_file: Annotated[Path | None, typer.Option(
        metavar="FILE", help="Encrypt Secret values with the passphrase on this file's first line.")] = None,
    qps: Qps = DEFAULT_QPS,
    burst: Burst = DEFAULT_BURST,
    output: Output = OutputFormat.TEXT,
    quiet: Quiet = False,
    verbose: Verbose = 0,
) -> None:
    """Export Cluster API objects from a cluster into a bundle.

    Examples:
      movekit export -n prod --to-archive prod.tar.zst --leave-paused
      movekit export -n prod --cluster web --dry-run
      movekit export -A --to-directory fleet-bundle --encrypt-to age1...
    """
    _output(output)
    _check_command_line(ctx)
    dry_run = _dry_run(dry_run_mode, "export", server=True)
    selection = _selection(namespace, all_namespaces, cluster or [])
    target: Path | None = None
    archive = False
    if not dry_run or to_directory or to_archive:
        target, archive = _bundle_path(to_directory, to_archive, "to")
    _export(KubeClient(kubeconfig, context, qps=qps, burst=burst), ExportOptions(
        selection=selection, target=target, archive=archive, dry_run=dry_run, force=force,
        pause=not no_pause, leave_paused=leave_paused, block_move_timeout=block_move_timeout,
        layout=Layout.CLUSTERCTL if clusterctl_layout else Layout.BUNDLE,
        encrypt_to=tuple(encrypt_to or ()), passphrase_file=passphrase_file,
    ), _progress(quiet, verbose, output), output)


def _export(client: KubeClient, options: ExportOptions, progress: ConsoleReporter,
            output: str) -> None:
    """Export with ``client`` (closed after) and render the result."""
    with client:
        result = export_bundle(client, options, progress)
    for warning in result.warnings:
        err.print(render.line("warning:", "yellow")
                  + render.line(f" {warning}", message=True))
    _emit(output, render.export_json(result, dry_run=options.dry_run),
          lambda: render.export_summary(out, result, dry_run=options.dry_run,
                                        verbose=progress.verbosity,
                                        quiet=progress.verbosity == QUIET))


AllowNamespace = Annotated[list[str] | None, typer.Option(
    metavar="NAME", help="Also allow writing in this target namespace: outside the bundle's selection, a system "
         "namespace or one of the target's provider namespaces (repeatable).")]
AllowSecretType = Annotated[list[str] | None, typer.Option(
    metavar="TYPE", help="Also allow Secrets of this type that grant API access, such as "
         "kubernetes.io/service-account-token (repeatable).")]
AllowPodSecurityLabels = Annotated[bool, typer.Option(
    help="Create namespaces with the bundle's pod-security.kubernetes.io/ labels.")]
AllowActiveSource = Annotated[bool, typer.Option(
    "--allow-active-source",
    help="Import and resume a bundle whose export did not leave the source paused (no "
         "--leave-paused): until the source is paused or retired, both management clusters "
         "then reconcile the same workload clusters. Not needed with --leave-paused.")]


def _allowances(namespaces: list[str] | None, secret_types: list[str] | None,
                pod_security_labels: bool) -> dict[str, Any]:
    """The PlanOptions fields of the --allow-* flags that widen where an import writes."""
    return {"allow_namespaces": frozenset(namespaces or []),
            "allow_secret_types": frozenset(secret_types or []),
            "allow_pod_security_labels": pod_security_labels}


@app.command("import")
def import_(
    ctx: typer.Context,
    from_directory: Annotated[Path | None, typer.Option(
        metavar="DIR",
        help="Read the bundle from a directory (or one clusterctl move --to-directory wrote).")] = None,
    from_archive: Annotated[Path | None, typer.Option(
        metavar="FILE", help="Read the bundle from a .tar.zst file.")] = None,
    kubeconfig: Kubeconfig = None,
    context: Context = None,
    dry_run_mode: Annotated[DryRun, typer.Option(
        "--dry-run", metavar="MODE",
        help="Print the plan; write nothing. MODE is client (as --dry-run alone); server is not "
             "supported: creates are not sent with dryRun=All.")]
    = DryRun.NONE,
    expect_digest: Annotated[str | None, typer.Option(
        metavar="DIGEST", help="Refuse the bundle unless its digest is this sha256:... value.")] = None,
    conflict: Annotated[ConflictPolicy, typer.Option(
        metavar="POLICY",
        help=f"What to do with foreign objects already in the target: {', '.join(ConflictPolicy)}.")]
    = ConflictPolicy.FAIL,
    namespace_map: Annotated[list[str] | None, typer.Option(
        metavar="OLD=NEW", help="Import namespace OLD as NEW (OLD=NEW, repeatable).")] = None,
    skip_provider_check: Annotated[bool, typer.Option(
        help="Import even when the target's providers are missing or older.")] = False,
    allow_kind: Annotated[list[str] | None, typer.Option(
        metavar="KIND.GROUP", help="Also allow importing this Kind.group (repeatable).")] = None,
    allow_namespace: AllowNamespace = None,
    allow_secret_type: AllowSecretType = None,
    allow_pod_security_labels: AllowPodSecurityLabels = False,
    allow_active_source: AllowActiveSource = False,
    leave_paused: Annotated[bool, typer.Option(
        help="Leave imported Clusters and ClusterClasses paused.")] = False,
    identity: Annotated[list[Path] | None, typer.Option(
        metavar="FILE", help="age identity file (as age-keygen writes it) that decrypts the bundle's Secrets (repeatable).")] = None,
    passphrase_file: Annotated[Path | None, typer.Option(
        metavar="FILE", help="Decrypt the bundle's Secrets with the passphrase on this file's first line.")] = None,
    workers: Annotated[int, typer.Option(
        metavar="N", help="Objects created concurrently within a wave.")] = DEFAULT_WORKERS,
    qps: Qps = DEFAULT_QPS,
    burst: Burst = DEFAULT_BURST,
    output: Output = OutputFormat.TEXT,
    quiet: Quiet = False,
    verbose: Verbose = 0,
) -> None:
    """Import a bundle into a cluster: verify, plan, then create in dependency order.

    Examples:
      movekit import --from-archive prod.tar.zst --kubeconfig target.yaml --dry-run
      movekit import --from-archive prod.tar.zst --expect-digest sha256:...
      movekit import --from-directory clusterctl-dir --namespace-map prod=prod-eu
    """
    _output(output)
    _check_command_line(ctx)
    dry_run = _dry_run(dry_run_mode, "import")
    path, _ = _bundle_path(from_directory, from_archive, "from")
    policy = ConflictPolicy(conflict)
    mapping = preflight.namespace_map(namespace_map or [])
    options = ImportOptions(
        plan=PlanOptions(conflict=policy, namespace_map=mapping,
                         skip_provider_check=skip_provider_check,
                         allow_kinds=frozenset(_group_kind(k) for k in allow_kind or []),
                         **_allowances(allow_namespace, allow_secret_type,
                                       allow_pod_security_labels)),
        apply=ApplyOptions(workers=workers, leave_paused=leave_paused, namespace_map=mapping),
        dry_run=dry_run,
        expect_digest=expect_digest,
        keys=SecretKeys(tuple(identity or ()), passphrase_file),
        allow_active_source=allow_active_source,
    )
    _import(KubeClient(kubeconfig, context, qps=qps, burst=burst,
                       connections=max(workers * 2, 8)),
            path, options, _progress(quiet, verbose, output), output)


def _import(client: KubeClient, path: Path, options: ImportOptions, progress: ConsoleReporter,
            output: str) -> None:
    """Import with ``client`` (closed after) and render the result."""
    with client:
        result = import_from_path(client, path, options, progress)
    for warning in result.plan.warnings:
        err.print(render.line("warning:", "yellow")
                  + render.line(f" {warning}", message=True))
    _emit(output, render.import_json(result),
          lambda: render.import_summary(out, result, dry_run=options.dry_run,
                                        quiet=progress.verbosity == QUIET))


_IMPORT_ONLY = ("allow_namespace", "allow_secret_type", "allow_pod_security_labels",
                "allow_active_source")
# The flags of move that its export-only and import-only modes have no use for.
_NOT_FOR_EXPORT_ONLY = ("to_kubeconfig", "to_context", "from_directory", "journal",
                        "resume_journal", "rollback_journal", "no_rollback", "conflict",
                        "retire_timeout", "workers", *_IMPORT_ONLY)
_NOT_FOR_IMPORT_ONLY = ("namespace", "all_namespaces", "cluster", "to_directory",
                        "clusterctl_layout", "journal", "resume_journal", "rollback_journal",
                        "force", "no_rollback", "block_move_timeout", "retire_timeout")


@app.command("move")
def move_(
    ctx: typer.Context,
    to_kubeconfig: Annotated[Path | None, typer.Option(
        metavar="PATH", help="Kubeconfig of the target cluster.")] = None,
    to_context: Annotated[str | None, typer.Option(
        "--to-context", "--to-kubeconfig-context", metavar="NAME",
        help="Context in the target kubeconfig.")] = None,
    namespace: Annotated[str | None, typer.Option(
        "--namespace", "-n", metavar="NAME", help="Namespace to move (default: default).")] = None,
    all_namespaces: Annotated[bool, typer.Option("--all-namespaces", "-A",
                                                 help="Move every namespace.")] = False,
    cluster: Annotated[list[str] | None, typer.Option(
        metavar="NAME", help="Move only this Cluster and what it needs (repeatable).")] = None,
    kubeconfig: Kubeconfig = None,
    context: Context = None,
    to_directory: Annotated[Path | None, typer.Option(
        metavar="DIR",
        help="Only export, to this directory, as clusterctl move --to-directory does (a movekit "
             "bundle; with --clusterctl-layout, clusterctl's own files).")] = None,
    clusterctl_layout: Annotated[bool, typer.Option(
        "--clusterctl-layout", help="With --to-directory: write clusterctl's layout.")] = False,
    from_directory: Annotated[Path | None, typer.Option(
        metavar="DIR", help="Only import from this directory (as clusterctl move --from-directory).")] = None,
    allow_namespace: AllowNamespace = None,
    allow_secret_type: AllowSecretType = None,
    allow_pod_security_labels: AllowPodSecurityLabels = False,
    allow_active_source: AllowActiveSource = False,
    journal: Annotated[Path | None, typer.Option(
        metavar="FILE", help="Journal file (default: ./movekit-move-<time>.journal.json).")] = None,
    resume_journal: Annotated[Path | None, typer.Option(
        "--resume", metavar="JOURNAL", help="Continue the move recorded in this journal.")] = None,
    rollback_journal: Annotated[Path | None, typer.Option(
        "--rollback", metavar="JOURNAL", help="Undo the move recorded in this journal.")] = None,
    dry_run_mode: Annotated[DryRun, typer.Option(
        "--dry-run", metavar="MODE",
        help="Run every check and show the plan; change nothing. MODE is client (as --dry-run "
             "alone); server is not supported: creates are not sent with dryRun=All.")]
    = DryRun.NONE,
    force: Annotated[bool, typer.Option(help="Move even when not fully provisioned.")] = False,
    no_rollback: Annotated[bool, typer.Option(
        "--no-rollback", help="On failure, leave things as they are for --resume.")] = False,
    conflict: Annotated[ConflictPolicy, typer.Option(
        metavar="POLICY",
        help=f"Objects already in the target and not from this move: {', '.join(ConflictPolicy)}.")]
    = ConflictPolicy.FAIL,
    block_move_timeout: Annotated[float, typer.Option(
        metavar="SECONDS", help=f"Seconds to wait for {BLOCK_MOVE_ANNOTATION} to clear.")] = 300.0,
    retire_timeout: RetireTimeout = DEFAULT_RETIRE_TIMEOUT,
    workers: Annotated[int, typer.Option(
        metavar="N", help="Objects created concurrently within a wave.")] = DEFAULT_WORKERS,
    qps: Qps = DEFAULT_QPS,
    burst: Burst = DEFAULT_BURST,
    output: Output = OutputFormat.TEXT,
    quiet: Quiet = False,
    verbose: Verbose = 0,
) -> None:
    """Move Cluster API objects from one cluster to another: export, import, retire the source.

    Examples:
      movekit move -n prod --to-kubeconfig target.yaml --dry-run
      movekit move -n prod --to-kubeconfig target.yaml
      movekit move --resume movekit-move-20260101T120000Z.journal.json
    """
    from movekit.journal import ClusterAccess, Journal
    from movekit.mover import MoveOptions, default_journal_path, move, resume, rollback

    _output(output)
    _check_command_line(ctx)
    dry_run = _dry_run(dry_run_mode, "move")
    say = _progress(quiet, verbose, output)
    policy = ConflictPolicy(conflict)
    if to_directory is not None:
        _refuse_flags(ctx, "--to-directory", _NOT_FOR_EXPORT_ONLY)
        return _export(KubeClient(kubeconfig, context, qps=qps, burst=burst), ExportOptions(
            selection=_selection(namespace, all_namespaces, cluster or []), target=to_directory,
            dry_run=dry_run, force=force, block_move_timeout=block_move_timeout,
            layout=Layout.CLUSTERCTL if clusterctl_layout else Layout.BUNDLE), say, output)
    if from_directory is not None:
        _refuse_flags(ctx, "--from-directory", _NOT_FOR_IMPORT_ONLY)
        return _import(
            KubeClient(to_kubeconfig or kubeconfig, to_context or context, qps=qps, burst=burst,
                       connections=max(workers * 2, 8)),
            from_directory, ImportOptions(plan=PlanOptions(conflict=policy, **_allowances(
                allow_namespace, allow_secret_type, allow_pod_security_labels)),
                                          apply=ApplyOptions(workers=workers), dry_run=dry_run,
                                          allow_active_source=allow_active_source),
            say, output)
    if allow_active_source:
        raise UsageError("a live move retires the source itself; --allow-active-source is for "
                         "import and move --from-directory")
    if allow_pod_security_labels:
        # A live move imports what it exported itself: the source's labels come along.
        raise UsageError("move copies the source's namespace labels; --allow-pod-security-labels "
                         "is for import and move --from-directory")
    namespaces, secret_types = frozenset(allow_namespace or []), frozenset(allow_secret_type or [])
    options_journal = resume_journal or rollback_journal
    if options_journal is not None:
        record = Journal.load(options_journal)
        src_cfg = kubeconfig or _path(record.source.kubeconfig)
        dst_cfg = to_kubeconfig or _path(record.target.kubeconfig)
        with KubeClient(src_cfg, context or record.source.context, qps=qps, burst=burst) as src, \
                KubeClient(dst_cfg, to_context or record.target.context, qps=qps, burst=burst,
                           connections=max(workers * 2, 8)) as dst:
            if rollback_journal is not None:
                rollback(record, src, dst, say)
                _emit(output, render.move_json(record, None), lambda: out.print(render.line(
                    f"rolled back; the source is unpaused ({record.path})")))
                return
            driven = _resumable(record.path, lambda: resume(record, src, dst, MoveOptions(
                selection=Selection(namespace=None), workers=workers, conflict=policy,
                block_move_timeout=block_move_timeout, retire_timeout=retire_timeout,
                force=force, allow_namespaces=namespaces, allow_secret_types=secret_types), say))
        _emit(output, render.move_json(record, driven.retired, imported=driven.imported),
              lambda: render.move_summary(out, record, driven.retired,
                                          imported=driven.imported, quiet=quiet))
        return
    if to_kubeconfig is None:
        raise UsageError("move needs --to-kubeconfig (or --to-directory / --from-directory)")
    selection = _selection(namespace, all_namespaces, cluster or [])
    journal = Path(os.path.abspath(journal or default_journal_path()))  # links: refused
    if not dry_run and output == "text":
        # Printed whatever the verbosity: it is what --resume and --rollback need after a crash.
        err.print(render.line(f"journal: {journal}"))
    options = MoveOptions(
        selection=selection, journal=journal, dry_run=dry_run, force=force,
        rollback_on_failure=not no_rollback, block_move_timeout=block_move_timeout,
        retire_timeout=retire_timeout, workers=workers, conflict=policy,
        allow_namespaces=namespaces, allow_secret_types=secret_types,
    )
    with KubeClient(kubeconfig, context, qps=qps, burst=burst) as src, \
            KubeClient(to_kubeconfig, to_context, qps=qps, burst=burst,
                       connections=max(workers * 2, 8)) as dst:
        access = (ClusterAccess(_text(kubeconfig), context, src.server),
                  ClusterAccess(_text(to_kubeconfig), to_context, dst.server))
        result = _resumable(journal, lambda: move(src, dst, options, access, say))
    def text() -> None:
        if result.journal is None:
            render.move_preview(out, result.preview, verbose=verbose, quiet=quiet)
        else:
            render.move_summary(out, result.journal, result.retired, imported=result.imported,
                                quiet=quiet)

    _emit(output, render.move_json(result.journal, result.retired, result.preview,
                                   result.imported), text)


@app.command()
def retire(
    ctx: typer.Context,
    from_directory: BundleDirectory = None,
    from_archive: BundleArchive = None,
    kubeconfig: Kubeconfig = None,
    context: Context = None,
    to_kubeconfig: Annotated[Path | None, typer.Option(
        metavar="PATH", help="Kubeconfig of the target the bundle was imported into: retire checks it holds "
             "every object first.")] = None,
    to_context: Annotated[str | None, typer.Option(
        "--to-context", "--to-kubeconfig-context", metavar="NAME",
        help="Context in the target kubeconfig.")] = None,
    expect_digest: Annotated[str | None, typer.Option(
        metavar="DIGEST", help="Refuse the bundle unless its digest is this sha256:... value.")] = None,
    dry_run_mode: Annotated[DryRun, typer.Option(
        "--dry-run", metavar="MODE",
        help="Show what would be deleted, kept and left alone; change nothing. MODE is client "
             "(as --dry-run alone); server is not supported: deletes are not sent with "
             "dryRun=All.")] = DryRun.NONE,
    force: Annotated[bool, typer.Option(
        help="Retire without checking that the source is paused and the target holds the "
             "bundle's objects.")] = False,
    identity: Annotated[list[Path] | None, typer.Option(
        metavar="FILE", help="age identity file that decrypts the bundle's Secrets, to compare them with the "
             "target's (repeatable).")] = None,
    passphrase_file: Annotated[Path | None, typer.Option(
        metavar="FILE", help="Decrypt the bundle's Secrets with the passphrase on this file's first line.")] = None,
    retire_timeout: RetireTimeout = DEFAULT_RETIRE_TIMEOUT,
    yes: Annotated[bool, typer.Option(
        "--yes", "-y", help="Delete without asking. Needed when standard input or output is "
                            "not a terminal; on a terminal, retire lists what it will delete "
                            "and asks first.")] = False,
    output: Output = OutputFormat.TEXT,
    quiet: Quiet = False,
    verbose: Verbose = 0,
) -> None:
    """Delete from the source exactly the objects a bundle recorded (last step of an air-gapped move).

    On a terminal it lists what it will delete, per Cluster and kind, and deletes only once
    answered y; no, an empty answer or the end of input delete nothing and exit with 1, Ctrl-C
    with 130. Without a terminal it refuses (exit 2) unless --yes.

    Examples:
      movekit retire --from-archive prod.tar.zst --to-kubeconfig target.yaml --dry-run
      movekit retire --from-archive prod.tar.zst --to-kubeconfig target.yaml
      movekit retire --from-archive prod.tar.zst --to-kubeconfig target.yaml --yes
    """
    from movekit.importer import load_verified
    from movekit.mover import RetireOptions, retire_bundle

    _output(output)
    _check_command_line(ctx)
    dry_run = _dry_run(dry_run_mode, "retire")
    ask = not (yes or dry_run)
    if ask and not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise UsageError("retire deletes from the source and asks first, but standard input or "
                         "output is not a terminal: pass --yes to delete without asking "
                         "(--dry-run shows what it would delete)")
    say = _progress(quiet, verbose, output)
    bundle = load_verified(_bundle_path(from_directory, from_archive, "from")[0], expect_digest,
                           say)
    options = RetireOptions(dry_run=dry_run, force=force, timeout=retire_timeout,
                            keys=SecretKeys(tuple(identity or ()), passphrase_file))
    with KubeClient(kubeconfig, context) as src:
        def confirm(preview: RetireResult) -> bool:
            return _confirm_retire(preview, bundle, src.server, output)

        confirmed = confirm if ask else None
        if to_kubeconfig is None:
            result = retire_bundle(src, bundle, options, None, say, confirmed)
        else:
            with KubeClient(to_kubeconfig, to_context) as dst:
                result = retire_bundle(src, bundle, options, dst, say, confirmed)
    _emit(output, render.retire_json(result),
          lambda: render.retire_summary(out, result, quiet=quiet))


def _confirm_retire(preview: RetireResult, bundle: Bundle, source: str, output: str) -> bool:
    """List what retire will delete and ask; only y or yes agrees. Ctrl-C at the question
    deletes nothing either (exit 130)."""
    console = out if output == "text" else err  # a JSON or YAML document keeps stdout
    try:  # from the first line shown: Ctrl-C may come as soon as the question appears
        render.retire_confirmation(console, preview, bundle.entries, source)
        console.print(render.line(f"delete these {len(preview.deleted)} object(s) from the "
                                  "source? [y/N] "), end="")
        answer = sys.stdin.readline()
    except Interrupted as interrupt:
        _interrupted(interrupt, "nothing was deleted")
    if not answer:
        console.print()  # end of input: end the question's line
    return answer.strip().lower() in ("y", "yes")


@app.command("resume-source")
def resume_source(
    ctx: typer.Context,
    from_directory: BundleDirectory = None,
    from_archive: BundleArchive = None,
    kubeconfig: Kubeconfig = None,
    context: Context = None,
    output: Output = OutputFormat.TEXT,
) -> None:
    """Unpause the source after export --leave-paused (abort an air-gapped move).

    Examples:
      movekit resume-source --from-archive prod.tar.zst
    """
    from movekit.mover import resume_source as unpause

    _output(output)
    _check_command_line(ctx)
    bundle = read_bundle(_bundle_path(from_directory, from_archive, "from")[0])
    with KubeClient(kubeconfig, context) as src:
        resumed = unpause(src, bundle.entries)
    _emit(output, render.resumed_json(resumed), lambda: render.resumed_summary(out, resumed))


ViewedPath = Annotated[Path, typer.Argument(
    metavar="PATH", help="Bundle directory or .tar.zst archive, or a directory clusterctl move --to-directory "
         "wrote.")]


@app.command()
def verify(
    path: ViewedPath,
    output: Output = OutputFormat.TEXT,
) -> None:
    """Verify a bundle offline: format, schema, checksums, files. Prints its digest.

    A directory clusterctl move --to-directory wrote carries no checksums or digest: for one,
    only its structure is verified (every file parses and holds the object its name says, and
    every ownerReference names an object in the directory).

    Examples:
      movekit verify prod.tar.zst
      movekit verify fleet-bundle -o json
      movekit verify clusterctl-backup/
    """
    from movekit.bundle.clusterctl import is_clusterctl_directory
    from movekit.clusterctl_import import check_owners_resolve, clusterctl_view

    _output(output)
    if is_clusterctl_directory(path):
        with clusterctl_view(path) as rebuilt:
            check_owners_resolve(rebuilt, path)
            _emit(output, render.verify_clusterctl_json(str(path), rebuilt),
                  lambda: render.verify_clusterctl_summary(out, str(path), rebuilt))
        return
    bundle = _read(path, output)

    def text() -> None:
        out.print(render.line(f"{path}: valid movekit bundle, format {bundle.format_version}, "
                              f"{len(bundle.entries)} objects"))
        if bundle.parsed_manifest.encryption:
            out.print(render.line(f"{describe(bundle.parsed_manifest.encryption)}; verified "
                                  "without decrypting them"))
        out.print(render.line(bundle.digest))

    _emit(output, render.verify_json(str(path), bundle), text)


@app.command()
def inspect(
    path: ViewedPath,
    format: Annotated[InspectFormat, typer.Option(
        "--format", "--output", "-o", metavar="FORMAT",
        help="tree, json, yaml, dot or mermaid.")] = InspectFormat.TREE,
) -> None:
    """Show what a bundle holds: clusters, kinds, waves, exclusions, and the graph.

    A directory clusterctl move --to-directory wrote is shown as import rebuilds it from its
    ownerReferences; it has no digest, source or creation time.

    Examples:
      movekit inspect prod.tar.zst
      movekit inspect prod.tar.zst --format dot | dot -Tsvg > prod.svg
      movekit inspect clusterctl-backup/ -o json
    """
    from movekit.bundle.clusterctl import is_clusterctl_directory
    from movekit.clusterctl_import import clusterctl_view

    renderers = {"tree": render.inspect_tree, "json": render.inspect_json,
                 "yaml": render.inspect_yaml, "dot": render.inspect_dot,
                 "mermaid": render.inspect_mermaid}
    if not is_clusterctl_directory(path):
        renderers[format](out, _read(path, "text" if format == "tree" else format))
        return
    with clusterctl_view(path) as rebuilt:
        if format == "tree":
            render.inspect_tree(out, rebuilt, clusterctl=str(path))
        elif format in ("json", "yaml"):
            _emit(format, render.clusterctl_manifest(rebuilt), lambda: None)
        else:
            renderers[format](out, rebuilt)


def _print_version(asked: bool) -> None:
    if asked:
        out.print(render.line(__version__))
        raise typer.Exit()


@app.callback()
def _movekit(version: Annotated[bool, typer.Option(
        "--version", is_eager=True, callback=_print_version,
        help="Print movekit's version and exit.")] = False) -> None:
    # The group's own flags; each command's live on the command.
    pass


@app.command()
def version(output: Output = OutputFormat.TEXT) -> None:
    """Print movekit's version (as movekit --version does).

    Examples:
      movekit version
      movekit version -o json
    """
    _output(output)
    _emit(output, render.version_json(__version__), lambda: out.print(render.line(__version__)))


def _read(path: Path, output: str) -> Bundle:
    """Read and verify a bundle, with a spinner on a terminal while a big one is checked."""
    with _progress(False, output=output).phase(f"verifying {path}") as checked:
        return read_bundle(path, checked)


def _check_command_line(ctx: typer.Context) -> None:
    """Refuse, before any request, what the flags alone show cannot work."""
    flags = {param.opts[0]: _flag_value(ctx.params[param.name])
             for param in ctx.command.params
             if param.name in ctx.params and param.opts[0].startswith("--")}
    preflight.check_command_line(flags)


def _flag_value(value: Any) -> Any:
    """A flag's value as the pre-checks read it: ``--dry-run=none`` is no dry run."""
    return False if value == DryRun.NONE else value


def _refuse_flags(ctx: typer.Context, mode: str, names: tuple[str, ...]) -> None:
    """Refuse the flags among ``names`` given on the command line: ``mode`` would ignore them."""
    given = [param.opts[0] for param in ctx.command.params if param.name in names
             and _source_name(ctx, param.name) == "COMMANDLINE"]
    if given:
        raise UsageError(f"move {mode} does not use {', '.join(given)}")


def _source_name(ctx: typer.Context, name: str) -> str | None:
    """Where a parameter's value came from (typer carries its own click: compare by name)."""
    source = ctx.get_parameter_source(name)
    return source.name if source is not None else None


def _resumable(journal: Path, work: Callable[[], T]) -> T:
    """Run a move step; on Ctrl-C (or a signal, or a closed pipe), say how to continue from
    the journal."""
    try:
        return work()
    except Interrupted as interrupt:
        _interrupted(interrupt, f"continue with: movekit move --resume {journal}  "
                                f"(or undo with --rollback {journal})")


def _interrupted(interrupt: Interrupted, next_step: str | None) -> NoReturn:
    """Say on stderr why the command stopped and what to run next, if anything; exit 128 +
    the signal."""
    with contextlib.suppress(OSError, Interrupted):  # stderr gone too: the exit code says it
        err.print(render.line(f"{interrupt.reason}; {next_step}" if next_step
                              else interrupt.reason))
    sys.exit(interrupt.exit_code)


@contextlib.contextmanager
def _reported(command: str | None) -> Iterator[None]:
    """An OS error as an error (one line, no traceback), and an interruption of a command that
    running again does not resume without the hint that it would."""
    try:
        yield
    except OSError as error:  # a file the command reads or writes: its name and the reason
        raise LocalFileError(_os_error(error)) from None
    except Interrupted as interrupt:
        if command in RESUMABLE:
            raise
        _interrupted(interrupt, None)


def _os_error(error: OSError) -> str:
    """An OS error as the file it concerns and the system's reason, as ``ls`` words it."""
    reason = error.strerror or str(error)
    names = [str(name) for name in (error.filename, error.filename2) if name is not None]
    return f"{' -> '.join(names)}: {reason}" if names else reason


def _path(text: str | None) -> Path | None:
    return Path(text) if text else None


def _text(path: Path | None) -> str | None:
    return str(path.resolve()) if path else None




def _group_kind(text: str) -> GroupKind:
    kind, _, group = text.partition(".")
    return GroupKind(group, kind)


def _mount_subcommands(args: Sequence[str] | None = None) -> None:
    """Mount the command that ``args`` invoke from its ``movekit.commands`` entry point, or
    every one when they invoke none in particular (help, completion; ``None``: the docs).

    The emulator's commands live in another distribution; loading them only when asked keeps
    a normal run from importing it at all.
    """
    found = {point.name: point for point in entry_points(group=COMMANDS_GROUP)}
    invoked = args[0] if args else "-"
    if invoked.startswith("-"):
        wanted = list(found.values())
    elif invoked in found:
        wanted = [found[invoked]]
    elif invoked in EMULATOR_COMMANDS:
        raise UsageError(EMULATOR_MISSING)
    else:
        return
    mounted = {group.name for group in app.registered_groups} | {
        command.name for command in app.registered_commands}
    for point in wanted:
        if point.name in mounted:  # already, by an earlier call in this process
            continue
        try:
            command = point.load()
        except ModuleNotFoundError as missing:
            raise UsageError(EMULATOR_MISSING) from missing
        if isinstance(command, typer.Typer):
            app.add_typer(command, name=point.name)
        else:
            app.command(name=point.name)(command)


def main() -> None:
    # A reader that goes away, and SIGTERM or SIGHUP, stop a command as Ctrl-C does.
    guard_standard_streams()
    try:
        with signals_interrupt(), _reported(sys.argv[1] if sys.argv[1:] else None):
            _mount_subcommands(sys.argv[1:])
            code = run(app, sys.argv[1:], "movekit")
    except MovekitError as error:
        with contextlib.suppress(Interrupted):  # the reader went; the exit code still tells
            err.print(render.line("error:", "red") + render.line(f" {error}", message=True))
            if error.hint:
                err.print(render.line(error.hint, message=True))
            if _State.output in ("json", "yaml"):
                _emit(_State.output, render.error_json(str(error), error.exit_code),
                      lambda: None)
        sys.exit(error.exit_code)
    except Interrupted as interrupt:
        _interrupted(interrupt, "run the same command again to resume")
    sys.exit(code)
