"""Every command's --help and every usage mistake, as a person reads them.

Tables over the whole command tree, the emulator's mounted commands included: a command added
later is covered without a new test.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator
from typing import Any

import pytest
import typer.main

from movekit import cli
from movekit.clihelp import BARE_VALUES, command_paths
from movekit.model import ConflictPolicy
from movekit.version import __version__
from tests.cli_run import movekit

# What typer's own help printed: <bool>, <list[str]>, <path>, <text|json|yaml>, {path}.
PYTHON_TYPES = re.compile(r"<(?:bool|str|int|float|path|list\[[^>]*\]|[a-z]+(?:\|[a-z]+)+)>"
                          r"|\{[a-z_]+\}|\blist\[|\bNoneType\b")
BOX = re.compile("[\u2500-\u257f]")  # box drawing, rich's panels
WIDTHS = (60, 200)


def _tree() -> Any:
    cli._mount_subcommands()
    return typer.main.get_command(cli.app)


def _commands() -> Iterator[tuple[tuple[str, ...], Any]]:
    root = _tree()
    with root.make_context("movekit", [], resilient_parsing=True) as ctx:
        yield from command_paths(root, ctx)


COMMANDS = {" ".join(path) or "(movekit)": (path, command) for path, command in _commands()}


def _options(command: Any) -> list[Any]:
    return [p for p in command.params if p.param_type_name == "option" and not p.hidden]


def _takes_value(param: Any) -> bool:
    return not (param.is_flag or param.count)


@pytest.mark.parametrize("columns", WIDTHS)
@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_help_names_values_not_python_types_and_never_cuts_a_flag(
        name: str, columns: int, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    path, command = COMMANDS[name]
    code, out, err = movekit(*path, "--help", monkeypatch=monkeypatch, capsys=capsys,
                             columns=columns)

    assert code == 0, err
    assert out.startswith(f"Usage: {' '.join(('movekit', *path))}")
    assert not PYTHON_TYPES.search(out), PYTHON_TYPES.search(out)
    assert "…" not in out and not BOX.search(out)
    for param in _options(command):
        for flag in param.opts:
            assert re.search(rf"(^|[ ,]){re.escape(flag)}([ ,\[]|$)", out, re.M), flag
        if _takes_value(param):
            # Named by what it is (PATH, N, FORMAT), in capitals, right after the flag.
            last = [o for o in param.opts if o.startswith("--")][-1]
            assert re.search(rf"{re.escape(last)}(\[=)? ?[A-Z][A-Z0-9._=|-]*", out), last


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_help_ends_with_examples_that_parse(name: str, monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    path, _ = COMMANDS[name]
    _, out, _ = movekit(*path, "--help", monkeypatch=monkeypatch, capsys=capsys)

    _, found, examples = out.partition("\nExamples:\n")
    assert found, out
    lines = [line.strip() for line in examples.splitlines() if line.strip()]
    assert lines and all(line.startswith(" ".join(("movekit", *path))) for line in lines)
    root = _tree()
    for line in lines:
        words = shlex.split(line.split(" | ")[0])[1:]
        # Parsed by the command it invokes, values converted: no unknown flag, no bad choice.
        with root.make_context("movekit", list(words)) as ctx:
            command, rest = root, words
            while rest and hasattr(command, "get_command") and command.get_command(ctx, rest[0]):
                command, rest = command.get_command(ctx, rest[0]), rest[1:]
            command.make_context(line, list(rest), parent=ctx).close()


def _mistakes() -> Iterator[tuple[str, tuple[str, ...]]]:
    """(what is wrong, the command line) for every command and every flag that takes a value."""
    yield "no such command", ("frobnicate",)
    for name, (path, command) in COMMANDS.items():
        yield f"{name}: unknown option", (*path, "--no-such-flag")
        if hasattr(command, "get_command"):
            yield f"{name}: no such subcommand", (*path, "frobnicate")
        for param in _options(command):
            if not _takes_value(param) or param.opts[0] in BARE_VALUES:
                continue
            yield f"{name}: {param.opts[0]} without its value", (*path, param.opts[0])
            descriptor = getattr(param, "type_descriptor", None)
            if getattr(descriptor, "annotation", None) in (int, float):
                yield f"{name}: {param.opts[0]} not a number", (*path, param.opts[0], "many")
            if descriptor is not None and descriptor.is_choice:
                yield f"{name}: {param.opts[0]} not a choice", (*path, param.opts[0], "xml")
        if any("--dry-run" in p.opts for p in _options(command)):
            yield f"{name}: --dry-run=always", (*path, "--dry-run=always")
            yield f"{name}: --dry-run client", (*path, "--dry-run", "client")


MISTAKES = dict(_mistakes())


@pytest.mark.parametrize("mistake", sorted(MISTAKES))
def test_a_usage_mistake_is_one_error_line_and_exit_2(
        mistake: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    args = MISTAKES[mistake]
    code, out, err = movekit(*args, monkeypatch=monkeypatch, capsys=capsys, columns=60)

    assert code == 2, (out, err)
    lines = err.splitlines()
    assert lines and lines[0].startswith("error: ") and len(lines) <= 2, err
    command = [w for w in args if w in {p[-1] for p, _ in COMMANDS.values() if p}]
    assert lines[1:] in ([], [f"Try '{' '.join(('movekit', *command))} --help' for help."]), err
    assert not BOX.search(err) and "Traceback" not in err and "Usage:" not in err
    assert out == ""


@pytest.mark.parametrize("args, choices", [
    (("import", "--conflict", "merge"), tuple(ConflictPolicy)),
    (("move", "--conflict", "merge"), tuple(ConflictPolicy)),
    (("export", "-o", "xml"), ("text", "json", "yaml")),
    (("verify", "x", "--output", "xml"), ("text", "json", "yaml")),
    (("inspect", "x", "--format", "svg"), ("tree", "json", "yaml", "dot", "mermaid")),
    (("retire", "--dry-run=later"), ("none", "client", "server")),
])
def test_a_value_not_among_the_choices_is_refused_listing_them(
        args: tuple[str, ...], choices: tuple[str, ...], monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = movekit(*args, monkeypatch=monkeypatch, capsys=capsys)

    assert code == 2
    assert all(f"'{choice}'" in err.splitlines()[0] for choice in choices), err


def _completions(args: list[str], incomplete: str) -> list[str]:
    root = _tree()
    with root.make_context("movekit", list(args), resilient_parsing=True) as ctx:
        command = root.get_command(ctx, args[0])
        option = next(p for p in command.params if args[-1] in p.opts)
        return [item.value for item in option.shell_complete(ctx, incomplete)]


@pytest.mark.parametrize("name", sorted(n for n in COMMANDS if len(COMMANDS[n][0]) == 1))
def test_completion_offers_the_values_of_every_choice_flag(name: str) -> None:
    path, command = COMMANDS[name]
    choice_flags = {p.opts[0]: p for p in _options(command)
                    if getattr(getattr(p, "type_descriptor", None), "is_choice", False)}
    expected = {"--output": {"text", "json", "yaml"}, "--format": {
        "tree", "json", "yaml", "dot", "mermaid"}, "--conflict": set(ConflictPolicy),
                "--dry-run": {"none", "client", "server"}}
    for flag in ("--output", "--format", "--conflict"):
        if any(flag in p.opts for p in _options(command)):
            assert flag in choice_flags or any(flag in p.opts for p in choice_flags.values())
    for flag in choice_flags:
        offered = set(_completions([*path, flag], ""))
        assert offered == expected[flag], (flag, offered)
        assert set(_completions([*path, flag], "j")) <= {"json"}


def test_version_flag_prints_what_the_version_command_prints(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    flag = movekit("--version", monkeypatch=monkeypatch, capsys=capsys)
    command = movekit("version", monkeypatch=monkeypatch, capsys=capsys)

    assert flag == command == (0, f"{__version__}\n", "")


@pytest.mark.parametrize("command", ["import", "move", "retire"])
def test_dry_run_server_is_refused_where_writes_cannot_be_sent_as_a_dry_run(
        command: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = movekit(command, "--dry-run=server", "--kubeconfig", "/nonexistent",
                           monkeypatch=monkeypatch, capsys=capsys)

    assert code == 2
    assert err.splitlines() == [
        f"error: {command} --dry-run=server is not supported: {command} does not send its "
        "writes with dryRun=All; use --dry-run (client)"]
