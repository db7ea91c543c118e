"""The fixture CRDs are as strict as upstream Cluster API wherever the fixtures write.

The project's CRDs (crds/) are compact: kubesim installs them for every test. For each kind
the upstream Cluster API CRDs also define, the storage version's schema is upstream's schema
cut down to the fields some fixture object writes — every constraint on those fields
(types, required, enums, lengths, patterns, list types, CEL rules) kept as upstream has it,
every field no fixture touches left out. Regenerate after changing fixtures:

    python -m kubesim.capi.strictness ../shared/capi-crds

and `kubesim/tests/test_capi_crds.py` checks, where the upstream CRDs are at hand, that the
committed schemas are what this module makes of them.
"""

from __future__ import annotations

import copy
import itertools
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from kubesim.refs import split_api_version

from .install import CRD_DIR, upstream_crd_documents
from .model import ObjectSpec, resolve_all

# Path steps: a property name, ITEM for an array element, VALUE for a map value.
ITEM, VALUE = "[]", "{}"
Path_ = tuple[str, ...]
GroupKind = tuple[str, str]


def fixture_objects() -> list[ObjectSpec]:
    """Every object the tests seed: each topology's and a generated fleet's."""
    from .fleet import fleet
    from .topologies import TOPOLOGIES

    objects = [spec for topology in TOPOLOGIES.values() for spec in topology.objects]
    return objects + list(fleet(3, machines=2, namespaces=2).objects)


def written_paths(objects: Iterable[ObjectSpec]) -> dict[GroupKind, set[Path_]]:
    """(group, kind) -> every path a fixture object of that kind writes, status included."""
    found: dict[GroupKind, set[Path_]] = {}
    for spec in objects:
        group, _ = split_api_version(spec.api_version)
        body = {k: v for k, v in resolve_all(spec.manifest, "ns").items()
                if k not in ("apiVersion", "kind", "metadata")}
        if spec.status is not None:
            body["status"] = dict(spec.status)
        _collect(body, (), found.setdefault((group, spec.kind), set()))
    return found


def _collect(value: Any, path: Path_, into: set[Path_]) -> None:
    into.add(path)
    if isinstance(value, Mapping):
        for key, child in value.items():
            _collect(child, (*path, str(key)), into)
    elif isinstance(value, list):
        for child in value:
            _collect(child, (*path, ITEM), into)


def cut(schema: Mapping[str, Any], paths: set[Path_], path: Path_ = ()) -> dict[str, Any]:
    """`schema` with only the properties on `paths`; every keyword of what stays is kept."""
    kept = {k: copy.deepcopy(v) for k, v in schema.items()
            if k not in ("properties", "items", "additionalProperties")}
    properties = schema.get("properties")
    if properties is not None:
        wanted = {p[len(path)] for p in paths if len(p) > len(path) and p[:len(path)] == path}
        if path == ():
            wanted |= {"apiVersion", "kind", "metadata"}
        kept["properties"] = {name: cut(sub, paths, (*path, name))
                              for name, sub in properties.items() if name in wanted}
    items = schema.get("items")
    if isinstance(items, Mapping):
        kept["items"] = cut(items, paths, (*path, ITEM))
    extra = schema.get("additionalProperties")
    if isinstance(extra, Mapping):
        # A map's values are written under their keys: every key's paths meet here.
        values = {(*path, VALUE, *p[len(path) + 1:]) for p in paths
                  if len(p) > len(path) and p[:len(path)] == path}
        kept["additionalProperties"] = cut(extra, paths | values, (*path, VALUE))
    elif extra is not None:
        kept["additionalProperties"] = extra
    return kept


def strict_schemas(upstream: Path) -> dict[str, dict[str, Any]]:
    """CRD name -> the storage version's schema the project's CRD must have."""
    paths = written_paths(fixture_objects())
    wanted: dict[str, dict[str, Any]] = {}
    for crd in upstream_crd_documents(upstream):
        spec = crd["spec"]
        touched = paths.get((spec["group"], spec["names"]["kind"]))
        if touched is None:
            continue
        storage = next(v for v in spec["versions"] if v.get("storage"))
        wanted[crd["metadata"]["name"]] = cut(storage["schema"]["openAPIV3Schema"], touched)
    return wanted


def storage_schema(crd: Mapping[str, Any]) -> dict[str, Any]:
    storage = next(v for v in crd["spec"]["versions"] if v.get("storage"))
    schema: dict[str, Any] = storage["schema"]["openAPIV3Schema"]
    return schema


def rewrite(upstream: Path, directory: Path = CRD_DIR) -> list[Path]:
    """Write each project CRD's storage schema from upstream; returns the files changed.
    A file's leading comment lines are kept; the rest is written anew."""
    changed = []
    wanted = strict_schemas(upstream)
    for path in sorted(directory.glob("*.yaml")):
        text = path.read_text()
        crd = yaml.safe_load(text)
        schema = wanted.get(crd["metadata"]["name"])
        if schema is None or storage_schema(crd) == schema:
            continue
        storage = next(v for v in crd["spec"]["versions"] if v.get("storage"))
        storage["schema"]["openAPIV3Schema"] = schema
        header = "".join(itertools.takewhile(lambda line: line.startswith("#"),
                                             text.splitlines(keepends=True)))
        path.write_text(header + yaml.safe_dump(crd, sort_keys=False, width=100))
        changed.append(path)
    return changed


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1 or not Path(args[0]).is_dir():
        print("usage: python -m kubesim.capi.strictness UPSTREAM_CRD_DIR", file=sys.stderr)
        return 2
    for path in rewrite(Path(args[0])):
        print(f"rewrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
