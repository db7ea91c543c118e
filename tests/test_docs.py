"""docs/ says what the code does: generated from it, or checked against it."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from movekit.bundle.manifest import SCHEMA_FILE
from movekit.docgen import REGENERATE, cli_reference
from movekit.model import Reason
from movekit.schemas import load_schema

DOCS = Path(__file__).resolve().parents[1] / "docs"


def test_cli_reference_is_what_the_generator_prints_from_the_code() -> None:
    written = (DOCS / "cli.md").read_text(encoding="utf-8")
    assert written == cli_reference(), f"docs/cli.md is out of date; run: {REGENERATE}"


def _manifest_fields(node: Mapping[str, Any], defs: Mapping[str, Any]) -> Iterator[str]:
    ref = node.get("$ref")
    if isinstance(ref, str):
        node = defs[ref.removeprefix("#/$defs/")]
    for key, child in (node.get("properties") or {}).items():
        yield key
        yield from _manifest_fields(child, defs)
    for child in (node.get("items"), *(node.get("oneOf") or ())):
        if isinstance(child, dict):
            yield from _manifest_fields(child, defs)


def test_bundle_format_describes_every_manifest_field() -> None:
    schema = load_schema(SCHEMA_FILE)
    text = (DOCS / "bundle-format.md").read_text(encoding="utf-8")
    fields = set(_manifest_fields(schema, schema["$defs"]))
    missing = sorted(f for f in fields if f"`{f}`" not in text)
    assert not missing, f"docs/bundle-format.md does not describe manifest fields {missing}"


def test_bundle_format_lists_every_exclusion_reason() -> None:
    text = (DOCS / "bundle-format.md").read_text(encoding="utf-8")
    missing = [reason.value for reason in Reason if f"`{reason.value}`" not in text]
    assert not missing, f"docs/bundle-format.md does not explain exclusion reasons {missing}"


def _links(markdown: str) -> Iterator[str]:
    for target in re.findall(r"\]\(([^)\s]+)\)", markdown):
        if not re.match(r"^[a-z]+://|^#|^mailto:", target):
            yield target.split("#", 1)[0]


@pytest.mark.parametrize("page", sorted(p.relative_to(DOCS).as_posix()
                                        for p in DOCS.rglob("*.md")))
def test_relative_links_in_docs_lead_to_files_that_exist(page: str) -> None:
    path = DOCS / page
    broken = [t for t in _links(path.read_text(encoding="utf-8"))
              if t and not (path.parent / t).exists()]
    assert not broken, f"docs/{page} links to missing files: {broken}"
