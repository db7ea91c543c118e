"""The fast manifest check never accepts what jsonschema rejects, and accepts real manifests."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from movekit.bundle import read_bundle
from movekit.bundle.fastschema import Unsupported, Validator, compile_check, ecma_pattern
from movekit.bundle.layout import MANIFEST_FILE
from movekit.bundle.manifest import _fast_check, _validator
from movekit.errors import InvalidBundle
from tests.bundle.bundle_samples import tamper, write_sample

# Values of every JSON type, and the look-alikes where Python and JSON Schema disagree.
REPLACEMENTS: list[Any] = [None, True, False, 0, 1, 1.0, -1, 10**6, "", "x", "A" * 300,
                           "1.0", [], ["a", "a"], [1, True], {}, {"x": 1}]


def _paths(doc: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield path
    if isinstance(doc, dict):
        for key, value in doc.items():
            yield from _paths(value, (*path, key))
    elif isinstance(doc, list):
        for index, value in enumerate(doc[:2]):
            yield from _paths(value, (*path, index))


def _mutations(doc: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for path in _paths(doc):
        if not path:
            continue
        for replacement in [*REPLACEMENTS, "<delete>", "<extra>"]:
            mutated = copy.deepcopy(doc)
            parent = mutated
            for part in path[:-1]:
                parent = parent[part]
            if replacement == "<delete>":
                del parent[path[-1]]
            elif replacement == "<extra>":
                if not isinstance(parent[path[-1]], dict):
                    continue
                parent[path[-1]]["unexpected"] = "x"
            else:
                parent[path[-1]] = replacement
            yield mutated


@pytest.fixture(scope="module")
def manifest(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    bundle: Path = tmp_path_factory.mktemp("sample") / "bundle"
    write_sample(bundle)
    doc: dict[str, Any] = json.loads((bundle / MANIFEST_FILE).read_text())
    return doc


def test_a_real_manifest_passes_the_fast_check(manifest: dict[str, Any]) -> None:
    assert _fast_check()(manifest)


def test_the_fast_check_accepts_nothing_jsonschema_rejects(manifest: dict[str, Any]) -> None:
    fast, slow = _fast_check(), _validator()
    checked = 0
    for mutated in _mutations(manifest):
        if fast(mutated):
            assert slow.is_valid(mutated), json.dumps(mutated)[:300]
        checked += 1
    assert checked > 500


def test_a_schema_with_an_unknown_keyword_does_not_compile() -> None:
    with pytest.raises(Unsupported):
        compile_check({"type": "object", "patternProperties": {"^x": {"type": "string"}}})


@pytest.mark.parametrize("passphrase", [True, False, 1, None])
@pytest.mark.parametrize("identity", ["-----BEGIN AGE ENCRYPTED FILE-----", None, 1])
@pytest.mark.parametrize("recipients", [[], ["age1" + "q" * 58]])
def test_conditional_parts_of_the_schema_are_checked_as_jsonschema_does(
        manifest: dict[str, Any], passphrase: Any, identity: Any, recipients: list[str]) -> None:
    doc = copy.deepcopy(manifest)
    doc["encryption"] = {"scheme": "age", "recipients": recipients, "passphrase": passphrase,
                         "passphraseIdentity": identity}
    if _fast_check()(doc):
        assert _validator().is_valid(doc)


@pytest.mark.parametrize("edit", [
    lambda doc: doc["objects"][0].update(name=doc["objects"][0]["name"] + "\n"),
    lambda doc: doc["tool"].update(version=doc["tool"]["version"] + "\n"),
    lambda doc: doc["objects"][0].update(sha256=doc["objects"][0]["sha256"] + "\n"),
    lambda doc: doc.update(createdAt=doc["createdAt"] + "\n"),
], ids=["name", "tool-version", "sha256", "created-at"])
def test_a_pattern_ends_at_the_end_of_the_text_not_before_a_final_newline(
    tmp_path: Path, edit: Any
) -> None:
    # JSON Schema's ``$`` is ECMA-262's; Python's also matches before a trailing newline.
    bundle = tmp_path / "bundle"
    write_sample(bundle)
    tamper(bundle, manifest=edit)

    with pytest.raises(InvalidBundle, match=r"manifest\.json \S+: .*does not match"):
        read_bundle(bundle)


@pytest.mark.parametrize(("pattern", "text", "matches"), [
    ("^a$", "a", True), ("^a$", "a\n", False), ("^[$]$", "$", True),
    (r"^\$$", "$", True), (r"^\$$", "$\n", False), ("^a$|^b$", "b\n", False),
])
def test_ecma_pattern_reads_dollar_as_the_end_of_the_text(
    pattern: str, text: str, matches: bool
) -> None:
    assert (ecma_pattern(pattern).search(text) is not None) is matches
    assert (next(Validator({"pattern": pattern}).iter_errors(text), None) is None) is matches
