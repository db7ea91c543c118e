"""Checks of a command line that need no cluster, made before the first request.

A command that cannot finish because of its own flags (an output directory that is not empty,
an archive that cannot be written, ``--workers 0``, a namespace map to a name no namespace can
have, two flags that exclude each other) is refused here with a ``UsageError`` naming the flag,
before anything is read from or written to a cluster. Each rule is keyed by the flag it checks,
so every command that has the flag gets the same check.

The bundle writers and readers check again when they open a path: the file system can change
between the two.
"""

from __future__ import annotations

import math
import os
import stat
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from movekit.admission import is_namespace_name
from movekit.bundle.clusterctl import check_clusterctl_target
from movekit.bundle.staging import Staging
from movekit.bundle.writer import check_bundle_target
from movekit.errors import UsageError

# Flags that exclude each other, in the order a person would name them.
EXCLUSIVE = (
    ("--to-directory", "--to-archive"),
    ("--from-directory", "--from-archive"),
    ("--to-directory", "--from-directory"),
    ("--namespace", "--all-namespaces"),
    ("--no-pause", "--leave-paused"),
    ("--clusterctl-layout", "--to-archive"),
    ("--resume", "--rollback"),
    ("--journal", "--resume"),
    ("--journal", "--rollback"),
    # A resumed or rolled-back move changes clusters: it has no dry run.
    ("--dry-run", "--resume"),
    ("--dry-run", "--rollback"),
    ("--quiet", "--verbose"),
)
NAMESPACE_NAME = ("a namespace name is a DNS-1123 label: at most 63 lowercase letters, digits "
                  "and '-', starting and ending with a letter or digit")


def check_command_line(flags: Mapping[str, Any]) -> None:
    """UsageError for the first problem in ``flags`` (each flag of the command, by its long
    name, with its value; a flag not given has its default)."""
    given = {flag for flag, value in flags.items() if _given(value)}
    for first, second in EXCLUSIVE:
        if first in given and second in given:
            raise UsageError(f"{first} and {second} exclude each other: use one of them")
    for flag, value in flags.items():
        rule = _RULES.get(flag)
        if rule is not None and (flag in _NUMBERS or flag in given):
            rule(flag, value, flags)


def namespace_map(pairs: Sequence[str]) -> dict[str, str]:
    """``--namespace-map OLD=NEW`` pairs as a mapping; UsageError naming the first bad pair."""
    mapping: dict[str, str] = {}
    for pair in pairs:
        old, sep, new = pair.partition("=")
        if not sep:
            raise UsageError(f"--namespace-map {pair!r}: wants OLD=NEW")
        for name in (old, new):
            if not is_namespace_name(name):
                raise UsageError(f"--namespace-map {pair!r}: {name!r} is not a namespace name; "
                                 f"{NAMESPACE_NAME}")
        if old in mapping:
            raise UsageError(f"--namespace-map {pair!r}: namespace {old} is mapped twice")
        mapping[old] = new
    return mapping


def _given(value: Any) -> bool:
    return value is not None and value is not False and value != [] and value != 0


# -- numbers --------------------------------------------------------------------------------


def _positive(flag: str, value: Any, _flags: Mapping[str, Any]) -> None:
    if not math.isfinite(value) or value <= 0:
        raise UsageError(f"{flag} {value:g}: must be a number above 0")


def _not_negative(flag: str, value: Any, _flags: Mapping[str, Any]) -> None:
    if not math.isfinite(value) or value < 0:
        raise UsageError(f"{flag} {value:g}: must be 0 or more seconds")


_NUMBERS = {"--workers": _positive, "--qps": _positive, "--burst": _positive,
            "--block-move-timeout": _not_negative, "--retire-timeout": _not_negative}


# -- paths ----------------------------------------------------------------------------------


def _output(flag: str, value: Path, flags: Mapping[str, Any]) -> None:
    """A bundle (or clusterctl's directory) can be written at ``value``: its parent is a
    directory movekit can write in, and the path is new, empty or an earlier bundle."""
    target = Path(os.path.abspath(value))
    _writable_parent(flag, value, target)
    try:
        if flag == "--to-directory" and flags.get("--clusterctl-layout"):
            check_clusterctl_target(target)
        else:
            check_bundle_target(target, archive=flag == "--to-archive")
    except UsageError as refused:
        raise UsageError(f"{flag} {refused}") from None


def _new_file(flag: str, value: Path, _flags: Mapping[str, Any]) -> None:
    """A file movekit creates (a journal): nothing holds its name yet, its parent is writable."""
    target = Path(os.path.abspath(value))
    _writable_parent(flag, value, target)
    if os.path.lexists(target):
        raise UsageError(f"{flag} {value}: exists already; name a new file")


def _writable_parent(flag: str, value: Path, target: Path) -> None:
    parent = target.parent
    try:
        info = parent.stat()
    except OSError as err:
        raise UsageError(f"{flag} {value}: directory {parent} {_reason(err)}") from None
    if not stat.S_ISDIR(info.st_mode):
        raise UsageError(f"{flag} {value}: {parent} is not a directory")
    # Trying is the only answer that holds for root, read-only mounts and /proc alike. The try
    # is a staging directory, made and removed: one a kill leaves is swept as any other is.
    try:
        Staging(target).remove()
    except OSError as err:
        raise UsageError(f"{flag} {value}: cannot write in {parent} "
                         f"({err.strerror or err})") from None


def _input_directory(flag: str, value: Path, _flags: Mapping[str, Any]) -> None:
    info = _stat(flag, value)
    if not stat.S_ISDIR(info.st_mode):
        other = " (an archive is read with --from-archive)" if stat.S_ISREG(info.st_mode) else ""
        raise UsageError(f"{flag} {value}: not a directory{other}")
    try:
        os.listdir(value)
    except OSError as err:
        raise UsageError(f"{flag} {value}: cannot be read ({err.strerror or err})") from None


def _input_file(flag: str, value: Path, _flags: Mapping[str, Any]) -> None:
    info = _stat(flag, value)
    if stat.S_ISDIR(info.st_mode):
        other = " (a bundle directory is read with --from-directory)" \
            if flag == "--from-archive" else ""
        raise UsageError(f"{flag} {value}: is a directory, not a file{other}")
    if flag == "--from-archive" and not stat.S_ISREG(info.st_mode):
        raise UsageError(f"{flag} {value}: not a regular file")
    if not os.access(value, os.R_OK):
        raise UsageError(f"{flag} {value}: cannot be read (permission denied)")


def _input_files(flag: str, values: Sequence[Path], flags: Mapping[str, Any]) -> None:
    for value in values:
        _input_file(flag, value, flags)


def _stat(flag: str, value: Path) -> os.stat_result:
    try:
        return value.stat()
    except OSError as err:
        raise UsageError(f"{flag} {value}: {_reason(err)}") from None


def _reason(err: OSError) -> str:
    if isinstance(err, FileNotFoundError):
        return "does not exist"
    if isinstance(err, NotADirectoryError):
        return "is not reachable: a part of the path is a file, not a directory"
    return f"cannot be read ({err.strerror or err})"


def _namespace_map(flag: str, value: Sequence[str], _flags: Mapping[str, Any]) -> None:
    namespace_map(value)


_RULES: dict[str, Callable[[str, Any, Mapping[str, Any]], None]] = {
    **_NUMBERS,
    "--to-directory": _output,
    "--to-archive": _output,
    "--journal": _new_file,
    "--from-directory": _input_directory,
    "--from-archive": _input_file,
    "--resume": _input_file,
    "--rollback": _input_file,
    "--passphrase-file": _input_file,
    "--identity": _input_files,
    "--namespace-map": _namespace_map,
}
