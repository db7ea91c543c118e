"""`movekit demo` and `movekit kubesim` come from the emulator's distribution, loaded on demand."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

from movekit import __version__

# Run movekit's entry point with the given arguments in a fresh interpreter; `hide` makes
# importlib.metadata see no `movekit.commands` entry points, as when movekit-kubesim is absent.
RUN = textwrap.dedent("""
    import importlib.metadata, sys
    hide, args = sys.argv[1] == "hide", sys.argv[2:]
    if hide:
        every = importlib.metadata.entry_points
        importlib.metadata.entry_points = lambda **select: (
            importlib.metadata.EntryPoints(()) if select.get("group") == "movekit.commands"
            else every(**select))
    from movekit.cli import main
    sys.argv = ["movekit", *args]
    try:
        main()
    finally:
        print("kubesim loaded" if "kubesim" in sys.modules else "kubesim not loaded")
""")


def _movekit(*args: str, hide: bool = False) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", RUN, "hide" if hide else "show", *args],
                          capture_output=True, text=True, timeout=120, check=False)


def test_without_the_emulator_demo_and_kubesim_say_what_to_install_and_exit_2() -> None:
    for command in ("demo", "kubesim"):
        done = _movekit(command, "--help", hide=True)

        assert done.returncode == 2, done.stderr
        assert done.stderr.splitlines() == [
            "error: this command needs the emulator: pip install 'movekit[demo]'"]


def test_without_the_emulator_every_other_command_works() -> None:
    done = _movekit("version", hide=True)

    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == __version__


def test_a_normal_run_does_not_load_the_emulator() -> None:
    done = _movekit("version")

    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "kubesim not loaded"


def test_help_lists_demo_and_kubesim_and_each_loads_when_invoked() -> None:
    listed = _movekit("--help")
    served = _movekit("kubesim", "serve", "--help")

    assert listed.returncode == 0 and served.returncode == 0, listed.stderr + served.stderr
    assert " demo " in listed.stdout and " kubesim " in listed.stdout
    assert "--seed-clusters" in served.stdout


def test_the_demo_moves_its_clusters_and_prints_its_next_commands_whole_on_a_narrow_pipe() -> None:
    from kubesim.demo import TRY_NEXT_COMMANDS, TRY_NEXT_SERVE

    demo = subprocess.run([sys.executable, "-m", "movekit", "demo", "--clusters", "2"],
                          capture_output=True, text=True, timeout=300, check=False,
                          env={**os.environ, "COLUMNS": "40"})

    assert demo.returncode == 0, demo.stderr
    assert "…" not in demo.stdout
    lines = [line.strip() for line in demo.stdout.splitlines()]
    assert "Cluster wl-0000 in the target: reconciling" in lines
    assert "no infrastructure was deleted by a provider in the source: True" in lines
    for command in (TRY_NEXT_SERVE, *TRY_NEXT_COMMANDS):
        assert command in lines, f"not one whole line: {command}"
