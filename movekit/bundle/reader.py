"""Reading a bundle: everything is verified before a :class:`Bundle` is returned.

A bundle is untrusted input. Reading checks, in this order: the container (directory entries or
archive members: types, names, duplicates, sizes), the manifest (UTF-8, JSON, format version,
schema, consistency, digest), that the files present are exactly the files listed, and each
file's checksum, YAML and identity against its entry. The first problem found is raised as
``InvalidBundle("<bundle>: <member or field>: <problem>")``.

Reading writes nothing. What was verified is kept in memory, so that it is exactly what
:meth:`Bundle.load` returns even if the files change later: each object as it was parsed, as
zstd-compressed JSON. That is about a third of the files' size (a 1,000-cluster bundle of
200 MiB stays under 90 MiB in memory), and decoding JSON is far cheaper than parsing the YAML
again; an object file says only what JSON can say, so nothing is lost.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Protocol

from movekit.bundle.archive import is_archive, read_archive
from movekit.bundle.layout import (
    MANIFEST_FILE,
    MAX_MANIFEST_BYTES,
    MAX_MEMBER_BYTES,
    MAX_MEMBERS,
    MAX_TOTAL_BYTES,
    MIB,
    BundleDefect,
    ValueBudget,
    load_yaml,
    member_name,
    parent_dirs,
)
from movekit.bundle.manifest import (
    CrdEntry,
    Manifest,
    ObjectEntry,
    Source,
    parse_manifest,
)
from movekit.errors import InvalidBundle
from movekit.model import Exclusion, KindInfo, NamespaceEntry, Provider, Selection
from movekit.packed import pack, pack_bytes, unpack, unpack_bytes
from movekit.refs import ObjectRef

CRD_API_VERSION = "apiextensions.k8s.io/v1"


class Bundle:
    """A verified bundle; ``parsed_manifest`` holds its manifest as typed records."""

    def __init__(self, path: Path, parsed: Manifest, files: Mapping[str, _Verified]) -> None:
        self.path = path
        self.parsed_manifest = parsed
        self.entries: list[ObjectEntry] = list(parsed.objects)
        self._files = dict(files)
        self._by_ref = {entry.ref: entry for entry in self.entries}
        self._object_files = {entry.file for entry in self.entries}
        self._unseal: Callable[[ObjectEntry, dict[str, Any]], dict[str, Any]] | None = None

    @property
    def manifest(self) -> dict[str, Any]:
        """manifest.json as a JSON document (built afresh: the verified records are kept, not
        the document they were read from, which is several times their size)."""
        return self.parsed_manifest.to_json()

    @property
    def digest(self) -> str:
        return self.parsed_manifest.digest

    @property
    def format_version(self) -> int:
        return self.parsed_manifest.format_version

    @property
    def source(self) -> Source:
        return self.parsed_manifest.source

    @property
    def selection(self) -> Selection:
        return self.parsed_manifest.selection

    @property
    def kinds(self) -> tuple[KindInfo, ...]:
        return self.parsed_manifest.kinds

    @property
    def providers(self) -> tuple[Provider, ...]:
        return self.parsed_manifest.providers

    @property
    def namespaces(self) -> tuple[NamespaceEntry, ...]:
        return self.parsed_manifest.namespaces

    @property
    def excluded(self) -> tuple[Exclusion, ...]:
        return self.parsed_manifest.excluded

    @property
    def crd_entries(self) -> tuple[CrdEntry, ...]:
        return self.parsed_manifest.crds

    def entry(self, ref: ObjectRef) -> ObjectEntry | None:
        return self._by_ref.get(ref)

    def load(self, entry: ObjectEntry) -> dict[str, Any]:
        """The object of ``entry``, parsed afresh (the caller may change it)."""
        if entry.file not in self._object_files:
            raise KeyError(f"{entry.ref} is not an object of the bundle {self.path}")
        obj = self._files[entry.file].load()
        return obj if self._unseal is None else self._unseal(entry, obj)

    def unseal_with(self, unseal: Callable[[ObjectEntry, dict[str, Any]], dict[str, Any]]) -> None:
        """Have :meth:`load` pass every object through ``unseal``: how an importer that holds
        the keys sees Secrets decrypted (:func:`movekit.bundle.encryption.unlock`)."""
        self._unseal = unseal

    def crds(self) -> list[dict[str, Any]]:
        """The bundle's CustomResourceDefinitions, by name."""
        return [self._files[crd.file].load() for crd in self.crd_entries]


class _Verified:
    """One verified file, held compactly; :meth:`load` returns a fresh copy of its object."""

    __slots__ = ("_data",)

    def __init__(self, obj: dict[str, Any]) -> None:
        self._data = pack(obj)

    def load(self) -> dict[str, Any]:
        return unpack(self._data)


def read_bundle(path: Path | str, checked: Callable[[str], None] | None = None) -> Bundle:
    """Read and verify the bundle (directory or ``.tar.zst``) at ``path``; InvalidBundle if not.
    ``checked`` hears how many files are verified so far (``120 of 4000 files``)."""
    path = Path(path)
    try:
        members: _Members
        try:
            mode = path.stat().st_mode  # the path the user named may be a link to the bundle
        except FileNotFoundError:
            raise InvalidBundle(f"{path}: no such file or directory") from None
        if stat.S_ISDIR(mode):
            members = DirectoryMembers(path)
        elif stat.S_ISREG(mode) and is_archive(path):
            members = _ArchiveMembers(path)
        else:
            # Never opened unless regular: opening a FIFO or a tape device would block.
            raise InvalidBundle(f"{path}: neither a bundle directory nor a .tar.zst archive")
        manifest, files = _verify(members, checked or _unheard)
    except BundleDefect as defect:
        raise InvalidBundle(f"{path}: {defect.where}: {defect.problem}") from None
    except OSError as err:
        raise InvalidBundle(f"{path}: cannot be read ({err.strerror or err})") from None
    return Bundle(path, manifest, files)


def verify(path: Path | str) -> Bundle:
    """Same as :func:`read_bundle`: reading a bundle is verifying it."""
    return read_bundle(path)


class _Members(Protocol):
    """The files and directories of a bundle, before anything is trusted."""

    files: set[str]
    dirs: set[str]

    def read(self, name: str, limit: int) -> bytes:
        """The bytes of file ``name``, at most ``limit``; each file is read once."""
        ...


class _ArchiveMembers:
    def __init__(self, path: Path) -> None:
        # A stream cannot be read twice, and the manifest is not its first member: the files
        # wait, compressed, until the manifest says what to expect of them.
        tree = read_archive(path, keep=pack_bytes)
        self._data = tree.files
        self.files = set(tree.files)
        self.dirs = tree.dirs

    def read(self, name: str, limit: int) -> bytes:
        # read_archive enforced the limits already. Each member is read once, to be verified:
        # what is verified is kept in another form, so the member's bytes can go.
        return unpack_bytes(self._data.pop(name))


class DirectoryMembers:
    """A bundle directory, walked without following links; files are opened beneath the root
    one component at a time with O_NOFOLLOW, so a link swapped in later is refused too."""

    def __init__(self, root: Path) -> None:
        self._root = root
        self.files: set[str] = set()
        self.dirs: set[str] = set()
        total = 0
        pending = [""]
        while pending:
            relative = pending.pop()
            with os.scandir(self._root / relative if relative else self._root) as entries:
                for entry in entries:
                    name = member_name(f"{relative}/{entry.name}" if relative else entry.name)
                    if len(self.files) + len(self.dirs) >= MAX_MEMBERS:
                        raise BundleDefect(name, f"the bundle has more than {MAX_MEMBERS} entries")
                    info = entry.stat(follow_symlinks=False)
                    if stat.S_ISDIR(info.st_mode):
                        self.dirs.add(name)
                        pending.append(name)
                        continue
                    _check_regular(name, info)
                    self.files.add(name)
                    total += info.st_size
                    if total > MAX_TOTAL_BYTES:
                        raise BundleDefect(name, f"the bundle exceeds {MAX_TOTAL_BYTES // MIB} MiB")

    def read(self, name: str, limit: int) -> bytes:
        parts = name.split("/")
        fds = [os.open(self._root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)]
        try:
            for part in parts[:-1]:
                fds.append(os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW
                                   | os.O_CLOEXEC, dir_fd=fds[-1]))
            fd = os.open(parts[-1], os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC,
                         dir_fd=fds[-1])
            fds.append(fd)
            info = os.fstat(fd)
            _check_regular(name, info)
            if info.st_size > limit:
                raise BundleDefect(name, f"is {info.st_size} bytes, over the limit of "
                                         f"{limit // MIB} MiB")
            with os.fdopen(os.dup(fd), "rb") as stream:
                data = stream.read(limit + 1)
            if len(data) > limit:
                raise BundleDefect(name, f"is over the limit of {limit // MIB} MiB")
            return data
        except OSError as err:
            raise BundleDefect(name, f"cannot be read ({err.strerror or err})") from None
        finally:
            for opened in fds:
                os.close(opened)


def _check_regular(name: str, info: os.stat_result) -> None:
    mode = info.st_mode
    if stat.S_ISREG(mode):
        if info.st_nlink > 1:
            raise BundleDefect(name, "is a hard link; a bundle holds only regular files "
                                     "and directories")
        return
    kind = ("symbolic link" if stat.S_ISLNK(mode) else
            "device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else
            "FIFO" if stat.S_ISFIFO(mode) else
            "socket" if stat.S_ISSOCK(mode) else "special file")
    raise BundleDefect(name, f"is a {kind}; a bundle holds only regular files and directories")


def _first(names: set[str]) -> str:
    ordered = sorted(names)
    more = f" (and {len(ordered) - 1} more)" if len(ordered) > 1 else ""
    return ordered[0] + more


def _unheard(text: str) -> None:
    """Where no one follows the verification."""


def _verify(members: _Members, checked: Callable[[str], None]
            ) -> tuple[Manifest, dict[str, _Verified]]:
    if MANIFEST_FILE not in members.files:
        raise BundleDefect(MANIFEST_FILE, "missing; this is not a movekit bundle")
    manifest = parse_manifest(members.read(MANIFEST_FILE, MAX_MANIFEST_BYTES))
    listed = manifest.files()
    missing = set(listed) - members.files
    if missing:
        raise BundleDefect(_first(missing), "listed in the manifest but missing")
    extra = members.files - set(listed) - {MANIFEST_FILE}
    if extra:
        raise BundleDefect(_first(extra), "not listed in the manifest")
    used_dirs = {directory for file in listed for directory in parent_dirs(file)}
    extra_dirs = members.dirs - used_dirs
    if extra_dirs:
        raise BundleDefect(_first(extra_dirs), "directory not used by any file in the manifest")

    files: dict[str, _Verified] = {}
    budget = ValueBudget()
    total = len(manifest.objects) + len(manifest.crds)
    for number, entry in enumerate(manifest.objects):
        if number % 25 == 0:
            checked(f"{number} of {total} files")
        data = _checked_bytes(members, entry.file, entry.sha256)
        obj = load_yaml(data, entry.file, budget)
        _check_identity(obj, entry.file, entry.api_version, entry.ref)
        files[entry.file] = _Verified(obj)
    for crd in manifest.crds:
        data = _checked_bytes(members, crd.file, crd.sha256)
        obj = load_yaml(data, crd.file, budget)
        _check_identity(obj, crd.file, CRD_API_VERSION,
                        ObjectRef("apiextensions.k8s.io", "CustomResourceDefinition", "", crd.name))
        files[crd.file] = _Verified(obj)
    checked(f"{total} of {total} files")
    return manifest, files


def _checked_bytes(members: _Members, name: str, sha256: str) -> bytes:
    data = members.read(name, MAX_MEMBER_BYTES)
    actual = hashlib.sha256(data).hexdigest()
    if actual != sha256:
        raise BundleDefect(name, f"checksum mismatch: the file's sha256 is {actual[:16]}..., "
                                 f"the manifest says {sha256[:16]}...")
    return data


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _check_identity(obj: Mapping[str, Any], where: str, api_version: str, ref: ObjectRef) -> None:
    """The object in the file must be the one its manifest entry names."""
    metadata = obj.get("metadata")
    if not isinstance(metadata, Mapping):
        raise BundleDefect(where, "has no metadata mapping")
    expectations = (
        ("apiVersion", obj.get("apiVersion"), api_version),
        ("kind", obj.get("kind"), ref.kind),
        ("metadata.namespace", metadata.get("namespace", ""), ref.namespace),
        ("metadata.name", metadata.get("name"), ref.name),
    )
    for field_name, actual, expected in expectations:
        if actual != expected:
            raise BundleDefect(where, f"{field_name} is {_shown(actual)} but the manifest "
                                      f"says {expected!r}")
