"""Random damage to a valid bundle, directory or archive: reading it either gives back the very
same bundle (the damage changed nothing that counts, such as the manifest's whitespace or its
creation time) or raises InvalidBundle. Never another exception, never a hang, never a write.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from datetime import timedelta
from functools import cache
from pathlib import Path
from typing import Any

import zstandard
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from movekit.bundle import read_bundle
from movekit.errors import InvalidBundle
from tests.bundle.bundle_samples import (
    file_member,
    snapshot,
    tar_bytes,
    tree_files,
    write_sample,
)

Members = list[tuple[str, bytes]]  # an archive may hold a name twice; a directory may not


@cache
def original() -> tuple[Members, bytes, str, dict[str, Any]]:
    """The sample bundle's files, its archive bytes, digest and objects by file."""
    with tempfile.TemporaryDirectory() as scratch:
        write_sample(Path(scratch, "b"))
        write_sample(Path(scratch, "b.tar.zst"))
        bundle = read_bundle(Path(scratch, "b"))
        objects = {entry.file: bundle.load(entry) for entry in bundle.entries}
        return (sorted(tree_files(Path(scratch, "b")).items()),
                Path(scratch, "b.tar.zst").read_bytes(), bundle.digest, objects)


# Names a mutation may give a member: the bundle's own, plausible strangers and, in an archive
# only, names that try to leave the bundle or fool a terminal.
SAFE_NAMES = ["manifest.json", "README", "objects/x.yaml", "objects/core/Secret/prod/c1-cb.yaml",
              "crds/x.yaml", "Manifest.json", "objects/core/ConfigMap/prod/c1-scripts.yaml"]
ARCHIVE_NAMES = [*SAFE_NAMES, "../x.yaml", "/tmp/x.yaml", "./manifest.json", "objects//x.yaml",
                 "objects/./x.yaml", "objects/\x1b[2J.yaml", "objects\\x.yaml"]

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
    | st.text(max_size=12) | st.sampled_from(["\ud800", "../../etc", "v1", "Secret", "0" * 64]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner,
                                                                max_size=3),
    max_leaves=6,
)

Mutation = Callable[[Members, st.DataObject, list[str]], Members]


def _pick(members: Members, data: st.DataObject) -> int:
    return data.draw(st.integers(0, len(members) - 1))


def flip(members: Members, data: st.DataObject, names: list[str]) -> Members:
    i = _pick(members, data)
    name, body = members[i]
    if not body:
        return members
    at = data.draw(st.integers(0, len(body) - 1))
    changed = body[:at] + bytes([body[at] ^ data.draw(st.integers(1, 255))]) + body[at + 1:]
    return [*members[:i], (name, changed), *members[i + 1:]]


def insert(members: Members, data: st.DataObject, names: list[str]) -> Members:
    i = _pick(members, data)
    name, body = members[i]
    at = data.draw(st.integers(0, len(body)))
    extra = data.draw(st.binary(min_size=1, max_size=8) | st.sampled_from(
        [b"\x00", b"\xff", b"&a ", b"*a", b"\n- ", b"{", b"\\ud800", b"!!python/object "]))
    return [*members[:i], (name, body[:at] + extra + body[at:]), *members[i + 1:]]


def delete(members: Members, data: st.DataObject, names: list[str]) -> Members:
    i = _pick(members, data)
    name, body = members[i]
    start = data.draw(st.integers(0, len(body)))
    end = data.draw(st.integers(start, min(len(body), start + 64)))
    return [*members[:i], (name, body[:start] + body[end:]), *members[i + 1:]]


def rename(members: Members, data: st.DataObject, names: list[str]) -> Members:
    i = _pick(members, data)
    return [*members[:i], (data.draw(st.sampled_from(names)), members[i][1]), *members[i + 1:]]


def duplicate(members: Members, data: st.DataObject, names: list[str]) -> Members:
    i = _pick(members, data)
    name = data.draw(st.sampled_from([members[i][0], *names]))
    return [*members, (name, members[i][1])]


def drop(members: Members, data: st.DataObject, names: list[str]) -> Members:
    i = _pick(members, data)
    return [*members[:i], *members[i + 1:]]


def _leaves(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    if isinstance(node, dict):
        children = [(key, value) for key, value in node.items()]
    elif isinstance(node, list):
        children = list(enumerate(node))
    else:
        return [path]
    found = [path]
    for key, value in children:
        found.extend(_leaves(value, (*path, key)))
    return found


def change_manifest(members: Members, data: st.DataObject, names: list[str]) -> Members:
    """Replace one value anywhere in manifest.json (keeping it JSON)."""
    where = [i for i, (name, _) in enumerate(members) if name == "manifest.json"]
    if not where:
        return members
    try:
        doc = json.loads(members[where[0]][1])
    except ValueError:
        return members
    path = data.draw(st.sampled_from(_leaves(doc)))
    value = data.draw(JSON_VALUES)
    if not path:
        doc = value
    else:
        parent = doc
        for key in path[:-1]:
            parent = parent[key]
        parent[path[-1]] = value
    body = json.dumps(doc, indent=2).encode()
    return [*members[:where[0]], ("manifest.json", body), *members[where[0] + 1:]]


MUTATIONS: list[Mutation] = [flip, insert, delete, rename, duplicate, drop, change_manifest]


def mutated(data: st.DataObject, names: list[str]) -> Members:
    members, _, _, _ = original()
    for _ in range(data.draw(st.integers(1, 3), label="mutations")):
        if not members:
            break
        members = data.draw(st.sampled_from(MUTATIONS))(members, data, names)
    return members


def write_directory(root: Path, members: Members) -> None:
    root.mkdir()
    for name, body in members:
        path = root / name
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(path, "xb") as out:
                out.write(body)
        except (FileExistsError, NotADirectoryError, IsADirectoryError):
            assume(False)  # two members a directory cannot hold side by side


def assert_same_bundle_or_refused(path: Path, scratch: Path) -> None:
    _, _, digest, objects = original()
    before = snapshot(scratch)
    try:
        bundle = read_bundle(path)
    except InvalidBundle as refused:
        assert "\n" not in str(refused) and str(refused).isprintable(), repr(str(refused))
    else:
        assert bundle.digest == digest
        assert {entry.file: bundle.load(entry) for entry in bundle.entries} == objects
    assert snapshot(scratch) == before


FUZZ = settings(max_examples=150, deadline=timedelta(seconds=5), database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


@FUZZ
@given(data=st.data())
def test_a_damaged_bundle_directory_reads_as_the_original_or_is_refused(
        data: st.DataObject) -> None:
    members = mutated(data, SAFE_NAMES)
    with tempfile.TemporaryDirectory() as scratch:
        write_directory(Path(scratch, "bundle"), members)
        assert_same_bundle_or_refused(Path(scratch, "bundle"), Path(scratch))


@FUZZ
@given(data=st.data())
def test_a_damaged_bundle_archive_reads_as_the_original_or_is_refused(
        data: st.DataObject) -> None:
    members = mutated(data, ARCHIVE_NAMES)
    raw = tar_bytes([(file_member(name, body), body) for name, body in members])
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch, "bundle.tar.zst")
        path.write_bytes(zstandard.ZstdCompressor(write_checksum=True).compress(raw))
        assert_same_bundle_or_refused(path, Path(scratch))


@FUZZ
@given(data=st.data())
def test_damaged_archive_bytes_read_as_the_original_or_are_refused(data: st.DataObject) -> None:
    _, archive, _, _ = original()
    (_, damaged), = data.draw(st.sampled_from([flip, insert, delete]))(
        [("bundle.tar.zst", archive)], data, [])
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch, "bundle.tar.zst")
        path.write_bytes(damaged)
        assert_same_bundle_or_refused(path, Path(scratch))
