"""``python -m bench.tar``: the archive writer's hand-written tar headers against ``tarfile``.

Prints, for 10,000 members named like a bundle's objects, the time of
:func:`movekit.bundle.archive.member_header` against ``tarfile.TarInfo.tobuf`` (the same bytes),
and of a whole ``.tar.zst`` by :func:`movekit.bundle.archive.write_members` against
``tarfile.addfile`` into the same zstd stream.
"""

from __future__ import annotations

import io
import tarfile
import timeit
from collections.abc import Callable, Iterator

import zstandard

from movekit.bundle.archive import DEFAULT_LEVEL, member_header, write_members

MEMBERS = 10_000
DATA = b"x" * 3000  # about the size of a sanitized Cluster API object
NAMES = [f"objects/infrastructure.cluster.x-k8s.io/DockerMachine/prod/md-0-{i:05d}.yaml"
         for i in range(MEMBERS)]


def tarfile_header(name: str, size: int) -> bytes:
    info = tarfile.TarInfo(name)
    info.mtime = 0
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.mode = 0o600
    info.size = size
    return info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape")


def _read(_name: str) -> tuple[int, Iterator[bytes]]:
    return len(DATA), iter([DATA])


def movekit_archive() -> None:
    write_members(NAMES, _read, io.BytesIO())


def tarfile_archive() -> None:
    out = io.BytesIO()
    compressor = zstandard.ZstdCompressor(level=DEFAULT_LEVEL)
    with compressor.stream_writer(out, closefd=False) as zstd_out, \
            tarfile.open(fileobj=zstd_out, mode="w|", format=tarfile.PAX_FORMAT) as tar:
        for name in NAMES:
            info = tarfile.TarInfo(name)
            info.mtime, info.mode, info.size = 0, 0o600, len(DATA)
            info.uname = info.gname = ""
            tar.addfile(info, io.BytesIO(DATA))


def _best(run: Callable[[], object], repeat: int) -> float:
    return min(timeit.repeat(run, number=1, repeat=repeat))


def main() -> None:
    if any(member_header(n, len(DATA)) != tarfile_header(n, len(DATA)) for n in NAMES):
        raise SystemExit("member_header and tarfile disagree")
    ours = _best(lambda: [member_header(n, len(DATA)) for n in NAMES], 5)
    theirs = _best(lambda: [tarfile_header(n, len(DATA)) for n in NAMES], 5)
    print(f"headers: member_header {ours * 1e3:.0f} ms, tarfile {theirs * 1e3:.0f} ms, "
          f"{theirs / ours:.1f}x")
    ours = _best(movekit_archive, 3)
    theirs = _best(tarfile_archive, 3)
    print(f"archive: write_members {ours * 1e3:.0f} ms, tarfile {theirs * 1e3:.0f} ms, "
          f"{theirs / ours:.1f}x")


if __name__ == "__main__":
    main()
