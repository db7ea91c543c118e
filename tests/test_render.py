"""What the operator reads: tables and trees keep every name whole at any width, and progress
says what its numbers are. Commands end to end are in tests/scenarios/test_output.py."""

from __future__ import annotations

import io
import time

import pytest
from rich.console import Console

from movekit import render
from movekit.graph import wave_text, waves_text
from movekit.progress import NORMAL, QUIET, ConsoleReporter
from movekit.refs import ObjectRef

LONG_NAME = "n" * 240 + "-end-of-name"  # 252 characters: DNS-1123 subdomains stop at 253
LONG_KIND = "VeryLongInfrastructureMachineTemplateKindFromAProviderWithAWordyName"
WIDTHS = (40, 60, 120)


def _console(width: int | None, *, terminal: bool, soft_wrap: bool) -> tuple[Console, io.StringIO]:
    """A console as cli.py or the demo makes one: a terminal of ``width`` columns, or a pipe."""
    buffer = io.StringIO()
    return Console(file=buffer, width=width, force_terminal=terminal, soft_wrap=soft_wrap,
                   highlight=False, markup=False, emoji=False, color_system=None), buffer


# Every way movekit's output is seen: terminals of several widths (COLUMNS=40, 60, 120) and a
# pipe (no terminal, rich's default width), each with the CLI's soft_wrap console and the
# demo's wrapping one.
CONSOLES = [pytest.param(width, terminal, soft_wrap,
                         id=f"{'tty' if terminal else 'piped'}-{width}-"
                            f"{'soft' if soft_wrap else 'wrap'}")
            for width in WIDTHS for terminal in (True, False) for soft_wrap in (True, False)]


def _refs() -> list[ObjectRef]:
    cluster = ObjectRef("cluster.x-k8s.io", "Cluster", "prod", "c1")
    return [cluster,
            ObjectRef("infrastructure.example.io", LONG_KIND, "prod", LONG_NAME),
            ObjectRef("", "Secret", "prod", LONG_NAME + "x"),
            ObjectRef("infrastructure.example.io", LONG_KIND, "", "global-" + LONG_NAME[:200])]


@pytest.mark.parametrize(("width", "terminal", "soft_wrap"), CONSOLES)
def test_a_table_keeps_every_cell_whole_on_its_row(width: int, terminal: bool,
                                                   soft_wrap: bool) -> None:
    out, buffer = _console(width, terminal=terminal, soft_wrap=soft_wrap)
    rows = [(f"{r.kind}.{r.group}", r.name, 7) for r in _refs()]

    render.table(out, ("kind", "name", "objects"), rows)

    lines = buffer.getvalue().splitlines()
    assert len(lines) == 1 + len(rows)
    assert "…" not in buffer.getvalue()
    for shown, (kind, name, count) in zip(lines[1:], rows, strict=True):
        assert kind in shown and name in shown and shown.endswith(str(count))


@pytest.mark.parametrize(("width", "terminal", "soft_wrap"), CONSOLES)
def test_a_tree_keeps_each_object_and_its_action_whole_on_one_line(
    width: int, terminal: bool, soft_wrap: bool
) -> None:
    out, buffer = _console(width, terminal=terminal, soft_wrap=soft_wrap)
    cluster, *rest = _refs()
    nodes = [render.TreeNode(cluster, (), "-> create (wave 0)")]
    nodes += [render.TreeNode(ref, (cluster,), f"-> adopt (wave {wave})")
              for wave, ref in enumerate(rest, start=1)]

    render._print_tree(out, render.object_tree("plan for " + "sha256:" + "a" * 64, nodes))

    text = buffer.getvalue()
    assert "…" not in text
    lines = text.splitlines()
    assert len(lines) == 1 + len(nodes)
    for node, shown in zip(nodes, lines[1:], strict=True):
        assert f"{node.ref.kind}/{node.ref.name}" in shown and shown.endswith(node.note)


def test_a_tree_falls_back_to_ascii_guides_where_the_output_cannot_encode_them() -> None:
    raw = io.BytesIO()
    out = Console(file=io.TextIOWrapper(raw, encoding="ascii"), width=40, soft_wrap=True,
                  highlight=False, markup=False, emoji=False)
    cluster, *rest = _refs()

    # Raises UnicodeEncodeError if a box-drawing guide got through.
    render._print_tree(out, render.object_tree(
        "objects", [render.TreeNode(cluster, ()), *(render.TreeNode(r, (cluster,)) for r in rest)]))

    out.file.flush()
    shown = raw.getvalue().decode("ascii")
    assert "`-- " in shown and LONG_NAME in shown


@pytest.mark.parametrize(("count", "said"), [(0, "0 waves"), (1, "1 wave (0)"),
                                             (4, "4 waves (0-3)")])
def test_waves_are_counted_from_0_as_the_manifest_numbers_them(count: int, said: str) -> None:
    assert waves_text(count) == said
    if count:
        assert wave_text(count - 1, count) == f"wave {count - 1} of 0-{count - 1}"


def _recording_reporter(verbosity: int = NORMAL) -> tuple[ConsoleReporter, Console]:
    reporter = ConsoleReporter(verbosity=verbosity, stream=io.StringIO(), interactive=True)
    reporter.console = Console(file=io.StringIO(), force_terminal=True, record=True, width=160,
                               highlight=False, markup=False, emoji=False)
    return reporter, reporter.console


def test_a_progress_bar_labels_its_elapsed_and_remaining_times() -> None:
    reporter, console = _recording_reporter()

    with reporter.task("importing", 10) as counted:
        counted.note(wave_text(0, 2))
        counted(4)

    shown = console.export_text()
    assert "importing (wave 0 of 0-1)" in shown
    assert "4/10" in shown
    assert "elapsed 0:00:0" in shown
    assert "eta " in shown


def test_a_phase_shows_a_spinner_with_its_running_count_on_a_terminal_only() -> None:
    reporter, console = _recording_reporter()
    with reporter.phase("discovering kinds and objects") as counted:
        counted("1204 objects read")
        time.sleep(0.3)  # the spinner redraws a dozen times a second
    assert "discovering kinds and objects: 1204 objects read" in console.export_text()

    for interactive, verbosity in ((False, NORMAL), (True, QUIET)):
        stream = io.StringIO()
        quiet = ConsoleReporter(verbosity=verbosity, stream=stream, interactive=interactive)
        with quiet.phase("discovering kinds and objects") as counted:
            counted("1204 objects read")
        assert stream.getvalue() == ""
