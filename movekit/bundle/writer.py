"""Writing a bundle, as a directory or a ``.tar.zst``, so that a reader never sees half of one.

Every file is first written into a private staging directory next to the target (for an
archive, appended to one spool file there); the manifest goes in last. Only then is the result
published: the staging directory is renamed into place (an earlier bundle there is first
renamed into a staging directory of its own, then removed, so no stale file survives), or the
spooled members are streamed into an archive inside the staging directory, which is renamed
over ``FILE``. Nothing is ever created under a name someone else could have prepared (see
:mod:`movekit.bundle.staging`, which also removes what a killed run left). Files are 0600 and
directories 0700 whatever the umask: a bundle carries kubeconfigs and CA keys.

Object files are not fsync'ed one by one (that would cost seconds per thousand objects); a file
torn by a crash is caught by the checksum when the bundle is read.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import stat
from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any, BinaryIO, Literal

from movekit.bundle.archive import DEFAULT_LEVEL, ZSTD_MAGIC, spool_reader, write_members
from movekit.bundle.layout import (
    CRDS_DIR,
    MANIFEST_FILE,
    MAX_MANIFEST_BYTES,
    MAX_MEMBER_BYTES,
    OBJECTS_DIR,
    crd_path,
    dump_yaml,
    object_path,
    parent_dirs,
)
from movekit.bundle.manifest import (
    CrdEntry,
    Manifest,
    ObjectEntry,
    Source,
    build_manifest,
    manifest_chunks,
)
from movekit.bundle.staging import Staging, sweep
from movekit.errors import UsageError
from movekit.model import Exclusion, KindInfo, NamespaceEntry, Provider, Selection
from movekit.refs import ObjectRef
from movekit.version import __version__

ARCHIVE_SUFFIX = ".tar.zst"

_BUNDLE_TOP_LEVEL = {MANIFEST_FILE, OBJECTS_DIR, CRDS_DIR}


def create_private_dir(path: Path) -> None:
    os.mkdir(path, 0o700)
    os.chmod(path, 0o700)  # mkdir's mode is filtered by the umask


def open_private_file(path: Path) -> BinaryIO:
    """Create ``path`` (it must not exist) with mode 0600, open for writing."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    os.fchmod(fd, 0o600)  # the mode given to open is filtered by the umask
    return os.fdopen(fd, "wb")


def write_private_file(path: Path, data: bytes) -> None:
    """Create ``path`` (it must not exist) with mode 0600 and write ``data``."""
    with open_private_file(path) as out:
        out.write(data)


def is_movekit_bundle_dir(path: Path) -> bool:
    """A directory holding only bundle entries and a manifest.json written by movekit."""
    try:
        if not set(os.listdir(path)) <= _BUNDLE_TOP_LEVEL:
            return False
        manifest = path / MANIFEST_FILE
        info = manifest.lstat()
        if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_MANIFEST_BYTES:
            return False
        doc = json.loads(manifest.read_bytes())
    except (OSError, ValueError):
        return False
    tool = doc.get("tool") if isinstance(doc, dict) else None
    return (isinstance(doc, dict) and "formatVersion" in doc and isinstance(tool, dict)
            and tool.get("name") == "movekit")


def _directory_target(path: Path) -> Literal["absent", "empty", "bundle"]:
    """What is at a directory target now; UsageError when it must not be touched."""
    try:
        info = path.lstat()
    except FileNotFoundError:
        return "absent"
    if stat.S_ISLNK(info.st_mode):
        raise UsageError(f"{path}: is a symbolic link; name the bundle directory itself")
    if not stat.S_ISDIR(info.st_mode):
        raise UsageError(f"{path}: exists and is not a directory")
    if not os.listdir(path):
        return "empty"
    if is_movekit_bundle_dir(path):
        return "bundle"
    raise UsageError(f"{path}: directory is not empty and is not a movekit bundle; "
                     "name a new or empty directory")


def _archive_target(path: Path) -> None:
    """UsageError unless ``path`` is absent or an earlier archive that may be replaced."""
    try:
        info = path.lstat()
    except FileNotFoundError:
        return
    if stat.S_ISLNK(info.st_mode):
        raise UsageError(f"{path}: is a symbolic link; name the archive file itself")
    if not stat.S_ISREG(info.st_mode):
        raise UsageError(f"{path}: exists and is not a file")
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as err:
        raise UsageError(f"{path}: exists and cannot be read ({err.strerror})") from None
    with os.fdopen(fd, "rb") as existing:
        if existing.read(4) != ZSTD_MAGIC:
            raise UsageError(f"{path}: exists and is not a .tar.zst bundle; refusing to "
                             "overwrite it")


def check_bundle_target(target: Path | str, archive: bool) -> None:
    """UsageError unless a bundle may be written at ``target``: asked before anything is
    paused, and again when the bundle is published."""
    path = Path(os.path.abspath(target))
    if not path.parent.is_dir():
        raise UsageError(f"{path.parent}: directory does not exist")
    if archive:
        _archive_target(path)
    else:
        _directory_target(path)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class BundleWriter:
    """Writes one bundle to ``target``: a directory, or a ``.tar.zst`` when ``archive`` is true
    (by default, when the name ends in ``.tar.zst``).

    Use as a context manager; leaving it without :meth:`close` (or with an exception) removes
    everything written and leaves the target as it was::

        with BundleWriter(Path("bundle")) as writer:
            writer.add_object(entry, sanitize(obj))
            writer.add_crd(sanitize_crd(crd))
            manifest = writer.close(source=..., selection=..., kinds=...)
    """

    def __init__(self, target: Path | str, archive: bool | None = None, *,
                 compression_level: int = DEFAULT_LEVEL) -> None:
        # Lexically absolute ("." and ".." folded, links kept so that they can be refused).
        self.target = Path(os.path.abspath(target))
        self.archive = self.target.name.endswith(ARCHIVE_SUFFIX) if archive is None else archive
        self.compression_level = compression_level
        check_bundle_target(self.target, self.archive)
        # What a killed run left: removed when provably ours and dead, otherwise listed here.
        self.leftovers = sweep(self.target)
        self._staged = Staging(self.target)
        self._staging = self._staged.path
        self._dirs: set[str] = set()
        # An archive's members are appended to one private spool file rather than created as
        # thousands of files: they are read back, in order, only to be archived.
        self._spool: BinaryIO | None = (open_private_file(self._staging / _SPOOL_FILE)
                                        if self.archive else None)
        self._spooled: dict[str, tuple[int, int]] = {}  # member -> (offset, size) in the spool
        self._entries: dict[ObjectRef, ObjectEntry] = {}
        self._crds: dict[str, CrdEntry] = {}
        self._finished = False

    def __enter__(self) -> BundleWriter:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        if not self._finished:
            self.abort()

    def add_object(self, entry: ObjectEntry, obj: Mapping[str, Any]) -> None:
        """Write ``obj`` (already sanitized) at its path; fills ``entry.file``, ``entry.sha256``."""
        self._check_open()
        actual = ObjectRef.of(obj)
        if actual != entry.ref or obj.get("apiVersion") != entry.api_version:
            raise ValueError(f"object {obj.get('apiVersion')} {actual} does not match its "
                             f"entry {entry.api_version} {entry.ref}")
        if entry.ref in self._entries:
            raise ValueError(f"{entry.ref} was added twice")
        path = object_path(entry.ref)
        entry.sha256 = self._write(path, dump_yaml(obj), str(entry.ref))
        entry.file = path
        self._entries[entry.ref] = entry

    def add_crd(self, crd: Mapping[str, Any]) -> CrdEntry:
        """Write a (sanitized) CustomResourceDefinition under ``crds/``."""
        self._check_open()
        name = str((crd.get("metadata") or {}).get("name", ""))
        if crd.get("kind") != "CustomResourceDefinition" or not name:
            raise ValueError(f"not a CustomResourceDefinition: {crd.get('kind')} {name!r}")
        if name in self._crds:
            raise ValueError(f"CRD {name} was added twice")
        path = crd_path(name)
        entry = CrdEntry(name, path, self._write(path, dump_yaml(crd), f"CRD {name}"))
        self._crds[name] = entry
        return entry

    def close(
        self,
        *,
        source: Source,
        selection: Selection,
        kinds: Iterable[KindInfo],
        providers: Iterable[Provider] = (),
        namespaces: Iterable[NamespaceEntry] = (),
        excluded: Iterable[Exclusion] = (),
        tool_version: str = __version__,
        created_at: datetime | None = None,
        encryption: Mapping[str, Any] | None = None,
    ) -> Manifest:
        """Write the manifest, publish the bundle at the target, and return the manifest.

        ``encryption`` is the record of how Secret values were encrypted (see
        :mod:`movekit.bundle.encryption`), or None for a bundle in plain text."""
        self._check_open()
        try:
            manifest = build_manifest(
                objects=self._entries.values(), crds=self._crds.values(), source=source,
                selection=selection, kinds=kinds, providers=providers, namespaces=namespaces,
                excluded=excluded, tool_version=tool_version, created_at=created_at,
                encryption=encryption,
            )
            self._write_chunks(MANIFEST_FILE, manifest_chunks(manifest), MANIFEST_FILE)
            if self.archive:
                self._publish_archive()
            else:
                self._publish_directory()
        except BaseException:
            self.abort()
            raise
        self._finished = True
        return manifest

    def abort(self) -> None:
        """Remove everything written so far; the target is left as it was."""
        self._finished = True
        self._remove_staging()

    def _remove_staging(self) -> None:
        if self._spool is not None:
            with contextlib.suppress(OSError):  # a full disk fails the flush; it goes anyway
                self._spool.close()
        self._staged.remove()

    def _check_open(self) -> None:
        if self._finished:
            raise RuntimeError("the bundle writer is closed")

    def _write(self, path: str, data: bytes, what: str) -> str:
        limit = self._limit(path)
        if len(data) > limit:
            raise ValueError(f"{what}: {len(data)} bytes is over the {limit} byte limit "
                             "that readers enforce")
        return self._write_chunks(path, (data,), what)

    @staticmethod
    def _limit(path: str) -> int:
        return MAX_MANIFEST_BYTES if path == MANIFEST_FILE else MAX_MEMBER_BYTES

    def _write_chunks(self, path: str, chunks: Iterable[bytes], what: str) -> str:
        """Write ``chunks`` as the member ``path``; returns its sha256."""
        if self._spool is not None:
            if path in self._spooled:
                raise ValueError(f"{what}: {path} was written twice")
            start = self._spool.tell()
            try:
                digest, size = _copy(chunks, self._spool, self._limit(path), what)
            except BaseException:
                self._spool.seek(start)
                self._spool.truncate()
                raise
            self._spooled[path] = (start, size)
            return digest
        created = [directory for directory in parent_dirs(path) if directory not in self._dirs]
        for directory in created:
            create_private_dir(self._staging / directory)
            self._dirs.add(directory)
        opened = False
        try:
            try:
                out = open_private_file(self._staging / path)
            except FileExistsError:
                # Only on a case-insensitive file system: two names differing in case collide.
                raise ValueError(f"{what}: {path} collides with another file of the bundle"
                                 ) from None
            opened = True
            with out:
                return _copy(chunks, out, self._limit(path), what)[0]
        except BaseException:
            # A refused file leaves no trace: a reader refuses a directory no file uses.
            if opened:
                (self._staging / path).unlink()
            for directory in reversed(created):
                os.rmdir(self._staging / directory)
                self._dirs.discard(directory)
            raise

    def _publish_directory(self) -> None:
        target = self.target
        state = _directory_target(target)  # again: the target may have changed meanwhile
        if state == "bundle":
            graveyard = Staging(target)
            retired = graveyard.path / "previous"
            os.rename(target, retired)
            try:
                os.rename(self._staging, target)
            except BaseException:
                os.rename(retired, target)
                graveyard.remove()
                raise
            graveyard.remove()
        else:
            if state == "empty":
                os.rmdir(target)
            os.rename(self._staging, target)
        self._staged.release()
        _fsync_dir(target.parent)

    def _publish_archive(self) -> None:
        assert self._spool is not None
        self._spool.flush()
        spool = os.open(self._staging / _SPOOL_FILE, os.O_RDONLY | os.O_CLOEXEC)
        # Inside the private staging directory: no name beside the target to prepare or race.
        partial = self._staging / _ARCHIVE_FILE
        try:
            with open_private_file(partial) as out:
                write_members(self._spooled, spool_reader(spool, self._spooled), out,
                              self.compression_level)
                out.flush()
                os.fsync(out.fileno())
            _archive_target(self.target)
            os.replace(partial, self.target)
        finally:
            os.close(spool)
        _fsync_dir(self.target.parent)
        self._remove_staging()


_SPOOL_FILE = "members"
_ARCHIVE_FILE = "bundle.tar.zst"


def _copy(chunks: Iterable[bytes], out: BinaryIO, limit: int, what: str) -> tuple[str, int]:
    """Write ``chunks`` to ``out``, refusing more than ``limit`` bytes; (sha256, size)."""
    digest = hashlib.sha256()
    size = 0
    for chunk in chunks:
        size += len(chunk)
        if size > limit:
            raise ValueError(f"{what}: {size} bytes or more is over the {limit} byte limit "
                             "that readers enforce")
        digest.update(chunk)
        out.write(chunk)
    return digest.hexdigest(), size
