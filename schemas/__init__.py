"""JSON Schemas of movekit's files (bundle manifest, move journal) and command outputs."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any


@cache
def _text(name: str) -> str:
    return resources.files(__name__).joinpath(name).read_text(encoding="utf-8")


def load_schema(name: str) -> dict[str, Any]:
    """The schema document ``name`` (e.g. ``"manifest.v1.json"``), freshly parsed."""
    document: dict[str, Any] = json.loads(_text(name))
    return document
