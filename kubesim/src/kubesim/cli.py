"""``movekit kubesim serve`` runs one emulated API server as a process, until interrupted;
``movekit kubesim seed`` fills any cluster (kubesim or real) with a fleet of Cluster API clusters.
"""

from __future__ import annotations

import os
import signal
import tempfile
import threading
import time
from pathlib import Path
from types import FrameType
from typing import Annotated, Any, NoReturn

import typer

from kubesim.sim import KubeSim

DEFAULT_SEED_NAMESPACE = "fleet"

# Its help is the callback's docstring, examples included.
kubesim_app = typer.Typer(name="kubesim", no_args_is_help=True)


@kubesim_app.callback()
def _group() -> None:
    """kubesim, the Kubernetes API server emulator movekit's tests and demo run against.

    Examples:
      movekit kubesim serve --tls --capi-providers --kubeconfig-out sim.yaml
      movekit kubesim seed --clusters 10 --kubeconfig sim.yaml
    """


@kubesim_app.command()
def serve(
    port: Annotated[int, typer.Option(
        metavar="PORT", help="Port on 127.0.0.1; 0 picks a free one.")] = 0,
    kubeconfig_out: Annotated[Path | None, typer.Option(
        help="Write a kubeconfig (mode 0600) for kubectl and the kubernetes client here, once "
             "the server is ready (seeded, if asked to).")] = None,
    latency_ms: Annotated[float, typer.Option(
        metavar="MS", help="Latency added to every request.")] = 0.0,
    error_rate: Annotated[float, typer.Option(
        metavar="FRACTION",
        help="Fraction of requests failed with 429, 500, 503 or a dropped connection.")] = 0.0,
    tls: Annotated[bool, typer.Option(help="Serve HTTPS with a generated CA.")] = False,
    gc: Annotated[bool, typer.Option(
        help="Run the garbage collector, as a cluster's kube-controller-manager does: objects "
             "whose owners are gone are deleted, Orphan and Foreground deletes finish.")]
    = True,
    capi_crds: Annotated[bool, typer.Option(help="Install the Cluster API CRDs of the fixtures.")]
    = False,
    capi_providers: Annotated[bool, typer.Option(
        help="Install the CRDs and the clusterctl provider inventory, as `clusterctl init` "
             "leaves them.")] = False,
    capi_controllers: Annotated[bool, typer.Option(
        help="Run simulated Cluster API controllers (finalizers, paused, block-move).")] = False,
    seed_clusters: Annotated[int, typer.Option(
        help="Seed this many workload clusters in-process before serving (implies "
             "--capi-providers).")] = 0,
    seed_machines: Annotated[int, typer.Option(help="Worker Machines per seeded cluster.")] = 2,
    seed_namespaces: Annotated[int, typer.Option(
        help="Namespaces the seeded clusters are spread over.")] = 1,
    seed_namespace: Annotated[str, typer.Option(
        metavar="NAME",
        help="Namespace of the first group of seeded clusters (the others are fleet-1, ...).")]
    = DEFAULT_SEED_NAMESPACE,
    token: Annotated[str | None, typer.Option(
        metavar="TOKEN", help="Bearer token to accept (default: random).")]
    = None,
) -> None:
    """Serve until SIGINT or SIGTERM.

    Examples:
      movekit kubesim serve --tls --kubeconfig-out sim.yaml
      movekit kubesim serve --port 6443 --seed-clusters 20 --kubeconfig-out sim.yaml
    """
    if not 0 <= port <= 65535:
        _refuse(f"--port {port}: not a port number (0 to 65535; 0 picks a free one)")
    if not 0 <= error_rate <= 1:
        _refuse(f"--error-rate {error_rate:g}: must be between 0 and 1")
    if seed_clusters < 0:
        _refuse(f"--seed-clusters {seed_clusters}: must not be negative")
    if kubeconfig_out is not None:
        _check_writable(kubeconfig_out)
    sim = KubeSim(tls=tls, gc=gc, port=port, token=token, capi_controllers=capi_controllers)
    stopped = threading.Event()

    def stop(signum: int, frame: FrameType | None) -> None:
        stopped.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        sim.start()
    except OSError as err:
        _refuse(f"--port {port}: cannot listen on 127.0.0.1:{port} ({err.strerror or err})")
    try:
        with sim.api_client() as api:
            if capi_crds or capi_providers or seed_clusters:
                typer.echo(f"installed {len(_install(api, capi_providers or bool(seed_clusters)))}"
                           " Cluster API CRDs")
            if seed_clusters:
                started = time.monotonic()
                count = _seed(api, seed_clusters, seed_machines, seed_namespaces,
                              seed_namespace, store=sim.store)
                typer.echo(f"seeded {seed_clusters} clusters ({count} objects) in "
                           f"{time.monotonic() - started:.1f}s")
        # Injected only now, so that seeding runs at full speed.
        sim.controls.latency_ms = latency_ms
        sim.controls.error_rate = error_rate
        typer.echo(f"kubesim serving at {sim.url}")
        if kubeconfig_out is not None:
            try:
                sim.write_kubeconfig(kubeconfig_out)
            except OSError as err:
                _refuse(f"--kubeconfig-out {kubeconfig_out}: cannot be written "
                        f"({err.strerror or err})")
            typer.echo(f"kubeconfig: {kubeconfig_out}")
            if not tls:
                typer.echo("note: kubectl sends no bearer token over plain HTTP; use --tls for "
                           "kubectl (the kubernetes Python client works either way)")
        else:
            typer.echo(f"token: {sim.token}")
        while not stopped.wait(0.5):
            pass
    finally:
        sim.stop()
        typer.echo("kubesim stopped")


def _check_writable(path: Path) -> None:
    """Refuse, before anything listens, a kubeconfig path that could not be written later."""
    if path.is_dir():
        _refuse(f"--kubeconfig-out {path}: is a directory")
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".kubesim-write-check-", dir=path.parent))
    except OSError as err:
        _refuse(f"--kubeconfig-out {path}: cannot write in {path.parent} "
                f"({err.strerror or err})")


def _refuse(message: str) -> NoReturn:
    """One ``error:`` line on stderr and exit 2, as movekit reports a flag it cannot use."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(2)


@kubesim_app.command()
def seed(
    clusters: Annotated[int, typer.Option(help="Workload clusters to create.")],
    kubeconfig: Annotated[Path | None, typer.Option(
        help="Kubeconfig of the cluster to seed (default: $KUBECONFIG or ~/.kube/config).")]
    = None,
    context: Annotated[str | None, typer.Option(
        metavar="NAME", help="Context in the kubeconfig to use.")] = None,
    machines: Annotated[int, typer.Option(help="Worker Machines per cluster.")] = 2,
    namespaces: Annotated[int, typer.Option(
        help="Namespaces the clusters are spread over.")] = 1,
    namespace: Annotated[str, typer.Option(
        metavar="NAME",
        help="Namespace of the first group of clusters (the others are fleet-1, ...).")]
    = DEFAULT_SEED_NAMESPACE,
    workers: Annotated[int, typer.Option(help="Objects created concurrently.")] = 16,
    random_seed: Annotated[int, typer.Option(
        "--seed", help="The same seed gives the same fleet.")] = 0,
) -> None:
    """Create a fleet of Cluster API workload clusters in any cluster.

    Installs the fixture CRDs and the clusterctl provider inventory first, then creates
    every cluster as Cluster API's controllers would have left it, owners first.

    Examples:
      movekit kubesim seed --clusters 10 --kubeconfig sim.yaml
      movekit kubesim seed --clusters 100 --namespaces 4 --namespace fleet
    """
    if clusters < 1 or machines < 0 or namespaces < 1:
        raise typer.BadParameter("needs at least one cluster and one namespace")
    from kubernetes import config as k8s_config

    api = k8s_config.new_client_from_config(  # type: ignore[no-untyped-call]
        config_file=str(kubeconfig) if kubeconfig else None, context=context)
    started = time.monotonic()
    try:
        _install(api, providers=True)
        count = _seed(api, clusters, machines, namespaces, namespace, workers=workers,
                      random_seed=random_seed)
    finally:
        api.close()
    typer.echo(f"seeded {clusters} clusters ({count} objects) in "
               f"{time.monotonic() - started:.1f}s")


def _install(api: Any, providers: bool) -> list[str]:
    """The fixture CRDs, and with ``providers`` the clusterctl inventory too."""
    from kubesim.capi import install_crds, install_providers

    names = install_crds(api)
    if providers:
        install_providers(api)
    return names


def _seed(api: Any, clusters: int, machines: int, namespaces: int, namespace: str, *,
          workers: int = 16, random_seed: int = 0, store: Any = None) -> int:
    """Seed a fleet (through ``store`` when given, else over HTTP); returns the object count."""
    from kubesim.capi.fleet import seed_fleet

    seeded = seed_fleet(api, clusters, machines, namespaces, random_seed, namespace=namespace,
                        workers=workers, store=store)
    return len(seeded.objects)
