"""Objects held in memory compactly, as zstd-compressed JSON, and decoded on demand.

A management cluster's objects are hundreds of MiB as Python dicts (every key and value is an
object of its own) but a tenth of that as compressed JSON; decoding one again costs about as
much as receiving it. The exporter keeps what it read this way, and the bundle reader what it
verified.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from typing import Any

import zstandard

# Level 1 compresses objects about threefold at several hundred MB/s; higher levels gain little.
_LEVEL = 1


class _Codec(threading.local):
    """zstd contexts are not thread-safe; listing and importing threads each get their own."""

    def __init__(self) -> None:
        self.compressor = zstandard.ZstdCompressor(level=_LEVEL)
        self.decompressor = zstandard.ZstdDecompressor()


_codec = _Codec()


def pack(obj: Mapping[str, Any]) -> bytes:
    """``obj`` (JSON data whose keys are all strings) as compressed JSON."""
    # ensure_ascii keeps any string encodable, even one with a lone surrogate.
    return pack_bytes(json.dumps(obj, separators=(",", ":")).encode("ascii"))


def unpack(blob: bytes) -> dict[str, Any]:
    """A fresh copy of the object :func:`pack` was given."""
    obj: dict[str, Any] = json.loads(unpack_bytes(blob))
    return obj


def pack_bytes(data: bytes) -> bytes:
    compressed = _codec.compressor.compress(data)
    # zstd writes into a buffer sized for the worst case and shrinks it in place, which leaves
    # the heap full of holes: an exact-size copy halves what a thousand clusters take.
    return memoryview(compressed).tobytes()


def unpack_bytes(blob: bytes) -> bytes:
    return bytes(_codec.decompressor.decompress(blob))
