"""How every command's ``--help`` and every usage mistake read: plain text, as git and kubectl.

typer's own help is boxed by rich, shows Python types (``<bool>``, ``<list[str]>``, ``{path}``)
and cuts names with "…" on a narrow terminal. :class:`PlainTyper` (and :func:`plain_help`, for
an app mounted in it) gives each command the command classes below instead: a usage line, the
description, one row per flag with its value's name (``PATH``, ``N``, ``FORMAT``), and the
examples the command's docstring ends with, wrapped to the terminal and never cut.
"""

from __future__ import annotations

import enum
import inspect
import textwrap
import types
import typing
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import typer
import typer.main
from typer.core import TyperCommand, TyperGroup
from typer.models import CommandFunctionType

from movekit.errors import MovekitError, UsageError

EXAMPLES = "Examples:"
# Flags that take a value yet may be given bare, as in kubectl, and the value they then mean.
# Only ``--dry-run=VALUE`` gives another one: ``--dry-run client`` is a flag and an argument.
BARE_VALUES = {"--dry-run": "client"}

_NAME_COLUMN = 28  # the widest name that keeps its description beside it
_MIN_TEXT = 30  # a description is never squeezed narrower than this
# What a value is called in --help when its flag does not name it: never a Python type.
_VALUE_NAMES: dict[object, str] = {Path: "PATH", int: "N", float: "NUMBER", str: "TEXT"}


def value_name(annotation: Any) -> str:
    """The name ``--help`` shows for a value of this type (``X | None`` and ``list[X]``: X's)."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        members = [a for a in typing.get_args(annotation) if a is not type(None)]
        annotation = members[0] if len(members) == 1 else str
    if typing.get_origin(annotation) is list:
        annotation = typing.get_args(annotation)[0]
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return "|".join(str(member.value) for member in annotation)
    return _VALUE_NAMES.get(annotation, "VALUE")


def split_examples(text: str) -> tuple[str, list[str]]:
    """A docstring's description, and the command lines of its ``Examples:`` section."""
    text = inspect.cleandoc(text or "")
    before, found, after = text.partition(f"\n{EXAMPLES}\n")
    if not found and text.startswith(f"{EXAMPLES}\n"):
        before, after = "", text.removeprefix(f"{EXAMPLES}\n")
    examples = [line.strip() for line in after.splitlines() if line.strip()]
    return before.strip(), examples


def _annotation(param: Any) -> Any:
    descriptor = getattr(param, "type_descriptor", None)
    return getattr(descriptor, "annotation", str)


def _is_flag(param: Any) -> bool:
    return bool(getattr(param, "is_flag", False) or getattr(param, "count", False))


def _metavar(param: Any) -> str:
    return str(param.metavar) if param.metavar else value_name(_annotation(param))


def _default(param: Any) -> str:
    """``(default: X)`` when a flag has a default worth saying, else nothing."""
    default = param.default
    if param.required:
        return "(required)"
    if callable(default) or default is None or default == () or default == []:
        return ""
    if getattr(param, "count", False) or any(o in BARE_VALUES for o in param.opts):
        return ""
    if isinstance(default, bool):
        return "(default: on)" if default else ""
    if isinstance(default, enum.Enum):
        default = default.value
    if isinstance(default, float):
        default = f"{default:g}"
    return f"(default: {default})"


def _option_row(param: Any) -> tuple[str, str]:
    short = [o for o in param.opts if not o.startswith("--")]
    long = [o for o in param.opts if o.startswith("--")]
    names = ", ".join(short + long)
    if param.secondary_opts and param.default:
        # --no-X says something only when X is on by default.
        names += " / " + ", ".join(param.secondary_opts)
    if any(o in BARE_VALUES for o in param.opts):
        names += f"[={_metavar(param)}]"
    elif not _is_flag(param):
        names += f" {_metavar(param)}"
    text = " ".join(part for part in (" ".join((param.help or "").split()), _default(param))
                    if part)
    return names, text


def _usage(command: Any, ctx: Any) -> str:
    params = command.get_params(ctx)
    words = ["[OPTIONS]"] if any(p.param_type_name == "option" for p in params) else []
    for param in params:
        if param.param_type_name == "argument":
            name = _metavar(param) + ("..." if param.nargs != 1 else "")
            words.append(name if param.required else f"[{name}]")
    if isinstance(command, TyperGroup):
        words.append("COMMAND [ARGS]...")
    return " ".join(words)


def _summary(command: Any) -> str:
    """A command's first paragraph, whole: click's short help cuts it with "..."."""
    description, _ = split_examples(command.help or "")
    return " ".join(description.split("\n\n")[0].split())


def _wrap(text: str, width: int, indent: int) -> list[str]:
    """``text`` in lines of at most ``width`` (a longer word stays whole: names are never cut)."""
    return textwrap.wrap(text, max(width, indent + _MIN_TEXT), initial_indent=" " * indent,
                         subsequent_indent=" " * indent, break_long_words=False,
                         break_on_hyphens=False) or [""]


def _rows(rows: list[tuple[str, str]], width: int) -> list[str]:
    """Two columns, names and descriptions; a name too long for its column gets a line."""
    column = min(max(len(name) for name, _ in rows), _NAME_COLUMN) + 4
    lines = []
    for name, text in rows:
        wrapped = _wrap(text, width, column) if text else []
        if len(name) + 4 <= column and wrapped:
            lines.append(f"  {name}".ljust(column) + wrapped.pop(0).lstrip())
        else:
            lines.append(f"  {name}")
        lines += wrapped
    return lines


def help_text(command: Any, ctx: Any, width: int) -> str:
    """``command``'s help: usage, description, arguments, options, commands, examples."""
    lines = [f"Usage: {ctx.command_path} {_usage(command, ctx)}".rstrip()]
    description, examples = split_examples(command.help or "")
    for paragraph in description.split("\n\n") if description else ():
        lines += ["", *_wrap(" ".join(paragraph.split()), width, 0)]
    params = command.get_params(ctx)
    sections = {
        "Arguments": [(_metavar(p), " ".join((p.help or "").split()))
                      for p in params if p.param_type_name == "argument"],
        "Options": [_option_row(p) for p in params
                    if p.param_type_name == "option" and not p.hidden],
    }
    if isinstance(command, TyperGroup):
        sections["Commands"] = [
            (name, _summary(sub)) for name in command.list_commands(ctx)
            if (sub := command.get_command(ctx, name)) is not None and not sub.hidden]
    for title, rows in sections.items():
        if rows:
            lines += ["", f"{title}:", *_rows(rows, width)]
    if examples:
        # Whole lines, never wrapped: each is copied as it stands.
        lines += ["", EXAMPLES, *(f"  {line}" for line in examples)]
    return "\n".join(lines) + "\n"


def format_help(command: Any, ctx: Any, formatter: Any) -> None:
    """Write :func:`help_text` to click's formatter, at its width."""
    formatter.write(help_text(command, ctx, formatter.width))


class HelpCommand(TyperCommand):
    """A typer command whose help is :func:`format_help`'s, and whose flags of
    :data:`BARE_VALUES` may be given bare."""

    def format_help(self, ctx: Any, formatter: Any) -> None:
        format_help(self, ctx, formatter)

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        flags = {o for p in self.params if p.param_type_name == "option" for o in p.opts}
        spelled = []
        for position, arg in enumerate(args):
            if arg == "--":  # what follows is not a flag
                spelled += args[position:]
                break
            bare = BARE_VALUES.get(arg) if arg in flags else None
            spelled.append(f"{arg}={bare}" if bare else arg)
        return list(super().parse_args(ctx, spelled))


class HelpGroup(TyperGroup):
    """A typer group whose help is :func:`format_help`'s."""

    def format_help(self, ctx: Any, formatter: Any) -> None:
        format_help(self, ctx, formatter)


class PlainTyper(typer.Typer):
    """A typer app whose commands, and the apps mounted in it, have :func:`format_help`'s help."""

    def __init__(self, **settings: Any) -> None:
        settings.setdefault("cls", HelpGroup)
        settings.setdefault("rich_markup_mode", None)
        settings.setdefault("pretty_exceptions_enable", False)
        super().__init__(**settings)

    def command(self, name: str | None = None, **settings: Any) -> Callable[
            [CommandFunctionType], CommandFunctionType]:
        settings.setdefault("cls", HelpCommand)
        return super().command(name, **settings)

    def add_typer(self, typer_instance: typer.Typer, **settings: Any) -> None:
        settings.setdefault("cls", HelpGroup)
        super().add_typer(plain_help(typer_instance), **settings)


def plain_help(app: typer.Typer) -> typer.Typer:
    """Give ``app``, its commands and its mounted apps the plain help of this module."""
    # typer records its own classes as the choice when none was made.
    if app.info.cls in (None, TyperGroup):
        app.info.cls = HelpGroup
    for command in app.registered_commands:
        if command.cls in (None, TyperCommand):
            command.cls = HelpCommand
    for group in app.registered_groups:
        if group.cls in (None, TyperGroup):
            group.cls = HelpGroup
        if group.typer_instance is not None:
            plain_help(group.typer_instance)
    return app


def command_paths(command: Any, ctx: Any, path: tuple[str, ...] = ()) -> Iterator[
        tuple[tuple[str, ...], Any]]:
    """Every command under a click ``command`` (itself first), with the words that invoke it."""
    yield path, command
    if isinstance(command, TyperGroup):
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)
            if sub is not None and not sub.hidden:
                yield from command_paths(sub, ctx, (*path, name))


def run(app: typer.Typer, args: list[str], prog_name: str) -> int:
    """Run ``app`` on ``args`` and return its exit code. A usage mistake (an unknown flag, a
    missing value, a value not among the choices, no such command) raises :class:`UsageError`
    with the message on one line and where to read the usage as its hint."""
    command = typer.main.get_command(app)
    try:
        code = command.main(args=args, prog_name=prog_name, standalone_mode=False)
    except typer.Abort:
        raise MovekitError("aborted") from None
    except typer.TyperException as mistake:
        context = getattr(mistake, "ctx", None)
        if type(mistake).__name__ == "NoArgsIsHelpError" and context is not None:
            # `movekit` or `movekit kubesim` alone: the help is the answer, as kubectl gives.
            typer.echo(context.get_help())
            return 0
        error: MovekitError = (UsageError if getattr(mistake, "exit_code", 1) == 2
                               else MovekitError)(_sentence(mistake.format_message()))
        if context is not None:
            error.hint = f"Try '{context.command_path} --help' for help."
        raise error from None
    return code if isinstance(code, int) else 0


def _sentence(message: str) -> str:
    """click's message as one of our error lines: one line, lower case, no final period."""
    text = " ".join(message.split()).rstrip(".").replace("Value error, ", "")
    if text[:1].isupper() and not text[1:2].isupper():
        text = text[0].lower() + text[1:]
    return text
