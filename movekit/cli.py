"""The ``movekit`` command line: parse flags, call the library, render. No logic lives here."""

from __future__ import annotations

import typer

from movekit import __version__

app = typer.Typer(
    name="movekit",
    help="Move Cluster API objects between management clusters through a verifiable bundle.",
    no_args_is_help=True,
)


@app.command()
def version() -> None:
    """Print movekit's version."""
    typer.echo(__version__)


def main() -> None:
    app()
