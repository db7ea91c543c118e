"""The model types and the JSON Schemas that describe them change together, or a test fails."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from movekit.bundle.manifest import SCHEMA_FILE, Source
from movekit.journal import Phase
from movekit.model import Exclusion, KindInfo, NamespaceEntry, Provider, Reason, Selection
from movekit.schemas import load_schema
from tests.bundle.bundle_samples import write_sample

# Each manifest record (or list of them), its type, and the JSON keys each field is written as.
# A field that maps to no key is one the manifest does not record.
MANIFEST_RECORDS: dict[str, tuple[type[Any], dict[str, tuple[str, ...]]]] = {
    "kinds": (KindInfo, {
        "group": ("group",), "version": ("version",), "kind": ("kind",), "plural": ("plural",),
        "namespaced": ("namespaced",), "crd_name": ("crd",), "move": (), "move_hierarchy": (),
    }),
    "selection": (Selection, {"namespace": ("namespace",), "clusters": ("clusters",)}),
    "source": (Source, {"server": ("server",), "kubernetes_version": ("kubernetesVersion",),
                        "left_paused": ("leftPaused",)}),
    "providers": (Provider, {
        "name": ("name",), "namespace": ("namespace",), "type": ("type",),
        "version": ("version",),
    }),
    "namespaces": (NamespaceEntry, {
        "name": ("name",), "labels": ("labels",), "annotations": ("annotations",),
    }),
    "excluded": (Exclusion, {
        "ref": ("kind", "namespace", "name"), "api_version": ("apiVersion",),
        "reason": ("reason",), "detail": ("detail",),
    }),
}


def _items(schema: dict[str, Any], key: str) -> dict[str, Any]:
    """The schema of one record under ``key``: the items of a list, or the object itself."""
    node: dict[str, Any] = schema["properties"][key]
    return node.get("items", node)


@pytest.mark.parametrize("key", sorted(MANIFEST_RECORDS))
def test_manifest_schema_lists_exactly_the_fields_of_its_record_type(key: str) -> None:
    record, keys = MANIFEST_RECORDS[key]
    assert {f.name for f in dataclasses.fields(record)} == set(keys), (
        f"{record.__name__} changed: say in MANIFEST_RECORDS how the manifest writes it")
    written = {json_key for json_keys in keys.values() for json_key in json_keys}
    items = _items(load_schema(SCHEMA_FILE), key)
    assert set(items["properties"]) == written
    assert set(items["required"]) == written


@pytest.mark.parametrize("key", sorted(MANIFEST_RECORDS))
def test_manifest_writes_each_record_with_the_keys_its_schema_lists(key: str,
                                                                    tmp_path: Path) -> None:
    written = write_sample(tmp_path / "bundle").to_json()[key]
    entries = written if isinstance(written, list) else [written]
    assert entries, f"the sample manifest has no {key} to check"
    items = _items(load_schema(SCHEMA_FILE), key)
    assert all(set(entry) == set(items["properties"]) for entry in entries)


def test_exclusion_reasons_are_the_manifest_schema_enum() -> None:
    items = _items(load_schema(SCHEMA_FILE), "excluded")
    assert items["properties"]["reason"]["enum"] == [reason.value for reason in Reason]


def test_journal_phases_are_the_journal_schema_enum() -> None:
    schema = load_schema("journal.v1.json")
    assert schema["properties"]["phase"]["enum"] == [phase.value for phase in Phase]
