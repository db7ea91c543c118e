"""``docs/cli.md``, generated from the code: ``python -m movekit.docgen > docs/cli.md``.

Commands and their options come from the typer app in :mod:`movekit.cli` (typer's own models,
read the way typer reads them), exit codes from :mod:`movekit.errors`, and the shape of JSON
output from the ``output-*.v1.json`` schemas. ``tests/test_docs.py`` fails when the file in
``docs/`` differs from what this prints, so the reference cannot drift from the code.

Not ``typer movekit.cli utils docs``: it has no exit codes or JSON output, truncates summaries.
"""

from __future__ import annotations

import inspect
import json
import signal
import types
import typing
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any

import typer
from typer.main import get_command_name
from typer.models import ArgumentInfo, CommandInfo, DefaultPlaceholder, OptionInfo, ParameterInfo
from typer.utils import get_params_from_function

from movekit import errors
from movekit.clihelp import BARE_VALUES, EXAMPLES, split_examples, value_name
from movekit.interrupt import OUTPUT_CLOSED

REGENERATE = "python -m movekit.docgen > docs/cli.md"

# What each error type means to the person who ran the command, and what to do next. The exit
# codes themselves are read from the classes; a new error type without a line here is an error.
_ERROR_MEANINGS: dict[type[errors.MovekitError], str] = {
    errors.MovekitError: "An error with no more specific code.",
    errors.NotConfirmed: (
        "`retire` asked for confirmation on a terminal and was answered anything but yes (or "
        "the input ended). Nothing was deleted."
    ),
    errors.LocalFileError: (
        "A file or directory on this machine could not be read or written: no space left, a "
        "quota or file size limit, permission denied, a path through a file. The message names "
        "the path and the system's reason. An export puts back the pause state it changed and "
        "leaves no partial bundle."
    ),
    errors.UsageError: (
        "The command cannot run as given: a flag is missing, unknown, not a number, out of range "
        "(`--workers`, `--qps` and `--burst` must be above 0) or combined with one it excludes "
        "(such as `--no-pause` with `--leave-paused`); a path it reads is missing or of the "
        "wrong type; a path it writes is in a directory that does not exist or cannot be "
        "written, or is not a new or empty directory or an earlier bundle; a `--namespace-map` "
        "name is not a DNS-1123 label, or a namespace is mapped twice; a kubeconfig or context "
        "cannot be loaded; a journal cannot be read; or a rollback is no longer possible. What "
        "the flags alone show is refused before the first request to a cluster."
    ),
    errors.InvalidBundle: (
        "The bundle is corrupt, truncated, tampered with, of a format this movekit does not "
        "read, or its digest is not the one `--expect-digest` names. It is refused before any "
        "request to a cluster."
    ),
    errors.PrecheckFailed: (
        "A check failed: a Cluster or Machine is not provisioned, the namespace does not exist "
        "or the selection is empty, the "
        "target does not serve a kind, a provider is missing or older, a foreign object is in "
        "the way, or block-move did not clear in time. Every problem is listed; nothing is left "
        "changed (what was paused for the check is resumed)."
    ),
    errors.ClusterUnreachable: (
        "An API server could not be reached, even after retrying for the retry budget. The "
        "message names the server and why: connection refused, host name not resolved, TLS "
        "verification failed, timed out."
    ),
    errors.ApiRequestFailed: (
        "An API server refused a request for good (403, 404, 422, a webhook denial, ...). The "
        "message names the request, the object and the server's reason."
    ),
    errors.PartialFailure: (
        "Some work was done and some failed. Run the same `movekit import` again to resume it; "
        "a failed `movekit move` has been rolled back (or, with `--no-rollback`, continues with "
        "`movekit move --resume JOURNAL`)."
    ),
}



@dataclass(frozen=True)
class Param:
    """One option or argument of a command, as ``--help`` presents it."""

    names: tuple[str, ...]  # for an argument, its metavar
    negation: str | None  # the --no-... spelling of a boolean option
    value: str  # metavar, "flag", or "TEXT, repeatable"
    default: str  # "" when there is none worth showing
    help: str
    argument: bool
    required: bool


@dataclass(frozen=True)
class Command:
    path: tuple[str, ...]  # ("kubesim", "serve")
    help: str
    params: tuple[Param, ...]

    @property
    def usage(self) -> str:
        words = ["movekit", *self.path]
        if any(not p.argument for p in self.params):
            words.append("[OPTIONS]")
        words += [p.names[0] if p.required else f"[{p.names[0]}]"
                  for p in self.params if p.argument]
        return " ".join(words)


def _value(setting: Any) -> Any:
    """What typer uses for a setting: the value behind a default placeholder."""
    return setting.value if isinstance(setting, DefaultPlaceholder) else setting


def _unwrap(annotation: Any) -> tuple[Any, bool]:
    """The element type of ``X | None`` or ``list[X] | None``, and whether it repeats."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        members = [a for a in typing.get_args(annotation) if a is not type(None)]
        annotation = members[0] if len(members) == 1 else annotation
    if typing.get_origin(annotation) is list:
        return typing.get_args(annotation)[0], True
    return annotation, False


def _default_text(default: Any, is_bool: bool) -> str:
    if default is None or default is Ellipsis or isinstance(default, list | tuple):
        return ""
    if is_bool:
        # A flag is off unless given; only one that is on by default is worth a mention.
        return "on" if default else ""
    return str(default)


def _param(name: str, annotation: Any, info: ParameterInfo) -> Param:
    element, repeats = _unwrap(annotation)
    is_bool = element is bool
    default = info.default
    help_text = " ".join((info.help or "").split())
    if isinstance(info, ArgumentInfo):
        metavar = info.metavar or value_name(element)
        return Param((metavar,), None, metavar + (", repeatable" if repeats else ""), "",
                     help_text, argument=True, required=default is Ellipsis)
    declared = [d for d in (info.param_decls or ()) if d]
    names: list[str] = []
    negation = None
    for declaration in declared:
        first, _, second = declaration.partition("/")
        names.append(first.strip())
        if second:
            negation = second.strip()
    if not names:
        names = [f"--{name.replace('_', '-')}"]
        if is_bool:
            # typer gives a boolean option without declared names an --no- spelling.
            negation = f"--no-{name.replace('_', '-')}"
    counted = isinstance(info, OptionInfo) and info.count
    if counted:
        # -v, -vv: each repetition counts one more.
        return Param(tuple(names), None, "flag, repeatable", "", help_text,
                     argument=False, required=False)
    if is_bool:
        value = "flag"
    else:
        value = info.metavar or value_name(element)
        if any(n in BARE_VALUES for n in names):
            value = f"{value} (alone: {BARE_VALUES[names[0]]})"
        if repeats:
            value += ", repeatable"
    return Param(tuple(names), negation, value,
                 _default_text(default, is_bool), help_text,
                 argument=False, required=default is Ellipsis)


def _params(callback: Callable[..., Any]) -> tuple[Param, ...]:
    found = []
    for name, meta in get_params_from_function(callback).items():
        if meta.annotation is typer.Context:  # typer passes it in; no flag of the command
            continue
        info = meta.default
        if not isinstance(info, ParameterInfo):
            # A parameter without typer settings: typer makes it an option when it has a
            # default, an argument otherwise.
            has_default = info is not inspect.Parameter.empty
            info = (OptionInfo(default=info) if has_default else ArgumentInfo(default=...))
        found.append(_param(name, meta.annotation, info))
    return tuple(found)


def _help(*candidates: Any) -> str:
    for candidate in candidates:
        text = _value(candidate)
        if isinstance(text, str) and text.strip():
            return inspect.cleandoc(text)
    return ""


def _command(info: CommandInfo, prefix: tuple[str, ...]) -> Command:
    callback = info.callback
    assert callback is not None
    name = _value(info.name) or get_command_name(callback.__name__)
    return Command((*prefix, name), _help(info.help, inspect.getdoc(callback)),
                   _params(callback))


def commands(app: typer.Typer, prefix: tuple[str, ...] = ()) -> Iterator[Command]:
    """Every visible command of ``app`` and of its sub-apps, in the order ``--help`` lists them."""
    seen: set[str] = set()
    for info in app.registered_commands:
        if _value(info.hidden):
            continue
        command = _command(info, prefix)
        if command.path[-1] not in seen:  # the CLI may have been mounted twice in one process
            seen.add(command.path[-1])
            yield command
    for group in app.registered_groups:
        sub = group.typer_instance
        assert sub is not None
        name = _value(group.name) or _value(sub.info.name)
        if name in seen or _value(group.hidden):
            continue
        seen.add(name)
        yield from commands(sub, (*prefix, name))


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _option_cell(param: Param) -> str:
    spelled = ", ".join(f"`{n}`" for n in param.names)
    return f"{spelled} / `{param.negation}`" if param.negation else spelled


def _command_section(command: Command) -> list[str]:
    title = " ".join(command.path)
    description, examples = split_examples(command.help)
    summary, _, rest = description.partition("\n\n")
    lines = [f"## movekit {title}", "", " ".join(summary.split()), ""]
    if rest.strip():
        lines += [" ".join(p.split()) + "\n" for p in rest.strip().split("\n\n")]
    lines += ["```", command.usage, "```", ""]
    arguments = [p for p in command.params if p.argument]
    options = [p for p in command.params if not p.argument]
    if arguments:
        lines += ["| argument | value | description |", "| --- | --- | --- |"]
        lines += [f"| `{p.names[0]}` | {p.value} | {_cell(p.help)}"
                  f"{'' if p.required else ' (optional)'} |" for p in arguments]
        lines.append("")
    if options:
        lines += ["| option | value | default | description |", "| --- | --- | --- | --- |"]
        lines += [f"| {_option_cell(p)} | {p.value} | {_cell(p.default)} | {_cell(p.help)} |"
                  for p in options]
        lines.append("")
    if examples:
        lines += [EXAMPLES, "", "```", *examples, "```", ""]
    return lines


def _exit_codes() -> list[str]:
    error_types = sorted(
        (obj for obj in vars(errors).values()
         if isinstance(obj, type) and issubclass(obj, errors.MovekitError)),
        key=lambda cls: (cls.exit_code, cls.__name__),
    )
    missing = [cls.__name__ for cls in error_types if cls not in _ERROR_MEANINGS]
    if missing:
        raise RuntimeError(f"movekit.docgen: describe the exit code of {', '.join(missing)}")
    rows = ["| code | error | meaning |", "| --- | --- | --- |",
            "| `0` | | Done. |"]
    rows += [f"| `{cls.exit_code}` | `{cls.__name__}` | {_ERROR_MEANINGS[cls]} |"
             for cls in error_types]
    signalled = {signal.SIGINT: "Interrupted (Ctrl-C). What runs finishes and nothing new "
                                "starts; an export restores the pause state it changed. Run "
                                "`movekit import` again to resume an import, or `movekit move "
                                "--resume JOURNAL` (or `--rollback JOURNAL`) for a move. "
                                "Commands that change nothing (`verify`, `inspect`, `version`, "
                                "`demo`, `kubesim serve`) say only `interrupted`.",
                 signal.SIGHUP: "SIGHUP (the terminal went away), handled as Ctrl-C.",
                 OUTPUT_CLOSED: "Standard output or error was closed while the command wrote "
                                "to it (`movekit ... \\| head -1`), handled as Ctrl-C.",
                 signal.SIGTERM: "SIGTERM, handled as Ctrl-C."}
    rows += [f"| `{128 + signum}` | | {meaning} |" for signum, meaning in sorted(signalled.items())]
    return ["## Exit codes", "",
            "Every command exits with one of these codes. Errors are printed on standard error as "
            "one `error: ...` line, followed by one indented line per problem when there are "
            "several.", "", *rows, "",
            "A flag the command does not know, a flag without its value, a value that is not one "
            "of the flag's choices, a missing argument or a command that does not exist also "
            "exits with `2`: one `error:` line, then `Try 'movekit COMMAND --help' for help.`", ""]


def _quoted_text() -> list[str]:
    return ["## Text from bundles and clusters", "",
            "Names, annotations, exclusion details, kubeconfig entries and the API server's own "
            "messages come from someone else, so no command prints them raw. In text output and "
            "on standard error, a control character, a bidi or zero-width formatting character "
            "or a line separator in them is shown as an escape (`\\x1b`, `\\u202e`) and "
            "brackets are never taken as markup; in listings, a backslash that would read as "
            "such an escape is doubled, so that two different names never look alike. JSON "
            "and YAML output keep the exact text and escape every character outside printable "
            "ASCII as those formats do (`\\u001b`, `\\e`).", ""]


def _resolve(node: Mapping[str, Any], defs: Mapping[str, Any]) -> Mapping[str, Any]:
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        rest = {key: value for key, value in node.items() if key != "$ref"}
        return {**_resolve(defs[ref.removeprefix("#/$defs/")], defs), **rest}
    return node


def _schema_type(node: Mapping[str, Any], defs: Mapping[str, Any]) -> str:
    node = _resolve(node, defs)
    if "const" in node:
        return f"`{json.dumps(node['const'])}`"
    if "enum" in node:
        return "one of " + ", ".join(f"`{json.dumps(v)}`" for v in node["enum"])
    alternatives = node.get("oneOf") or node.get("anyOf")
    if alternatives:
        return " or ".join(_schema_type(n, defs) for n in alternatives)
    kind = node.get("type", "any")
    if isinstance(kind, list):
        kind = " or ".join(kind)
    if kind == "array" and isinstance(node.get("items"), dict):
        kind = f"array of {_schema_type(node['items'], defs)}"
    if node.get("pattern"):
        kind += f" (`{node['pattern']}`)"
    return str(kind)


def _schema_rows(node: Mapping[str, Any], path: str, defs: Mapping[str, Any],
                 required: bool) -> Iterator[str]:
    node = _resolve(node, defs)
    description = " ".join(str(node.get("description", "")).split())
    if not required:
        description = f"optional; {description}" if description else "optional"
    if path:
        yield f"| `{path}` | {_cell(_schema_type(node, defs))} | {_cell(description)} |"
    for alternative in node.get("oneOf") or node.get("anyOf") or ():
        yield from _schema_children(_resolve(alternative, defs), path, defs)
    yield from _schema_children(node, path, defs)


def _schema_children(node: Mapping[str, Any], path: str,
                     defs: Mapping[str, Any]) -> Iterator[str]:
    needed = set(node.get("required") or ())
    for key, child in (node.get("properties") or {}).items():
        yield from _schema_rows(child, f"{path}.{key}" if path else key, defs, key in needed)
    items = node.get("items")
    if isinstance(items, dict):
        # The array's row already names the item type; only an item's fields need rows.
        yield from _schema_children(_resolve(items, defs), f"{path}[]", defs)
    extra = node.get("additionalProperties")
    if isinstance(extra, dict):
        yield from _schema_rows(extra, f"{path}.<key>", defs, True)


def _output_schemas() -> list[tuple[str, dict[str, Any]]]:
    folder = resources.files("movekit.schemas")
    found = []
    for entry in folder.iterdir():
        if entry.name.startswith("output-") and entry.name.endswith(".json"):
            found.append((entry.name, json.loads(entry.read_text(encoding="utf-8"))))
    return sorted(found)


def _json_output() -> list[str]:
    schemas = _output_schemas()
    if not schemas:
        return []
    lines = ["## JSON output", "",
             "With `--output json` a command prints one JSON document on standard output; "
             "progress and warnings go to standard error. Each document is described by a JSON "
             "Schema in `schemas/`, summarized here.", ""]
    for name, schema in schemas:
        title = schema.get("title", name)
        lines += [f"### {title}", "", f"Schema: `schemas/{name}`", ""]
        if schema.get("description"):
            lines += [" ".join(str(schema["description"]).split()), ""]
        lines += ["| field | type | notes |", "| --- | --- | --- |",
                  *_schema_rows(schema, "", schema.get("$defs") or {}, True), ""]
    return lines


def _mounted_app() -> typer.Typer:
    """The app as ``movekit`` runs it, with the subcommands ``main`` mounts."""
    from movekit import cli

    names = {_value(g.name) for g in cli.app.registered_groups}
    if "kubesim" not in names:
        cli._mount_subcommands()
    return cli.app


def cli_reference() -> str:
    """The whole of ``docs/cli.md``."""
    app = _mounted_app()
    found = list(commands(app))
    lines = [
        "# movekit CLI reference",
        "",
        f"Generated from the code by `{REGENERATE}`; do not edit by hand.",
        "",
        split_examples(_help(app.info.help))[0],
        "",
        "| command | what it does |",
        "| --- | --- |",
    ]
    for command in found:
        anchor = "movekit-" + "-".join(command.path)
        first = split_examples(command.help)[0].split("\n\n")[0]
        lines.append(f"| [`movekit {' '.join(command.path)}`](#{anchor}) | "
                     f"{_cell(' '.join(first.split()))} |")
    lines += ["", "Every command takes `--help`. A kubeconfig defaults to `$KUBECONFIG`, else "
              "`~/.kube/config`, and its current context."]
    if getattr(app, "_add_completion", False):
        lines.append("`movekit --install-completion` installs shell completion for the current "
                     "shell; `movekit --show-completion` prints it.")
    lines.append("")
    for command in found:
        lines += _command_section(command)
    lines += _exit_codes()
    lines += _quoted_text()
    lines += _json_output()
    return "\n".join(lines).rstrip("\n") + "\n"


def main() -> None:
    print(cli_reference(), end="")


if __name__ == "__main__":
    main()
