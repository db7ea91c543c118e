"""Running movekit in-process, as its entry point does: no child interpreter to start."""

from __future__ import annotations

import sys

import pytest

from movekit import cli


def movekit(*args: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
            columns: int | None = None) -> tuple[int, str, str]:
    """``movekit ARGS`` through ``cli.main``: its exit code, stdout and stderr."""
    monkeypatch.setattr(sys, "argv", ["movekit", *args])
    monkeypatch.setattr(sys, "stdout", sys.stdout)  # main guards them; put them back after
    monkeypatch.setattr(sys, "stderr", sys.stderr)
    monkeypatch.setattr(cli._State, "output", "text")
    if columns is not None:
        monkeypatch.setenv("COLUMNS", str(columns))
    capsys.readouterr()
    with pytest.raises(SystemExit) as exited:
        cli.main()
    captured = capsys.readouterr()
    return int(exited.value.code or 0), captured.out, captured.err
