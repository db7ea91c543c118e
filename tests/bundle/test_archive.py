"""Hostile archives: every container-level attack is refused, and reading writes nothing."""

from __future__ import annotations

import io
import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest
import zstandard

from movekit.bundle import MAX_MEMBER_BYTES, read_bundle
from movekit.bundle import archive as archive_module
from movekit.errors import InvalidBundle
from tests.bundle.bundle_samples import (
    SECRET_FILE,
    file_member,
    members_of,
    raw_archive,
    snapshot,
    special_member,
    tar_bytes,
    write_sample,
)

Members = list[tuple[tarfile.TarInfo, bytes | None]]


def with_extra(*extra: tuple[tarfile.TarInfo, bytes | None]) -> Callable[[Members], Members]:
    return lambda members: [*members, *extra]


def pax_bomb(members: Members) -> Members:
    info = file_member("objects/core/Secret/prod/padding.yaml", b"x")
    info.pax_headers = {"comment": "x" * (2 * 1024 * 1024)}
    return [*members, (info, b"x")]


def oversize(members: Members) -> Members:
    data = b"\0" * (MAX_MEMBER_BYTES + 1)
    return [*members, (file_member("objects/core/Secret/prod/huge.yaml", data), data)]


def bad_name(members: Members) -> Members:
    return [*members, (file_member("objects/bad\udcff.yaml", b"x"), b"x")]


HOSTILE = [
    ("traversal", with_extra((file_member("../evil.yaml", b"x"), b"x")),
     "../evil.yaml", "path escapes the bundle"),
    ("nested-traversal", with_extra((file_member("objects/../../evil.yaml", b"x"), b"x")),
     "objects/../../evil.yaml", "path escapes the bundle"),
    ("absolute", with_extra((file_member("/tmp/evil.yaml", b"x"), b"x")),
     "/tmp/evil.yaml", "absolute path"),
    ("symlink", with_extra((special_member("objects/core/link.yaml", tarfile.SYMTYPE,
                                           "/etc/passwd"), None)),
     "objects/core/link.yaml", "is a symbolic link"),
    ("hardlink", with_extra((special_member("objects/core/hard.yaml", tarfile.LNKTYPE,
                                            SECRET_FILE), None)),
     "objects/core/hard.yaml", "is a hard link"),
    ("char-device", with_extra((special_member("objects/null", tarfile.CHRTYPE), None)),
     "objects/null", "is a device"),
    ("block-device", with_extra((special_member("objects/sda", tarfile.BLKTYPE), None)),
     "objects/sda", "is a device"),
    ("fifo", with_extra((special_member("objects/pipe", tarfile.FIFOTYPE), None)),
     "objects/pipe", "is a FIFO"),
    ("duplicate", lambda members: [*members, next(m for m in members if m[0].name == SECRET_FILE)],
     SECRET_FILE, "appears twice in the archive"),
    ("duplicate-spelled-differently",
     lambda members: [*members, (file_member("./manifest.json", b"{}"), b"{}")],
     "manifest.json", "appears twice in the archive"),
    ("oversize-member", oversize, "objects/core/Secret/prod/huge.yaml", "over the limit of 16 MiB"),
    ("giant-pax-header", pax_bomb, "archive", "too large"),
    ("non-utf8-name", bad_name, "'objects/bad\\udcff.yaml'", "not valid UTF-8"),
    ("extra-directory", with_extra((special_member("objects/empty", tarfile.DIRTYPE), None)),
     "objects/empty", "directory not used"),
]


@pytest.mark.parametrize(("change", "where", "problem"),
                         [case[1:] for case in HOSTILE], ids=[case[0] for case in HOSTILE])
def test_a_hostile_archive_is_refused_and_nothing_is_written(
        tmp_path: Path, change: Callable[[Members], Members], where: str | None,
        problem: str) -> None:
    (tmp_path / "work").mkdir()
    write_sample(tmp_path / "work" / "bundle")
    members = change(members_of(tmp_path / "work" / "bundle"))
    path = raw_archive(tmp_path / "work" / "hostile.tar.zst", members)
    before = snapshot(tmp_path)
    with pytest.raises(InvalidBundle) as caught:
        read_bundle(path)
    message = str(caught.value)
    prefix = f"{path}: {where}: " if where else f"{path}: "
    assert message.startswith(prefix), message
    assert problem in message
    assert snapshot(tmp_path) == before
    assert not (tmp_path / "evil.yaml").exists()


def valid_archive(tmp_path: Path) -> bytes:
    write_sample(tmp_path / "b.tar.zst")
    return (tmp_path / "b.tar.zst").read_bytes()


@pytest.mark.parametrize("keep", [0.5, 0.9, -1, -4, 5])
def test_a_truncated_archive_is_refused_as_truncated(tmp_path: Path, keep: float) -> None:
    data = valid_archive(tmp_path)
    cut = int(len(data) * keep) if isinstance(keep, float) else (
        len(data) + keep if keep < 0 else keep)
    (tmp_path / "cut.tar.zst").write_bytes(data[:cut])
    with pytest.raises(InvalidBundle, match=r"cut.tar.zst: archive: truncated"):
        read_bundle(tmp_path / "cut.tar.zst")


def test_a_tar_without_its_end_marker_is_refused_as_truncated(tmp_path: Path) -> None:
    write_sample(tmp_path / "b")
    raw = tar_bytes(members_of(tmp_path / "b"), end_marker=False)
    (tmp_path / "short.tar.zst").write_bytes(zstandard.ZstdCompressor().compress(raw))
    with pytest.raises(InvalidBundle, match="end-of-archive marker is missing"):
        read_bundle(tmp_path / "short.tar.zst")


@pytest.mark.parametrize(("damage", "problem"), [
    (lambda data: data + b"garbage!", "not a valid zstd stream"),
    (lambda data: data[:200] + bytes([data[200] ^ 0xFF]) + data[201:], "archive: "),
    (lambda data: data[:4], "truncated"),
])
def test_a_damaged_zstd_stream_is_refused(tmp_path: Path, damage: Callable[[bytes], bytes],
                                          problem: str) -> None:
    (tmp_path / "bad.tar.zst").write_bytes(damage(valid_archive(tmp_path)))
    with pytest.raises(InvalidBundle, match=problem):
        read_bundle(tmp_path / "bad.tar.zst")


def test_data_after_the_last_member_is_refused(tmp_path: Path) -> None:
    write_sample(tmp_path / "b")
    raw = tar_bytes(members_of(tmp_path / "b")) + b"hidden payload" + b"\0" * 1024
    (tmp_path / "tail.tar.zst").write_bytes(zstandard.ZstdCompressor().compress(raw))
    with pytest.raises(InvalidBundle, match="unexpected data after the last member"):
        read_bundle(tmp_path / "tail.tar.zst")


def test_a_plain_tar_is_not_taken_for_a_bundle(tmp_path: Path) -> None:
    write_sample(tmp_path / "b")
    path = raw_archive(tmp_path / "plain.tar", members_of(tmp_path / "b"), compress=False)
    with pytest.raises(InvalidBundle, match=r"neither a bundle directory nor a \.tar\.zst"):
        read_bundle(path)


def test_a_zstd_bomb_stops_at_the_total_limit(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(archive_module, "MAX_TOTAL_BYTES", 4 * 1024 * 1024)
    zeros = b"\0" * (3 * 1024 * 1024)
    members = [(file_member(f"objects/core/Secret/prod/z{i}.yaml", zeros), zeros)
               for i in range(3)]
    path = raw_archive(tmp_path / "bomb.tar.zst", members)
    assert path.stat().st_size < 10_000
    with pytest.raises(InvalidBundle, match="archive: too large"):
        read_bundle(path)


def test_the_member_count_is_limited(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(archive_module, "MAX_MEMBERS", 5)
    members = [(special_member(f"d{i}", tarfile.DIRTYPE), None) for i in range(10)]
    with pytest.raises(InvalidBundle, match="more than 5 members"):
        read_bundle(raw_archive(tmp_path / "many.tar.zst", members))


def test_an_oversize_manifest_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(archive_module, "MAX_MANIFEST_BYTES", 1024)
    write_sample(tmp_path / "b")
    with pytest.raises(InvalidBundle, match=r"manifest\.json: is \d+ bytes, over the limit"):
        read_bundle(raw_archive(tmp_path / "m.tar.zst", members_of(tmp_path / "b")))


def test_an_archive_made_by_tar_tools_with_dot_prefixes_is_accepted(tmp_path: Path) -> None:
    write_sample(tmp_path / "b")
    members: Members = [(special_member(".", tarfile.DIRTYPE), None)]
    for info, data in members_of(tmp_path / "b"):
        info.name = "./" + info.name
        members.append((info, data))
    bundle = read_bundle(raw_archive(tmp_path / "dots.tar.zst", members))
    assert len(bundle.entries) == 5


def test_an_archive_split_into_several_zstd_frames_is_accepted(tmp_path: Path) -> None:
    write_sample(tmp_path / "b")
    raw = tar_bytes(members_of(tmp_path / "b"))
    compressor = zstandard.ZstdCompressor(write_checksum=True)
    half = len(raw) // 2
    (tmp_path / "frames.tar.zst").write_bytes(compressor.compress(raw[:half])
                                              + compressor.compress(raw[half:]))
    assert len(read_bundle(tmp_path / "frames.tar.zst").entries) == 5


def test_reading_a_valid_bundle_writes_nothing(tmp_path: Path) -> None:
    write_sample(tmp_path / "b")
    write_sample(tmp_path / "b.tar.zst")
    before = snapshot(tmp_path)
    for name in ("b", "b.tar.zst"):
        bundle = read_bundle(tmp_path / name)
        for entry in bundle.entries:
            bundle.load(entry)
    assert snapshot(tmp_path) == before


def test_a_chain_of_pax_headers_is_refused(tmp_path: Path) -> None:
    header = tarfile.TarInfo("pax")
    header.type = tarfile.XGLTYPE  # an empty global header; tarfile recurses into the next one
    raw = header.tobuf(tarfile.USTAR_FORMAT) * 5000
    (tmp_path / "chain.tar.zst").write_bytes(zstandard.ZstdCompressor().compress(raw))
    with pytest.raises(InvalidBundle, match="archive: not a valid tar stream"):
        read_bundle(tmp_path / "chain.tar.zst")


def _tarfile_stream(root: Path, names: list[str]) -> bytes:
    """What tarfile writes for the members write_archive writes."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tar:
        for name in names:
            info = tarfile.TarInfo(name)
            info.mtime = 0
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            path = root / name
            if path.is_dir():
                info.type, info.mode = tarfile.DIRTYPE, 0o700
                tar.addfile(info)
            else:
                info.mode = 0o600
                info.size = path.stat().st_size
                with path.open("rb") as member:
                    tar.addfile(info, member)
    return out.getvalue()


@pytest.mark.parametrize("name", [
    "objects/core/Secret/prod/c1-kubeconfig.yaml",
    "x" * 100,  # the longest name a plain ustar header holds
    "objects/" + "y" * 120 + ".yaml",  # longer: a PAX header carries it
    "objects/core/ConfigMap/prod/caf\u00e9.yaml",  # not ASCII: a PAX header too
])
@pytest.mark.parametrize("size", [0, 1, 511, 512, 70_000])
def test_member_headers_are_the_ones_tarfile_writes(name: str, size: int) -> None:
    info = tarfile.TarInfo(name)
    info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "", ""
    info.mode, info.size = 0o600, size
    expected = info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape")
    assert archive_module.member_header(name, size) == expected
    info = tarfile.TarInfo(name)
    info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "", ""
    info.type, info.mode = tarfile.DIRTYPE, 0o700
    expected = info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape")
    assert archive_module.member_header(name, 0, directory=True) == expected


def test_the_archive_holds_the_tar_stream_tarfile_writes(tmp_path: Path) -> None:
    write_sample(tmp_path / "bundle")
    root = tmp_path / "bundle"
    files = sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())
    every = sorted((str(p.relative_to(root)) for p in root.rglob("*")),
                   key=lambda name: tuple(name.split("/")))
    out = io.BytesIO()
    archive_module.write_archive(root, files, out)
    stream = zstandard.ZstdDecompressor().decompressobj().decompress(out.getvalue())
    assert stream == _tarfile_stream(root, every)
