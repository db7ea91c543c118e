"""``movekit demo``: a real move between two embedded API servers, told in under a minute.

The one module of kubesim that drives movekit (through its Python API); movekit finds it
through the ``movekit.commands`` entry point, and the emulator itself never imports movekit.
"""

from __future__ import annotations

import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from kubesim import KubeSim
from kubesim.capi.fleet import seed_fleet
from kubesim.capi.install import install_crds, install_providers
from kubesim.controllers import CapiControllers
from movekit import render
from movekit.bundle import ObjectEntry, read_bundle
from movekit.journal import ClusterAccess
from movekit.kube import KubeClient
from movekit.model import Selection
from movekit.mover import MoveOptions, move
from movekit.progress import ConsoleReporter


def demo(
    clusters: Annotated[int, typer.Option(help="Workload clusters to seed in the source.")] = 3,
    namespace: Annotated[str, typer.Option(
        metavar="NAME", help="Namespace the clusters live in.")] = "prod",
) -> None:
    """Seed a source management cluster, move it to a target, and show both sides.

    Examples:
      movekit demo
      movekit demo --clusters 10 --namespace prod
    """
    out = Console(highlight=False, soft_wrap=True)  # lines whole: commands stay copyable
    started = time.monotonic()
    with KubeSim() as source, KubeSim() as target, tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        src_cfg, dst_cfg = work / "source.yaml", work / "target.yaml"
        source.write_kubeconfig(src_cfg)
        target.write_kubeconfig(dst_cfg)

        _heading(out, "1. a bootstrap management cluster and an empty target")
        for sim in (source, target):
            with sim.api_client() as api:
                install_crds(api)
                install_providers(api)
        with source.api_client() as api, ConsoleReporter().phase(
                f"seeding {clusters} workload clusters in the source"):
            seeded = seed_fleet(api, clusters, namespace=namespace)
        controllers = CapiControllers(source)  # they add finalizers and honour pause, as CAPI's
        controllers.start()
        out.print(f"source {source.url}: Cluster API installed, {clusters} workload clusters "
                  f"({len(seeded.objects)} objects) in namespace {namespace}")
        out.print(f"target {target.url}: Cluster API installed, no clusters")

        selection = Selection(namespace=namespace)
        access = (ClusterAccess(str(src_cfg), None, source.url),
                  ClusterAccess(str(dst_cfg), None, target.url))
        with KubeClient(src_cfg) as src, KubeClient(dst_cfg) as dst:
            _heading(out, "2. the plan (movekit move --dry-run)")
            plan = move(src, dst, MoveOptions(selection=selection, dry_run=True), access)
            render.move_preview(out, plan.preview)

            _heading(out, "3. the move (movekit move)")
            result = move(src, dst, MoveOptions(selection=selection,
                                                journal=work / "move.journal.json"),
                          access, ConsoleReporter(interactive=False))
            assert result.journal is not None
            render.move_summary(out, result.journal, result.retired)

            _heading(out, "4. both sides now")
            bundle = read_bundle(Path(result.journal.bundle_path))
            _show_sides(out, src, dst, bundle.entries)
        controllers.stop()
        out.print(f"no infrastructure was deleted by a provider in the source: "
                  f"{not controllers.infra_deleted}")
        _heading(out, f"done in {time.monotonic() - started:.1f}s")
        out.print(TRY_NEXT)


# What the demo suggests next: each line is a command that works as printed (a test parses
# every `movekit` line with the real command line).
TRY_NEXT_SERVE = ("movekit kubesim serve --tls --port 6443 --kubeconfig-out /tmp/src.yaml "
                  "--seed-clusters 5")
TRY_NEXT_COMMANDS = (
    "movekit export --kubeconfig /tmp/src.yaml -n fleet --leave-paused --to-directory bundle/",
    "movekit verify bundle/",
    "movekit inspect bundle/",
    "movekit resume-source --kubeconfig /tmp/src.yaml --from-directory bundle/",
    "movekit move --help",
)
TRY_NEXT = (
    "Try next, with the venv activated (. .venv/bin/activate):\n"
    "  a cluster to play with; it serves until Ctrl-C:\n"
    f"    {TRY_NEXT_SERVE}\n"
    "  then, in a second terminal:\n"
    + "".join(f"    {command}\n" for command in TRY_NEXT_COMMANDS)
    + "  and the how-to guides in docs/howto/."
)


def _heading(out: Console, title: str) -> None:
    """A rule with ``title`` in it where the width allows; else the title alone, never cut."""
    if len(title) + 6 <= out.width:
        out.rule(title)
    else:
        out.print(f"── {title}")


def _show_sides(out: Console, src: KubeClient, dst: KubeClient,
                entries: list[ObjectEntry]) -> None:
    counts: dict[str, Counter[str]] = {"source": Counter(), "target": Counter()}
    paused = []
    for entry in entries:
        for side, client in (("source", src), ("target", dst)):
            res = client.resource(entry.api_version, entry.ref.kind)
            live = client.get(res, entry.ref.namespace, entry.ref.name) if res else None
            if live is not None:
                counts[side][str(entry.ref.group_kind)] += 1
                if side == "target" and entry.ref.kind == "Cluster":
                    paused.append((entry.ref.name, (live.get("spec") or {}).get("paused")))
    render.table(out, ("kind", "source", "target"),
                 ([kind, counts["source"][kind], counts["target"][kind]]
                  for kind in sorted(set(counts["source"]) | set(counts["target"]))))
    for name, state in paused:
        out.print(f"Cluster {name} in the target: {'paused' if state else 'reconciling'}")
