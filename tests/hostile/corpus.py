"""Hostile bundles, each made from a valid one that movekit's own BundleWriter wrote.

A case changes one thing and says where the reader must point (``where``, a regular expression
for the member or manifest field) and what it must say (``problem``). Cases that a directory and
an archive can both hold are listed once and built in both forms; the rest exist in one form
only (a tar member cannot be a FIFO on disk, a directory cannot hold ``../``).

Some attacks aim outside the bundle: they name ``ESCAPE`` (a file next to the work directory)
and the tests check it never appears.
"""

from __future__ import annotations

import base64
import os
import tarfile
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import zstandard

from movekit.bundle import MAX_MANIFEST_BYTES, MAX_MEMBER_BYTES, MAX_TOTAL_BYTES, MAX_YAML_DEPTH
from tests.bundle.bundle_samples import (
    CLUSTER_FILE,
    SECRET_FILE,
    file_member,
    make_bad_name,
    make_dir_symlink,
    make_fifo,
    make_hardlink,
    make_symlink,
    members_of,
    pack,
    raw_archive,
    special_member,
    tamper,
    tar_bytes,
    write_sample,
)

Members = list[tuple[tarfile.TarInfo, bytes | None]]
Make = Callable[[Path], Path]  # work directory -> the path handed to movekit

ESCAPE = "escaped.yaml"  # what an escaping member would create next to the work directory
CRD_FILE = "crds/clusters.cluster.x-k8s.io.yaml"


@dataclass(frozen=True)
class Hostile:
    id: str
    form: str  # "directory" or "archive"
    make: Make
    where: str
    problem: str
    # Module attributes to lower for the case (a bomb that is only cheap under small limits).
    limits: dict[str, int] = field(default_factory=dict)
    # What the command line check says first when the path is given by --from-archive or
    # --from-directory (a path of the wrong type is a usage error, exit 2); "": it passes.
    flag_refusal: str = ""


# --- building blocks ------------------------------------------------------------------------

Change = dict[str, "bytes | Callable[[Path], bytes] | None"]


def _tampered(files: Change | None = None,
              manifest: Callable[[dict[str, Any]], None] | None = None,
              *, fix_checksums: bool = True, fix_digest: bool = True) -> tuple[Make, Make]:
    """The sample bundle with ``files`` replaced (None removes) and ``manifest`` edited, as a
    directory and as an archive; checksums and digest stay consistent unless told otherwise."""
    def directory(work: Path) -> Path:
        bundle = work / "bundle"
        write_sample(bundle)
        changed = {name: data(bundle) if callable(data) else data
                   for name, data in (files or {}).items()}
        tamper(bundle, files=changed, manifest=manifest, fix_checksums=fix_checksums,
               fix_digest=fix_digest)
        return bundle

    def archive(work: Path) -> Path:
        return pack(directory(work / "source"), work / "bundle.tar.zst")

    def prepared(make: Make) -> Make:
        def run(work: Path) -> Path:
            work.mkdir(parents=True, exist_ok=True)
            (work / "source").mkdir(exist_ok=True)
            return make(work)
        return run

    return prepared(directory), prepared(archive)


def _archive(change: Callable[[Members], Members]) -> Make:
    """An archive holding the sample bundle's members as ``change`` rewrites them."""
    def make(work: Path) -> Path:
        work.mkdir(parents=True, exist_ok=True)
        write_sample(work / "source")
        return raw_archive(work / "bundle.tar.zst", change(members_of(work / "source")))
    return make


def _archive_bytes(change: Callable[[bytes], bytes]) -> Make:
    """The sample bundle's archive, as written, with its bytes changed."""
    def make(work: Path) -> Path:
        work.mkdir(parents=True, exist_ok=True)
        write_sample(work / "valid.tar.zst")
        path = work / "bundle.tar.zst"
        path.write_bytes(change((work / "valid.tar.zst").read_bytes()))
        (work / "valid.tar.zst").unlink()
        return path
    return make


def _directory(change: Callable[[Path, Path], None]) -> Make:
    """The sample bundle directory changed in place; ``change`` gets it and a scratch path
    outside it (where a link may point)."""
    def make(work: Path) -> Path:
        work.mkdir(parents=True, exist_ok=True)
        write_sample(work / "bundle")
        change(work / "bundle", work / "outside")
        return work / "bundle"
    return make


def _plus(*extra: tuple[tarfile.TarInfo, bytes | None]) -> Callable[[Members], Members]:
    return lambda members: [*members, *extra]


def _escape(work_relative: str) -> tuple[tarfile.TarInfo, bytes]:
    return file_member(work_relative, b"owned: true\n"), b"owned: true\n"


def _absolute_member(work: Path) -> Path:
    """A member named by the absolute path of a file beside the work directory."""
    work.mkdir(parents=True, exist_ok=True)
    write_sample(work / "source")
    target = str(work.parent / ESCAPE)
    members = [*members_of(work / "source"), _escape(target)]
    return raw_archive(work / "bundle.tar.zst", members)


def _secret_with(body: bytes) -> Callable[[Path], bytes]:
    """A Secret file whose identity is right, followed by ``body``."""
    return lambda _bundle: (b"apiVersion: v1\nkind: Secret\nmetadata:\n  name: c1-ca\n"
                            b"  namespace: prod\n" + body)


def _edit(path: str, old: str, new: str) -> Callable[[Path], bytes]:
    def change(bundle: Path) -> bytes:
        text = (bundle / path).read_text()
        assert old in text, (path, old)
        return text.replace(old, new, 1).encode()
    return change


def _huge_declared_member(members: Members) -> Members:
    # A tar header that promises 64 GiB: the reader refuses it from the header, reading nothing.
    info = file_member("objects/core/Secret/prod/huge.yaml", b"")
    info.size = 64 * 1024 * MAX_MEMBER_BYTES
    return [*members, (info, None)]


def _zstd_bomb(work: Path) -> Path:
    """Kilobytes that decompress to more than MAX_TOTAL_BYTES (under the lowered limit)."""
    work.mkdir(parents=True, exist_ok=True)
    zeros = b"\0" * (3 * 1024 * 1024)
    members: Members = [(file_member(f"objects/core/Secret/prod/z{i}.yaml", zeros), zeros)
                        for i in range(3)]
    path = raw_archive(work / "bundle.tar.zst", members)
    assert path.stat().st_size < 10_000
    return path


def _tar_cut_before_end_marker(work: Path) -> Path:
    work.mkdir(parents=True, exist_ok=True)
    write_sample(work / "source")
    raw = tar_bytes(members_of(work / "source"), end_marker=False)
    path = work / "bundle.tar.zst"
    path.write_bytes(zstandard.ZstdCompressor(write_checksum=True).compress(raw))
    return path


def _duplicate_secret(members: Members) -> Members:
    return [*members, next(m for m in members if m[0].name == SECRET_FILE)]


def _duplicate_other_spelling(members: Members) -> Members:
    manifest = next(m for m in members if m[0].name == "manifest.json")
    info = file_member("./manifest.json", manifest[1] or b"")
    return [*members, (info, manifest[1])]


def _fifo_for_manifest(bundle: Path, outside: Path) -> None:
    (bundle / "manifest.json").unlink()
    os.mkfifo(bundle / "manifest.json")


def _sparse(name: str, size: int) -> Callable[[Path, Path], None]:
    """A file that claims ``size`` bytes without taking the disk space."""
    def change(bundle: Path, outside: Path) -> None:
        with open(bundle / name, "r+b" if (bundle / name).exists() else "wb") as out:
            out.truncate(size)
    return change


def _control_name(bundle: Path, outside: Path) -> None:
    (bundle / "objects" / "x\x1b[2Jerror: all good\n.yaml").write_bytes(b"x")


def _fifo_bundle(work: Path) -> Path:
    work.mkdir(parents=True, exist_ok=True)
    os.mkfifo(work / "bundle.tar.zst")
    return work / "bundle.tar.zst"


# Keys of the manifest that a writer of the bundle chooses freely, to smuggle control characters.
def _label_key_with_escape(doc: dict[str, Any]) -> None:
    doc["namespaces"][0]["annotations"]["\x1b[2J\nowned"] = 5


def _lone_surrogate(bundle: Path) -> bytes:
    text = (bundle / "manifest.json").read_text()
    return text.replace('"no owner and no soft owner"', '"\\ud800"').encode()


BILLION_LAUGHS = (b"data:\n  a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
                  b"  b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
                  b"  c: [*b, *b, *b, *b, *b, *b, *b, *b, *b]\n")
DEEP_FLOW = b"data: " + b"[" * 10_000 + b"]" * 10_000 + b"\n"
DEEP_BLOCK = b"data:\n" + b"".join(b"  " * i + b"k:\n" for i in range(1, MAX_YAML_DEPTH + 3)) + (
    b"  " * (MAX_YAML_DEPTH + 3) + b"x: 1\n")
HUGE_SECRET = b"data:\n  k: " + base64.b64encode(b"\0" * (MAX_MEMBER_BYTES * 3 // 4 + 16)) + b"\n"


# --- the table ------------------------------------------------------------------------------

def _both(case_id: str, where: str, problem: str, files: Change | None = None,
          manifest: Callable[[dict[str, Any]], None] | None = None,
          **options: bool) -> list[Hostile]:
    directory, archive = _tampered(files, manifest, **options)
    return [Hostile(case_id, "directory", directory, where, problem),
            Hostile(case_id, "archive", archive, where, problem)]


def _one(case_id: str, form: str, make: Make, where: str, problem: str,
         **limits: int) -> Hostile:
    return Hostile(case_id, form, make, where, problem, dict(limits))


CORPUS: list[Hostile] = [
    # leaving the bundle: traversal, absolute paths, links
    _one("traversal", "archive", _archive(_plus(_escape(f"../../{ESCAPE}"))),
         r"\.\./\.\./escaped\.yaml",
         "path escapes the bundle"),
    _one("nested-traversal", "archive", _archive(_plus(_escape(f"objects/../../../{ESCAPE}"))),
         r"objects/\.\./\.\./\.\./escaped\.yaml", "path escapes the bundle"),
    _one("absolute-path", "archive", _absolute_member, r"/.*/escaped\.yaml", "absolute path"),
    _one("symlink-member", "archive",
         _archive(_plus((special_member("objects/core/link.yaml", tarfile.SYMTYPE,
                                        f"../../{ESCAPE}"), None))),
         "objects/core/link.yaml", "is a symbolic link"),
    _one("hardlink-member", "archive",
         _archive(_plus((special_member("objects/core/hard.yaml", tarfile.LNKTYPE,
                                        SECRET_FILE), None))),
         "objects/core/hard.yaml", "is a hard link"),
    _one("symlink-file", "directory", _directory(make_symlink), SECRET_FILE, "is a symbolic link"),
    _one("symlink-directory", "directory", _directory(make_dir_symlink), "objects/core",
         "is a symbolic link"),
    _one("hardlink-file", "directory", _directory(make_hardlink), SECRET_FILE, "is a hard link"),
    # devices and FIFOs
    _one("char-device-member", "archive",
         _archive(_plus((special_member("objects/zero", tarfile.CHRTYPE), None))),
         "objects/zero", "is a device"),
    _one("block-device-member", "archive",
         _archive(_plus((special_member("objects/sda", tarfile.BLKTYPE), None))),
         "objects/sda", "is a device"),
    _one("fifo-member", "archive",
         _archive(_plus((special_member("objects/pipe", tarfile.FIFOTYPE), None))),
         "objects/pipe", "is a FIFO"),
    _one("fifo-file", "directory", _directory(make_fifo), "objects/core/Secret/prod/pipe.yaml",
         "is a FIFO"),
    _one("fifo-as-manifest", "directory", _directory(_fifo_for_manifest), "manifest.json",
         "is a FIFO"),
    # duplicates
    _one("duplicate-member", "archive", _archive(_duplicate_secret), SECRET_FILE,
         "appears twice in the archive"),
    _one("duplicate-member-other-spelling", "archive", _archive(_duplicate_other_spelling),
         "manifest.json", "appears twice in the archive"),
    # bombs and huge sizes
    _one("member-declares-64-gib", "archive", _archive(_huge_declared_member),
         "objects/core/Secret/prod/huge.yaml", "over the limit of 16 MiB"),
    _one("zstd-bomb", "archive", _zstd_bomb, "archive", "too large",
         MAX_TOTAL_BYTES=4 * 1024 * 1024),
    _one("sparse-file-over-member-limit", "directory",
         _directory(_sparse(SECRET_FILE, MAX_MEMBER_BYTES + 1)), SECRET_FILE,
         "over the limit of 16 MiB"),
    _one("sparse-manifest-over-limit", "directory",
         _directory(_sparse("manifest.json", MAX_MANIFEST_BYTES + 1)), "manifest.json",
         "over the limit of 64 MiB"),
    _one("sparse-files-over-total-limit", "directory",
         _directory(_sparse("objects/big.yaml", MAX_TOTAL_BYTES + 1)), "objects/big.yaml",
         "the bundle exceeds 1024 MiB"),
    *_both("yaml-alias-bomb", SECRET_FILE, "anchors are not allowed",
           {SECRET_FILE: _secret_with(BILLION_LAUGHS)}),
    # libyaml's own depth limit may speak first for flow style: either refusal is clear.
    *_both("yaml-deep-flow-nesting", SECRET_FILE,
           f"deeper than {MAX_YAML_DEPTH}|exceeded maximum nesting depth",
           {SECRET_FILE: _secret_with(DEEP_FLOW)}),
    *_both("yaml-deep-block-nesting", SECRET_FILE, f"deeper than {MAX_YAML_DEPTH}",
           {SECRET_FILE: _secret_with(DEEP_BLOCK)}),
    *_both("yaml-over-member-limit", SECRET_FILE, "over the limit of 16 MiB",
           {SECRET_FILE: _secret_with(HUGE_SECRET)}),
    # the manifest fails the schema, has an unknown version, or lies
    *_both("manifest-unknown-field", r"manifest\.json \(top level\)",
           "Additional properties .*'smuggled'", manifest=lambda d: d.update(smuggled=True)),
    *_both("manifest-wrong-type", r"manifest\.json objects\[0\]\.wave", "is not of type",
           manifest=lambda d: d["objects"][0].update(wave="0")),
    *_both("manifest-format-version-3", r"manifest\.json formatVersion",
           r"format 3 is not one this movekit reads",
           manifest=lambda d: d.update(formatVersion=3)),
    *_both("manifest-checksum-lie", SECRET_FILE, "checksum mismatch",
           {SECRET_FILE: _edit(SECRET_FILE, "c1-ca", "c1-cb")}, fix_checksums=False),
    *_both("manifest-digest-lie", r"manifest\.json digest", "does not match the manifest",
           manifest=lambda d: d["providers"][0].update(version="v9.9.9"), fix_digest=False),
    *_both("object-name-lie", SECRET_FILE, "metadata.name is 'kube-root' but the manifest",
           {SECRET_FILE: _edit(SECRET_FILE, "name: c1-ca", "name: kube-root")}),
    *_both("object-namespace-lie", SECRET_FILE, "metadata.namespace is 'kube-system'",
           {SECRET_FILE: _edit(SECRET_FILE, "namespace: prod", "namespace: kube-system")}),
    *_both("object-kind-lie", SECRET_FILE,
           "kind is 'ClusterRoleBinding' but the manifest says 'Secret'",
           {SECRET_FILE: _edit(SECRET_FILE, "kind: Secret", "kind: ClusterRoleBinding")}),
    *_both("object-api-version-lie", CLUSTER_FILE, "apiVersion is 'rbac.authorization.k8s.io/v1'",
           {CLUSTER_FILE: _edit(CLUSTER_FILE, "cluster.x-k8s.io/v1beta2\nkind",
                                "rbac.authorization.k8s.io/v1\nkind")}),
    *_both("crd-identity-lie", CRD_FILE, "metadata.name is 'machines.cluster.x-k8s.io'",
           {CRD_FILE: _edit(CRD_FILE, "name: clusters.", "name: machines.")}),
    *_both("manifest-key-with-control-characters",
           r"manifest\.json namespaces\[0\]\.annotations(\['\\x1b\[2J\\nowned'\])?",
           "is not|does not match", manifest=_label_key_with_escape),
    *_both("manifest-lone-surrogate", "manifest.json", "unpaired surrogate",
           {"manifest.json": _lone_surrogate}),
    # extra and missing files
    *_both("extra-object-file", "objects/core/Secret/prod/smuggled.yaml",
           "not listed in the manifest",
           {"objects/core/Secret/prod/smuggled.yaml": b"kind: Secret\n"}),
    *_both("extra-top-level-file", "install.sh", "not listed in the manifest",
           {"install.sh": b"#!/bin/sh\n"}),
    *_both("missing-object-file", SECRET_FILE, "listed in the manifest but missing",
           {SECRET_FILE: None}),
    *_both("missing-manifest", "manifest.json", "missing; this is not a movekit bundle",
           {"manifest.json": None}),
    # truncated archives
    _one("archive-cut-in-half", "archive", _archive_bytes(lambda data: data[: len(data) // 2]),
         "archive", "truncated"),
    _one("archive-last-byte-missing", "archive", _archive_bytes(lambda data: data[:-1]),
         "archive", "truncated"),
    _one("tar-end-marker-missing", "archive", _tar_cut_before_end_marker, "archive",
         "end-of-archive marker is missing"),
    _one("garbage-after-zstd-frame", "archive", _archive_bytes(lambda data: data + b"\x7fELF"),
         "archive", "not a valid zstd stream"),
    # non-UTF-8 and NUL bytes
    *_both("object-not-utf8", SECRET_FILE, "not valid UTF-8",
           {SECRET_FILE: _secret_with(b"data:\n  k: \xc3\x28\n")}),
    *_both("object-nul-byte", SECRET_FILE, "NUL byte",
           {SECRET_FILE: _secret_with(b"data:\n  k: a\x00b\n")}),
    *_both("manifest-not-utf8", "manifest.json", "not valid UTF-8",
           {"manifest.json": b'{"formatVersion": 1, "x": "\xff"}'}),
    *_both("manifest-nul-byte", "manifest.json", "NUL byte",
           {"manifest.json": b'{"formatVersion": 1}\x00'}),
    _one("member-name-not-utf8", "archive",
         _archive(_plus((file_member("objects/bad\udcff.yaml", b"x"), b"x"))),
         r"'objects/bad\\udcff\.yaml'",
         "not valid UTF-8"),
    _one("file-name-not-utf8", "directory", _directory(make_bad_name),
         r"'objects/\\udcff\.yaml'", "not valid UTF-8"),
    _one("member-name-with-control-characters", "archive",
         _archive(_plus((file_member("objects/x\x1b[2Jerror: all good\n.yaml", b"x"), b"x"))),
         r"'objects/x\\x1b\[2Jerror: all good\\n\.yaml'", "control or non-printable"),
    _one("file-name-with-control-characters", "directory", _directory(_control_name),
         r"'objects/x\\x1b\[2Jerror: all good\\n\.yaml'", "control or non-printable"),
    # not a bundle at all, though named as one
    replace(_one("fifo-named-as-archive", "archive", _fifo_bundle, "",
                 "neither a bundle directory nor a .tar.zst archive"),
            flag_refusal="not a regular file"),
]
