"""The shell commands the README and the how-to guides show, read from the pages, and the real
command line parser to check them with.

A page's shell command blocks are its fenced blocks marked ``sh`` (or ``bash``, ``shell``). Each
one is either run by ``tests/scenarios/test_doc_flows.py`` against two clusters, or preceded by
``<!-- not run in CI: REASON -->``; every ``movekit`` command in it is parsed in any case.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import typer.main

ROOT = Path(__file__).resolve().parents[1]
# The pages a user follows step by step.
PAGES = ("README.md", *sorted(p.relative_to(ROOT).as_posix()
                              for p in (ROOT / "docs" / "howto").glob("*.md")))
SHELL_FENCES = frozenset({"sh", "bash", "shell"})
MOVEKIT = ("movekit", ".venv/bin/movekit")
NOT_RUN = re.compile(r"^<!-- not run in CI: (?P<reason>.*?) -->$")
_FENCE = re.compile(r"^```(?P<lang>[\w-]*)\s*$")


@dataclass(frozen=True)
class Command:
    line: int  # where it starts on the page, 1-based
    text: str  # continuation lines joined, the comment left off
    argv: tuple[str, ...]

    @property
    def is_movekit(self) -> bool:
        return bool(self.argv) and self.argv[0] in MOVEKIT


@dataclass(frozen=True)
class Block:
    page: str
    line: int  # the opening fence, 1-based
    commands: tuple[Command, ...]
    not_run: str | None  # the reason given, when the block is marked not run in CI

    @property
    def where(self) -> str:
        return f"{self.page}:{self.line}"


def shell_blocks(page: str) -> list[Block]:
    """Every shell command block of ``page`` (relative to the repository), in page order."""
    lines = (ROOT / page).read_text(encoding="utf-8").splitlines()
    blocks: list[Block] = []
    index = 0
    while index < len(lines):
        opening = _FENCE.match(lines[index])
        if opening is None:
            index += 1
            continue
        end = next((i for i in range(index + 1, len(lines)) if lines[i].startswith("```")),
                   len(lines))
        if opening["lang"] in SHELL_FENCES:
            marker = NOT_RUN.match(lines[index - 1].strip()) if index else None
            blocks.append(Block(page, index + 1, tuple(_commands(lines[index + 1:end],
                                                                 index + 2)),
                                marker["reason"] if marker else None))
        index = end + 1
    return blocks


def _commands(lines: Sequence[str], first: int) -> Iterator[Command]:
    pending: list[str] = []
    start = first
    for number, raw in enumerate(lines, first):
        if not pending:
            start = number
        if raw.rstrip().endswith("\\"):
            pending.append(raw.rstrip()[:-1])
            continue
        pending.append(raw)
        text = " ".join(part.strip() for part in pending).strip()
        pending = []
        if text and not text.startswith("#"):
            yield Command(start, text, tuple(shlex.split(text, comments=True)))


def indented_movekit_lines(page: str) -> list[int]:
    """Lines of ``page`` outside fenced blocks that are indented like a Markdown code block and
    start a ``movekit`` command: such a command would escape the checks."""
    found: list[int] = []
    fenced = False
    for number, line in enumerate((ROOT / page).read_text(encoding="utf-8").splitlines(), 1):
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced and line.startswith("    ") and line.split()[0] in MOVEKIT:
            found.append(number)
    return found


def cli_root() -> Any:
    """movekit's command, as ``movekit`` runs it (with the emulator's commands mounted)."""
    from movekit.docgen import _mounted_app

    return typer.main.get_command(_mounted_app())


def parse(argv: Sequence[str]) -> Any:
    """Parse ``movekit ARGV`` with the real parser, down to the command it names, without
    running it. Returns the innermost context; raises what the parser raises for a flag or a
    command that does not exist (an eager ``--help`` raises an exit with code 0)."""
    command: Any = cli_root()
    name, ctx, rest = "movekit", None, list(argv)
    while True:
        ctx = command.make_context(name, rest, parent=ctx)
        if not hasattr(command, "resolve_command"):
            return ctx
        rest = [*getattr(ctx, "_protected_args", getattr(ctx, "protected_args", [])),
                *ctx.args]
        name, command, rest = command.resolve_command(ctx, rest)


def parse_problem(argv: Sequence[str]) -> str | None:
    """What the parser says is wrong with ``movekit ARGV``, or None when it takes it."""
    try:
        parse(argv)
    except Exception as error:  # typer's own click: its exceptions are not click's
        if getattr(error, "exit_code", None) == 0:  # --help
            return None
        return f"{type(error).__name__}: {error}"
    return None


def command_of(path: Sequence[str]) -> Any:
    """The command ``movekit PATH`` names (``("kubesim", "serve")``, say)."""
    command: Any = cli_root()
    name, ctx = "movekit", None
    for sub in path:
        ctx = command.make_context(name, [sub], parent=ctx)
        command, name = command.get_command(ctx, sub), sub
        if command is None:
            raise KeyError(f"movekit has no command {' '.join(path)}")
    return command


def option_default(path: Sequence[str], flag: str) -> Any:
    """The default of ``flag`` of ``movekit PATH``."""
    for param in command_of(path).params:
        if flag in param.opts:
            return param.default
    raise KeyError(f"movekit {' '.join(path)} has no {flag}")


def has_option(path: Sequence[str], flag: str) -> bool:
    return any(flag in (*param.opts, *param.secondary_opts) for param in command_of(path).params)


@dataclass(frozen=True)
class Flow:
    """How ``tests/scenarios/test_doc_flows.py`` runs a page's blocks: what the source holds
    first, and which of the page's example names stand for the seeded ones."""

    topology: str
    names: tuple[tuple[str, str], ...] = ()


# Every page with a block that is not marked "not run in CI" has a flow.
FLOWS: dict[str, Flow] = {
    "README.md": Flow("machinedeployment"),
    "docs/howto/air-gapped-move.md": Flow("two-clusters"),
    "docs/howto/move-between-management-clusters.md": Flow("kcp-with-machines"),
    "docs/howto/move-one-cluster.md": Flow("clusterclass-shared-select-cluster",
                                           (("wl-0001", "c1"), ("wl-0002", "c2"))),
}
