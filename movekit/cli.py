"""The ``movekit`` command line: parse flags, call the library, render. No logic lives here."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Sequence
from importlib.metadata import entry_points
from pathlib import Path
from typing import Annotated, Any, NoReturn, TypeVar

import typer
from rich.console import Console

from movekit import render
from movekit.apply import DEFAULT_WORKERS, ApplyOptions
from movekit.bundle import read_bundle
from movekit.bundle.encryption import SecretKeys, describe
from movekit.contract import BLOCK_MOVE_ANNOTATION
from movekit.errors import MovekitError, UsageError
from movekit.export import ExportOptions, export_bundle
from movekit.importer import ImportOptions, import_from_path
from movekit.interrupt import Interrupted, guard_standard_streams, signals_interrupt
from movekit.kube import DEFAULT_BURST, DEFAULT_QPS, KubeClient
from movekit.model import ConflictPolicy, Layout, Selection
from movekit.mover import DEFAULT_RETIRE_TIMEOUT
from movekit.plan import PlanOptions
from movekit.progress import QUIET, ConsoleReporter
from movekit.refs import GroupKind
from movekit.version import __version__

app = typer.Typer(
    name="movekit",
    help="Move Cluster API objects between management clusters through a verifiable bundle.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
# Every line is a rich Text built by render.line; markup and emoji codes stay off regardless.
out = Console(highlight=False, soft_wrap=True, markup=False, emoji=False)
err = Console(stderr=True, highlight=False, soft_wrap=True, markup=False, emoji=False)

Kubeconfig = Annotated[Path | None, typer.Option(
    "--kubeconfig", help="Kubeconfig of the cluster (default: $KUBECONFIG or ~/.kube/config).")]
Context = Annotated[str | None, typer.Option(
    "--context", "--kubeconfig-context", help="Context in the kubeconfig to use.")]
Qps = Annotated[float, typer.Option(
    "--qps", help="Client-side request rate limit per second (0: no limit).")]
Burst = Annotated[int, typer.Option("--burst", help="Requests allowed above --qps in a burst.")]
RetireTimeout = Annotated[float, typer.Option(
    help="Seconds to wait for retired objects to leave the source (the garbage collector "
         "finishes their deletion) before giving up with exit code 7; running again continues.")]
BundleDirectory = Annotated[Path | None, typer.Option(help="The bundle, as a directory.")]
BundleArchive = Annotated[Path | None, typer.Option(help="The bundle, as a .tar.zst file.")]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="Show only the result and errors.")]
Verbose = Annotated[int, typer.Option("--verbose", "-v", count=True,
                                      help="Show more (-v: details, -vv: every request step).")]
Output = Annotated[str, typer.Option("--output", "-o", help="text, json or yaml.")]
OUTPUTS = ("text", "json", "yaml")
T = TypeVar("T")
# Commands other distributions add; movekit-kubesim brings `demo` and `kubesim`.
COMMANDS_GROUP = "movekit.commands"
EMULATOR_COMMANDS = ("demo", "kubesim")
EMULATOR_MISSING = "this command needs the emulator: pip install 'movekit[demo]'"


class _State:
    """The current command's output format, so that errors are rendered in it too."""

    output = "text"


def _output(output: str) -> str:
    if output not in OUTPUTS:
        raise UsageError(f"--output must be one of {', '.join(OUTPUTS)}")
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
    to_directory: Annotated[Path | None, typer.Option(help="Write the bundle as a directory.")] = None,
    to_archive: Annotated[Path | None, typer.Option(help="Write the bundle as a .tar.zst file.")] = None,
    namespace: Annotated[str | None, typer.Option("--namespace", "-n",
                                                  help="Namespace to export (default: default).")] = None,
    all_namespaces: Annotated[bool, typer.Option("--all-namespaces", "-A",
                                                 help="Export from every namespace.")] = False,
    cluster: Annotated[list[str] | None, typer.Option(
        help="Export only this Cluster and what it needs (repeatable).")] = None,
    kubeconfig: Kubeconfig = None,
    context: Context = None,
    dry_run: Annotated[bool, typer.Option(help="Show what would be exported; write nothing.")] = False,
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
        help=f"Seconds to wait for {BLOCK_MOVE_ANNOTATION} to clear.")] = 300.0,
    encrypt_to: Annotated[list[str] | None, typer.Option(
        "--encrypt-to", help="Encrypt Secret values to this age recipient (age1..., repeatable).")] = None,
    passphrase_file: Annotated[Path | None, typer.Option(
        help="Encrypt Secret values with the passphrase on this file's first line.")] = None,
    qps: Qps = DEFAULT_QPS,
    burst: Burst = DEFAULT_BURST,
    output: Output = "text",
    quiet: Quiet = False,
    verbose: Verbose = 0,
) -> None:
    """Export Cluster API objects from a cluster into a bundle."""
    _output(output)
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
          lambda: render.export_summary(out, result, dry_run=options.dry_run))


AllowNamespace = Annotated[list[str] | None, typer.Option(
    help="Also allow writing in this target namespace: outside the bundle's selection, a system "
         "namespace or one of the target's provider namespaces (repeatable).")]
AllowSecretType = Annotated[list[str] | None, typer.Option(
    help="Also allow Secrets of this type that grant API access, such as "
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
    from_directory: Annotated[Path | None, typer.Option(
        help="Read the bundle from a directory (or one clusterctl move --to-directory wrote).")] = None,
    from_archive: Annotated[Path | None, typer.Option(help="Read the bundle from a .tar.zst file.")] = None,
    kubeconfig: Kubeconfig = None,
    context: Context = None,
    dry_run: Annotated[bool, typer.Option(help="Print the plan; write nothing.")] = False,
    expect_digest: Annotated[str | None, typer.Option(
        help="Refuse the bundle unless its digest is this sha256:... value.")] = None,
    conflict: Annotated[str, typer.Option(
        help=f"What to do with foreign objects already in the target: {', '.join(ConflictPolicy)}.")] = "fail",
    namespace_map: Annotated[list[str] | None, typer.Option(
        help="Import namespace OLD as NEW (OLD=NEW, repeatable).")] = None,
    skip_provider_check: Annotated[bool, typer.Option(
        help="Import even when the target's providers are missing or older.")] = False,
    allow_kind: Annotated[list[str] | None, typer.Option(
        help="Also allow importing this Kind.group (repeatable).")] = None,
    allow_namespace: AllowNamespace = None,
    allow_secret_type: AllowSecretType = None,
    allow_pod_security_labels: AllowPodSecurityLabels = False,
    allow_active_source: AllowActiveSource = False,
    leave_paused: Annotated[bool, typer.Option(
        help="Leave imported Clusters and ClusterClasses paused.")] = False,
    identity: Annotated[list[Path] | None, typer.Option(
        help="age identity file (as age-keygen writes it) that decrypts the bundle's Secrets (repeatable).")] = None,
    passphrase_file: Annotated[Path | None, typer.Option(
        help="Decrypt the bundle's Secrets with the passphrase on this file's first line.")] = None,
    workers: Annotated[int, typer.Option(help="Objects created concurrently within a wave.")] = DEFAULT_WORKERS,
    qps: Qps = DEFAULT_QPS,
    burst: Burst = DEFAULT_BURST,
    output: Output = "text",
    quiet: Quiet = False,
    verbose: Verbose = 0,
) -> None:
    """Import a bundle into a cluster: verify, plan, then create in dependency order."""
    _output(output)
    path, _ = _bundle_path(from_directory, from_archive, "from")
    policy = _conflict(conflict)
    mapping = _namespace_map(namespace_map or [])
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
          lambda: render.import_summary(out, result, dry_run=options.dry_run))


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
    to_kubeconfig: Annotated[Path | None, typer.Option(help="Kubeconfig of the target cluster.")] = None,
    to_context: Annotated[str | None, typer.Option(
        "--to-context", "--to-kubeconfig-context", help="Context in the target kubeconfig.")] = None,
    namespace: Annotated[str | None, typer.Option("--namespace", "-n",
                                                  help="Namespace to move (default: default).")] = None,
    all_namespaces: Annotated[bool, typer.Option("--all-namespaces", "-A",
                                                 help="Move every namespace.")] = False,
    cluster: Annotated[list[str] | None, typer.Option(
        help="Move only this Cluster and what it needs (repeatable).")] = None,
    kubeconfig: Kubeconfig = None,
    context: Context = None,
    to_directory: Annotated[Path | None, typer.Option(
        help="Only export, to this directory, as clusterctl move --to-directory does (a movekit "
             "bundle; with --clusterctl-layout, clusterctl's own files).")] = None,
    clusterctl_layout: Annotated[bool, typer.Option(
        "--clusterctl-layout", help="With --to-directory: write clusterctl's layout.")] = False,
    from_directory: Annotated[Path | None, typer.Option(
        help="Only import from this directory (as clusterctl move --from-directory).")] = None,
    allow_namespace: AllowNamespace = None,
    allow_secret_type: AllowSecretType = None,
    allow_pod_security_labels: AllowPodSecurityLabels = False,
    allow_active_source: AllowActiveSource = False,
    journal: Annotated[Path | None, typer.Option(
        help="Journal file (default: ./movekit-move-<time>.journal.json).")] = None,
    resume_journal: Annotated[Path | None, typer.Option(
        "--resume", help="Continue the move recorded in this journal.")] = None,
    rollback_journal: Annotated[Path | None, typer.Option(
        "--rollback", help="Undo the move recorded in this journal.")] = None,
    dry_run: Annotated[bool, typer.Option(help="Run every check and show the plan; change nothing.")] = False,
    force: Annotated[bool, typer.Option(help="Move even when not fully provisioned.")] = False,
    no_rollback: Annotated[bool, typer.Option(
        "--no-rollback", help="On failure, leave things as they are for --resume.")] = False,
    conflict: Annotated[str, typer.Option(
        help=f"Objects already in the target and not from this move: {', '.join(ConflictPolicy)}.")] = "fail",
    block_move_timeout: Annotated[float, typer.Option(
        help=f"Seconds to wait for {BLOCK_MOVE_ANNOTATION} to clear.")] = 300.0,
    retire_timeout: RetireTimeout = DEFAULT_RETIRE_TIMEOUT,
    workers: Annotated[int, typer.Option(help="Objects created concurrently within a wave.")] = DEFAULT_WORKERS,
    qps: Qps = DEFAULT_QPS,
    burst: Burst = DEFAULT_BURST,
    output: Output = "text",
    quiet: Quiet = False,
    verbose: Verbose = 0,
) -> None:
    """Move Cluster API objects from one cluster to another: export, import, retire the source."""
    from movekit.journal import ClusterAccess, Journal
    from movekit.mover import MoveOptions, default_journal_path, move, resume, rollback

    _output(output)
    say = _progress(quiet, verbose, output)
    policy = _conflict(conflict)
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
            retired = _resumable(record.path, lambda: resume(record, src, dst, MoveOptions(
                selection=Selection(namespace=None), workers=workers, conflict=policy,
                block_move_timeout=block_move_timeout, retire_timeout=retire_timeout,
                force=force, allow_namespaces=namespaces, allow_secret_types=secret_types), say))
        _emit(output, render.move_json(record, retired),
              lambda: render.move_summary(out, record, retired))
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
            render.export_summary(out, result.preview, dry_run=True)
            out.print(render.line("dry run: the target can take this move; nothing was changed"))
        else:
            render.move_summary(out, result.journal, result.retired)

    _emit(output, render.move_json(result.journal, result.retired, result.preview), text)


@app.command()
def retire(
    from_directory: BundleDirectory = None,
    from_archive: BundleArchive = None,
    kubeconfig: Kubeconfig = None,
    context: Context = None,
    to_kubeconfig: Annotated[Path | None, typer.Option(
        help="Kubeconfig of the target the bundle was imported into: retire checks it holds "
             "every object first.")] = None,
    to_context: Annotated[str | None, typer.Option(
        "--to-context", "--to-kubeconfig-context", help="Context in the target kubeconfig.")] = None,
    expect_digest: Annotated[str | None, typer.Option(
        help="Refuse the bundle unless its digest is this sha256:... value.")] = None,
    dry_run: Annotated[bool, typer.Option(
        help="Show what would be deleted, kept and left alone; change nothing.")] = False,
    force: Annotated[bool, typer.Option(
        help="Retire without checking that the source is paused and the target holds the "
             "bundle's objects.")] = False,
    identity: Annotated[list[Path] | None, typer.Option(
        help="age identity file that decrypts the bundle's Secrets, to compare them with the "
             "target's (repeatable).")] = None,
    passphrase_file: Annotated[Path | None, typer.Option(
        help="Decrypt the bundle's Secrets with the passphrase on this file's first line.")] = None,
    retire_timeout: RetireTimeout = DEFAULT_RETIRE_TIMEOUT,
    output: Output = "text",
    quiet: Quiet = False,
    verbose: Verbose = 0,
) -> None:
    """Delete from the source exactly the objects a bundle recorded (last step of an air-gapped move)."""
    from movekit.importer import load_verified
    from movekit.mover import RetireOptions, retire_bundle

    _output(output)
    bundle = load_verified(_bundle_path(from_directory, from_archive, "from")[0], expect_digest)
    options = RetireOptions(dry_run=dry_run, force=force, timeout=retire_timeout,
                            keys=SecretKeys(tuple(identity or ()), passphrase_file))
    say = _progress(quiet, verbose, output)
    with KubeClient(kubeconfig, context) as src:
        if to_kubeconfig is None:
            result = retire_bundle(src, bundle, options, None, say)
        else:
            with KubeClient(to_kubeconfig, to_context) as dst:
                result = retire_bundle(src, bundle, options, dst, say)
    _emit(output, render.retire_json(result), lambda: render.retire_summary(out, result))


@app.command("resume-source")
def resume_source(
    from_directory: BundleDirectory = None,
    from_archive: BundleArchive = None,
    kubeconfig: Kubeconfig = None,
    context: Context = None,
    output: Output = "text",
) -> None:
    """Unpause the source after export --leave-paused (abort an air-gapped move)."""
    from movekit.mover import resume_source as unpause

    _output(output)
    bundle = read_bundle(_bundle_path(from_directory, from_archive, "from")[0])
    with KubeClient(kubeconfig, context) as src:
        resumed = unpause(src, bundle.entries)
    _emit(output, render.resumed_json(resumed), lambda: render.resumed_summary(out, resumed))


@app.command()
def verify(
    path: Annotated[Path, typer.Argument(help="Bundle directory or .tar.zst archive.")],
    output: Output = "text",
) -> None:
    """Verify a bundle offline: format, schema, checksums, files. Prints its digest."""
    _output(output)
    bundle = read_bundle(path)

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
    path: Annotated[Path, typer.Argument(help="Bundle directory or .tar.zst archive.")],
    format: Annotated[str, typer.Option(
        "--format", "--output", "-o", help="tree, json, yaml, dot or mermaid.")] = "tree",
) -> None:
    """Show what a bundle holds: clusters, kinds, waves, exclusions, and the graph."""
    bundle = read_bundle(path)
    renderers = {"tree": render.inspect_tree, "json": render.inspect_json,
                 "yaml": render.inspect_yaml, "dot": render.inspect_dot,
                 "mermaid": render.inspect_mermaid}
    if format not in renderers:
        raise UsageError(f"--format must be one of {', '.join(renderers)}")
    renderers[format](out, bundle)


@app.command()
def version(output: Output = "text") -> None:
    """Print movekit's version."""
    _output(output)
    _emit(output, {"apiVersion": render.OUTPUT_API_VERSION, "kind": "Version",
                   "version": __version__}, lambda: out.print(render.line(__version__)))


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


def _interrupted(interrupt: Interrupted, next_step: str) -> NoReturn:
    """Say on stderr why the command stopped and what to run next; exit 128 + the signal."""
    with contextlib.suppress(OSError, Interrupted):  # stderr gone too: the exit code says it
        err.print(render.line(f"{interrupt.reason}; {next_step}"))
    sys.exit(interrupt.exit_code)


def _path(text: str | None) -> Path | None:
    return Path(text) if text else None


def _text(path: Path | None) -> str | None:
    return str(path.resolve()) if path else None


def _namespace_map(pairs: list[str]) -> dict[str, str]:
    mapping = {}
    for pair in pairs:
        old, sep, new = pair.partition("=")
        if not sep or not old or not new:
            raise UsageError(f"--namespace-map wants OLD=NEW, got {pair!r}")
        mapping[old] = new
    return mapping


def _conflict(text: str) -> ConflictPolicy:
    if text not in tuple(ConflictPolicy):
        raise UsageError(f"--conflict must be one of {', '.join(ConflictPolicy)}")
    return ConflictPolicy(text)


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
    for point in wanted:
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
        with signals_interrupt():
            _mount_subcommands(sys.argv[1:])
            app()
    except MovekitError as error:
        with contextlib.suppress(Interrupted):  # the reader went; the exit code still tells
            err.print(render.line("error:", "red") + render.line(f" {error}", message=True))
            if _State.output in ("json", "yaml"):
                _emit(_State.output, render.error_json(str(error), error.exit_code),
                      lambda: None)
        sys.exit(error.exit_code)
    except Interrupted as interrupt:
        _interrupted(interrupt, "run the same command again to resume")
