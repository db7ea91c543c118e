"""``movekit demo``: a real move between two embedded API servers, told in under a minute."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from movekit import render
from movekit.bundle import read_bundle
from movekit.export import ExportOptions, export_bundle
from movekit.graph import Selection
from movekit.importer import ImportOptions, import_bundle
from movekit.kube import KubeClient


def demo(
    clusters: Annotated[int, typer.Option(help="Workload clusters to seed in the source.")] = 3,
    namespace: Annotated[str, typer.Option(help="Namespace the clusters live in.")] = "prod",
) -> None:
    """Seed a source management cluster, export it, import it into a target, show the result."""
    from movekit.fixtures import install_crds, install_providers
    from movekit.fixtures.fleet import seed_fleet
    from movekit.kubesim import KubeSim

    out = Console(highlight=False)
    started = time.monotonic()
    with KubeSim() as source, KubeSim() as target, tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        src_cfg, dst_cfg = work / "source.yaml", work / "target.yaml"
        source.write_kubeconfig(src_cfg)
        target.write_kubeconfig(dst_cfg)
        out.rule("1. two management clusters")
        for sim in (source, target):
            with sim.api_client() as api:
                install_crds(api)
                install_providers(api)
        out.print(f"source {source.url}, target {target.url}: Cluster API CRDs and providers "
                  "installed")
        with source.api_client() as api:
            seeded = seed_fleet(api, clusters, namespace=namespace)
        out.print(f"seeded {clusters} workload clusters ({len(seeded.objects)} objects) "
                  f"in namespace {namespace} of the source")

        selection = Selection(namespace=namespace)
        bundle_dir = work / "bundle"
        with KubeClient(src_cfg) as src:
            out.rule("2. what would move (export --dry-run)")
            plan = export_bundle(src, ExportOptions(selection=selection, target=None,
                                                    dry_run=True))
            render.export_summary(out, plan, dry_run=True)
            out.rule("3. export")
            result = export_bundle(src, ExportOptions(selection=selection, target=bundle_dir))
            render.export_summary(out, result, dry_run=False)
        bundle = read_bundle(bundle_dir)
        out.print(f"verified offline: {len(bundle.entries)} objects, digest {bundle.digest}")

        with KubeClient(dst_cfg) as dst:
            out.rule("4. import into the target")
            imported = import_bundle(dst, bundle_dir, ImportOptions(),
                                     lambda msg: out.print(f"[dim]{msg}[/dim]"))
            render.import_summary(out, imported, dry_run=False)
            out.rule("5. run it again: nothing is created twice")
            again = import_bundle(dst, bundle_dir, ImportOptions())
            render.import_summary(out, again, dry_run=False)
        out.rule(f"done in {time.monotonic() - started:.1f}s")
        out.print("Try next:\n"
                  "  movekit kubesim serve --port 6443 --kubeconfig-out /tmp/sim.yaml --capi-crds\n"
                  "  movekit export --help   movekit import --help   movekit inspect --help")
