"""The directory that ``clusterctl move --to-directory`` writes and ``--from-directory`` reads.

One file per moved object, flat, named ``<Kind>_<namespace>_<name>.yaml`` (the namespace part is
empty for a cluster-scoped object: ``<Kind>__<name>.yaml``). Each file holds the object as
clusterctl read it from the source, encoded by Go's ``encoding/json``: compact, keys sorted,
``<``, ``>`` and ``&`` escaped, one newline at the end — uid, resourceVersion, ownerReferences,
managedFields and status included, Clusters and ClusterClasses paused. There is no manifest:
the reader rebuilds the graph from the uids and ownerReferences in the files.

Reading trusts nothing: regular files only (no links, devices or subdirectories), the size
and value limits of a bundle, strict JSON (or YAML as a bundle's object files must be: only
what JSON could say, read the same by every reader), and every file must hold exactly the
object its name says. Errors name the file, never its content.
"""

from __future__ import annotations

import json
import os
import re
import stat
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from movekit.bundle.layout import (
    MANIFEST_FILE,
    MAX_MEMBER_BYTES,
    BundleDefect,
    ValueBudget,
    count_json_values,
    decode_text,
    exact_json_values,
    load_json,
    load_yaml,
)
from movekit.bundle.reader import DirectoryMembers
from movekit.bundle.staging import Staging, sweep
from movekit.bundle.writer import write_private_file
from movekit.errors import InvalidBundle, UsageError
from movekit.model import plain_copy
from movekit.refs import GroupKind, ObjectRef, split_api_version

# Kinds are CamelCase identifiers and namespaces DNS labels, so neither holds "_"; names may.
_FILE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9]*_[a-z0-9-]*_[^/\x00]+\.yaml$")

# What Go's json.Encoder escapes (SetEscapeHTML is on by default) and Python's json does not.
_GO_ESCAPES = str.maketrans({"<": "\\u003c", ">": "\\u003e", "&": "\\u0026",
                             "\u2028": "\\u2028", "\u2029": "\\u2029"})


def clusterctl_file_name(ref: ObjectRef) -> str:
    """``Kind_namespace_name.yaml``, as clusterctl names the file of ``ref`` (no API group)."""
    return f"{ref.kind}_{ref.namespace}_{ref.name}.yaml"


def is_clusterctl_directory(path: Path | str) -> bool:
    """A directory with no ``manifest.json`` and at least one file named as clusterctl names
    them. Only names are looked at: :func:`read_clusterctl_directory` checks everything else."""
    try:
        if not Path(path).is_dir():
            return False
        names = os.listdir(path)
    except OSError:
        return False
    return MANIFEST_FILE not in names and any(_FILE_NAME.match(name) for name in names)


def read_clusterctl_directory(path: Path | str) -> list[dict[str, Any]]:
    """Every object of a clusterctl directory, in file name order; InvalidBundle if any file is
    not exactly one well-formed object under its own name."""
    path = Path(path)
    try:
        members = DirectoryMembers(path)
        if members.dirs:
            raise BundleDefect(min(members.dirs), "is a directory; clusterctl writes only files")
        if MANIFEST_FILE in members.files:
            raise BundleDefect(MANIFEST_FILE, "present: this is a movekit bundle, not a "
                                              "clusterctl directory")
        if not members.files:
            raise BundleDefect(".", "the directory is empty")
        objects: list[dict[str, Any]] = []
        file_of_uid: dict[str, str] = {}
        version_of_kind: dict[GroupKind, tuple[str, str]] = {}
        budget = ValueBudget()
        for name in sorted(members.files):
            if not _FILE_NAME.match(name):
                raise BundleDefect(name, "not named <Kind>_<namespace>_<name>.yaml as clusterctl "
                                         "names its files")
            obj = _load_object(members.read(name, MAX_MEMBER_BYTES), name, budget)
            ref, uid = _check_object(obj, name)
            if uid in file_of_uid:
                raise BundleDefect(name, f"has the same metadata.uid as {file_of_uid[uid]}")
            file_of_uid[uid] = name
            # The bundle lists one version per kind, as clusterctl reads each kind at one version.
            api_version = str(obj["apiVersion"])
            seen = version_of_kind.setdefault(ref.group_kind, (api_version, name))
            if seen[0] != api_version:
                raise BundleDefect(name, f"apiVersion {api_version} differs from {seen[0]} "
                                         f"in {seen[1]}")
            objects.append(obj)
    except BundleDefect as defect:
        raise InvalidBundle(f"{path}: {defect.where}: {defect.problem}") from None
    except OSError as err:
        raise InvalidBundle(f"{path}: cannot be read ({err.strerror or err})") from None
    return objects


def write_clusterctl_directory(path: Path | str, objects: Iterable[Mapping[str, Any]]
                               ) -> list[Path]:
    """Write ``objects`` as ``clusterctl move --to-directory`` would, directory 0700, files 0600.

    The files are written to a private directory beside ``path`` and moved into place at the
    end, replacing an earlier clusterctl directory there whole: clusterctl rewrites files one by
    one and leaves the stale ones behind, which ``--from-directory`` would then restore.
    Returns the staging leftovers of other runs that were left alone (see
    :mod:`movekit.bundle.staging`).
    """
    target = Path(os.path.abspath(path))
    check_clusterctl_target(target)
    leftovers = sweep(target)
    staged = Staging(target)
    staging = staged.path
    try:
        written: dict[str, ObjectRef] = {}
        for obj in objects:
            ref = ObjectRef.of(obj)
            name = clusterctl_file_name(ref)
            if name in written:
                raise UsageError(f"{written[name]} and {ref} would both be written to {name}: "
                                 "clusterctl's file names leave out the API group")
            if "/" in name or "\x00" in name or not _FILE_NAME.match(name):
                raise UsageError(f"{ref}: cannot be named as clusterctl names its files")
            written[name] = ref
            write_private_file(staging / name, go_json(obj))
        _publish(staging, target)
    except BaseException:
        staged.remove()
        raise
    staged.release()
    return leftovers


def check_clusterctl_target(path: Path | str) -> None:
    """UsageError unless clusterctl's directory may be written at ``path``: asked before
    anything is paused, and again when it is published."""
    target = Path(os.path.abspath(path))
    if not target.parent.is_dir():
        raise UsageError(f"{target.parent}: directory does not exist")
    _check_target(target)


def go_json(obj: Mapping[str, Any]) -> bytes:
    """``obj`` encoded as Go's ``json.NewEncoder(w).Encode`` encodes an unstructured object."""
    text = json.dumps(plain_copy(obj), sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False, allow_nan=False)
    # The escaped characters occur only inside strings: JSON's own syntax uses none of them.
    return (text.translate(_GO_ESCAPES) + "\n").encode("utf-8")


def _load_object(data: bytes, where: str, budget: ValueBudget) -> dict[str, Any]:
    """One object: strict JSON as clusterctl writes it, else YAML (a hand-edited file)."""
    text = decode_text(data, where)
    if not text.lstrip().startswith("{"):
        return load_yaml(data, where, budget)
    limit = budget.limit()
    if count_json_values(data) > limit and exact_json_values(data) > limit:
        raise budget.refusal(where, "JSON values")
    doc = load_json(data, where, limit)
    budget.spend(count_json_values(data))
    if not isinstance(doc, dict):
        raise BundleDefect(where, "top level is not a JSON object")
    return doc


def _check_object(obj: Mapping[str, Any], where: str) -> tuple[ObjectRef, str]:
    """The object's identity and uid; a defect unless the file name is exactly that identity
    and every ownerReference names an owner the graph can resolve."""
    metadata = obj.get("metadata")
    if not isinstance(metadata, Mapping):
        raise BundleDefect(where, "has no metadata mapping")
    fields = (("apiVersion", obj.get("apiVersion")), ("kind", obj.get("kind")),
              ("metadata.name", metadata.get("name")), ("metadata.uid", metadata.get("uid")))
    for field_name, value in fields:
        if not isinstance(value, str) or not value:
            raise BundleDefect(where, f"{field_name} is missing or not a string; clusterctl "
                                      "writes live objects, which always have one")
    if not isinstance(metadata.get("namespace", ""), str):
        raise BundleDefect(where, "metadata.namespace is not a string")
    if not split_api_version(str(obj["apiVersion"]))[1]:
        raise BundleDefect(where, f"apiVersion {str(obj['apiVersion'])[:60]!r} has no version")
    ref = ObjectRef.of(obj)
    expected = clusterctl_file_name(ref)
    if where != expected:
        # repr: the identity comes from the file, and must not put control characters on a terminal.
        raise BundleDefect(where, f"holds {str(ref)[:300]!r}, whose file clusterctl names "
                                  f"{expected[:300]!r}")
    owners = metadata.get("ownerReferences", [])
    if not isinstance(owners, list):
        raise BundleDefect(where, "metadata.ownerReferences is not a list")
    for index, owner in enumerate(owners):
        if not isinstance(owner, Mapping) or not all(
                isinstance(owner.get(key), str) and owner.get(key)
                for key in ("apiVersion", "kind", "name", "uid")):
            raise BundleDefect(where, f"metadata.ownerReferences[{index}] needs apiVersion, "
                                      "kind, name and uid strings")
    return ref, str(metadata["uid"])


def _check_target(target: Path) -> bool:
    """Whether ``target`` exists; UsageError when it is something that must not be replaced."""
    try:
        info = target.lstat()
    except FileNotFoundError:
        return False
    if stat.S_ISLNK(info.st_mode):
        raise UsageError(f"{target}: is a symbolic link; name the directory itself")
    if not stat.S_ISDIR(info.st_mode):
        raise UsageError(f"{target}: exists and is not a directory")
    if not _only_clusterctl_files(target):
        raise UsageError(f"{target}: directory is not empty and is not one clusterctl move "
                         "wrote; name a new or empty directory")
    return True


def _only_clusterctl_files(directory: Path) -> bool:
    """Whether every entry is a regular file named as clusterctl names them (or there is none):
    only then may the directory be replaced whole without losing anything else."""
    with os.scandir(directory) as entries:
        return all(_FILE_NAME.match(entry.name) and entry.is_file(follow_symlinks=False)
                   for entry in entries)


def _publish(staging: Path, target: Path) -> None:
    """Rename ``staging`` to ``target``; an earlier directory there goes only once that worked."""
    if not _check_target(target):  # again: the target may have changed meanwhile
        os.rename(staging, target)
        return
    graveyard = Staging(target)
    retired = graveyard.path / "previous"
    os.rename(target, retired)
    try:
        os.rename(staging, target)
    except BaseException:
        os.rename(retired, target)
        raise
    finally:
        graveyard.remove()
