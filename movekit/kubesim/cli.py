"""``movekit kubesim serve``: run one emulated API server as a process, until interrupted."""

from __future__ import annotations

import importlib
import signal
import threading
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer

from movekit.kubesim.sim import KubeSim

kubesim_app = typer.Typer(
    name="kubesim",
    help="kubesim, the Kubernetes API server emulator movekit's tests and demo run against.",
    no_args_is_help=True,
)


@kubesim_app.callback()
def _group() -> None:
    """kubesim, the Kubernetes API server emulator movekit's tests and demo run against."""


@kubesim_app.command()
def serve(
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1; 0 picks a free one.")] = 0,
    kubeconfig_out: Annotated[Path | None, typer.Option(
        help="Write a kubeconfig (mode 0600) for kubectl and the kubernetes client here.")] = None,
    latency_ms: Annotated[float, typer.Option(help="Latency added to every request.")] = 0.0,
    error_rate: Annotated[float, typer.Option(
        help="Fraction of requests failed with 429, 500, 503 or a dropped connection.")] = 0.0,
    tls: Annotated[bool, typer.Option(help="Serve HTTPS with a generated CA.")] = False,
    gc: Annotated[bool, typer.Option(help="Garbage-collect objects whose owners are gone.")]
    = False,
    capi_crds: Annotated[bool, typer.Option(help="Install the Cluster API CRDs of the fixtures.")]
    = False,
    capi_controllers: Annotated[bool, typer.Option(
        help="Run simulated Cluster API controllers (finalizers, paused, block-move).")] = False,
    token: Annotated[str | None, typer.Option(help="Bearer token to accept (default: random).")]
    = None,
) -> None:
    """Serve until SIGINT or SIGTERM."""
    if not 0 <= error_rate <= 1:
        raise typer.BadParameter("must be between 0 and 1", param_hint="--error-rate")
    sim = KubeSim(tls=tls, gc=gc, port=port, token=token, capi_controllers=capi_controllers)
    sim.controls.latency_ms = latency_ms
    sim.controls.error_rate = error_rate
    stopped = threading.Event()

    def stop(signum: int, frame: FrameType | None) -> None:
        stopped.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    sim.start()
    try:
        if capi_crds:
            # movekit.fixtures lives in fixtures/ of the source tree, mapped in at install time.
            fixtures = importlib.import_module("movekit.fixtures")
            names = fixtures.install_crds(sim.api_client())
            typer.echo(f"installed {len(names)} Cluster API CRDs")
        typer.echo(f"kubesim serving at {sim.url}")
        if kubeconfig_out is not None:
            sim.write_kubeconfig(kubeconfig_out)
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
