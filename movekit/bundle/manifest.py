"""The manifest: what a bundle holds, as typed records and as JSON (``schemas/manifest.v2.json``;
``manifest.v1.json`` for bundles of format 1, which are still read).

The digest is the sha256 of the canonical JSON of the whole manifest except ``createdAt`` and
``digest`` itself. It covers every file through its checksum and the graph (owners, waves,
exclusions) directly, and two exports of the same source state have the same digest.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from importlib import resources
from itertools import islice
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import jsonschema

from movekit.bundle.fastschema import Unsupported, Validator, compile_check
from movekit.bundle.layout import (
    FORMAT_VERSION,
    MANIFEST_FILE,
    MAX_MANIFEST_VALUES,
    READABLE_FORMAT_VERSIONS,
    BundleDefect,
    crd_path,
    load_json,
    object_path,
)
from movekit.model import Exclusion, KindInfo, NamespaceEntry, Provider, Reason, Selection
from movekit.refs import ObjectRef, split_api_version
from movekit.version import __version__

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "schemas"


def schema_file(version: int = FORMAT_VERSION) -> str:
    """The name of the schema of manifests of format ``version``."""
    return f"manifest.v{version}.json"


SCHEMA_FILE = schema_file()


@dataclass(frozen=True)
class Owner:
    """One ownerReference of a moved object, resolved to the owner's identity."""

    ref: ObjectRef
    uid: str  # the owner's UID in the source cluster
    api_version: str
    controller: bool | None = None
    block_owner_deletion: bool | None = None


@dataclass
class ObjectEntry:
    """A moved object. ``file`` and ``sha256`` are filled in when the object is written."""

    ref: ObjectRef
    api_version: str
    source_uid: str
    owners: list[Owner]
    soft_owners: list[ObjectRef]
    wave: int
    is_global: bool
    keep_in_source: bool
    was_paused: bool | None
    file: str = ""
    sha256: str = ""


@dataclass(frozen=True)
class CrdEntry:
    name: str
    file: str
    sha256: str


@dataclass(frozen=True)
class Source:
    server: str
    kubernetes_version: str
    # Whether the export left every Cluster and ClusterClass of the bundle paused in the source;
    # None when unknown (a bundle of format 1, a directory clusterctl wrote).
    left_paused: bool | None = None


@dataclass(frozen=True)
class Manifest:
    format_version: int
    tool_version: str
    created_at: str
    source: Source
    selection: Selection
    kinds: tuple[KindInfo, ...]
    providers: tuple[Provider, ...]
    namespaces: tuple[NamespaceEntry, ...]
    objects: tuple[ObjectEntry, ...]
    crds: tuple[CrdEntry, ...]
    excluded: tuple[Exclusion, ...]
    digest: str
    encryption: Mapping[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        return _to_json(self, self.digest)

    def files(self) -> dict[str, str]:
        """Every file the manifest lists, with its sha256."""
        listed = {entry.file: entry.sha256 for entry in self.objects}
        listed.update((crd.file, crd.sha256) for crd in self.crds)
        return listed


def strip_credentials(server: str) -> str:
    """The API server URL without user info, query or fragment, which can carry credentials."""
    parts = urlsplit(server)
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def build_manifest(
    *,
    objects: Iterable[ObjectEntry],
    crds: Iterable[CrdEntry],
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
    """A complete manifest in canonical order, with its digest.

    The object entries become part of the manifest as they are (their soft owners sorted):
    a manifest of thousands of objects is checked and hashed one entry at a time, never held
    twice. Raises ValueError when the pieces do not make a bundle that a reader would accept
    (a schema violation, an owner that is not in the bundle, ...): catching that at export
    beats shipping it.
    """
    entries = sorted(objects, key=lambda e: (e.wave, e.ref))
    for entry in entries:
        entry.soft_owners.sort()
    manifest = Manifest(
        format_version=FORMAT_VERSION,
        tool_version=tool_version,
        created_at=rfc3339(created_at or datetime.now(UTC)),
        source=Source(strip_credentials(source.server), source.kubernetes_version,
                      source.left_paused),
        selection=selection,
        kinds=tuple(sorted(kinds, key=lambda k: (k.group, k.kind))),
        providers=tuple(sorted(providers, key=lambda p: (p.namespace, p.name, p.type))),
        namespaces=tuple(sorted(namespaces, key=lambda n: n.name)),
        objects=tuple(entries),
        crds=tuple(sorted(crds, key=lambda c: c.name)),
        excluded=tuple(sorted(excluded, key=lambda x: x.ref)),
        digest="",
        encryption=dict(encryption) if encryption is not None else None,
    )
    head = _to_json(dataclasses.replace(manifest, objects=()), "")

    def checked_objects() -> Iterator[dict[str, Any]]:
        for index, entry in enumerate(manifest.objects):
            doc = _object_json(entry)
            _validate_object(doc, index)
            yield doc

    try:
        head["digest"] = _digest(head, checked_objects())
        validate_schema(head)
        check_consistency(manifest)
    except BundleDefect as defect:
        raise ValueError(f"cannot write this bundle: {defect}") from None
    return dataclasses.replace(manifest, digest=head["digest"])


def manifest_chunks(manifest: Manifest) -> Iterator[bytes]:
    """``manifest.json`` as written (sorted keys, two-space indent, UTF-8, final newline), in
    pieces, one object entry at a time, for writing to a file.

    Entries are encoded here again rather than kept from hashing them: the digest comes first
    in the file and needs every entry, and keeping them all encoded is what this avoids."""
    head = _to_json(dataclasses.replace(manifest, objects=()), manifest.digest)
    yield b"{\n"
    for position, key in enumerate(sorted(head)):
        lead = ",\n" if position else ""
        name = f"  {json.dumps(key, ensure_ascii=False)}: "
        if key == "objects" and manifest.objects:
            yield f"{lead}{name}[\n".encode()
            for index, entry in enumerate(manifest.objects):
                comma = ",\n" if index else ""
                yield f"{comma}    {_indented(_object_json(entry), 2)}".encode()
            yield b"\n  ]"
        else:
            yield f"{lead}{name}{_indented(head[key], 1)}".encode()
    yield b"\n}\n"


def _indented(value: Any, depth: int) -> str:
    """``json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False)``, byte for byte.

    json's indenting encoder is pure Python and joins one list of every token of the document:
    for 30,000 objects, hundreds of MiB. Encoding the manifest's two outer levels piece by piece
    keeps each such list to one entry. Encoded strings escape newlines, so every newline in an
    encoded piece is layout and takes the piece's indentation.
    """
    pad = "  " * depth
    if depth < 2 and isinstance(value, dict) and value:
        inner = pad + "  "
        items = (f"{inner}{json.dumps(key, ensure_ascii=False)}: {_indented(value[key], depth + 1)}"
                 for key in sorted(value))
        return "{\n" + ",\n".join(items) + "\n" + pad + "}"
    if depth < 2 and isinstance(value, list) and value:
        inner = pad + "  "
        return ("[\n" + ",\n".join(inner + _indented(item, depth + 1) for item in value)
                + "\n" + pad + "]")
    text = json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False)
    return text.replace("\n", "\n" + pad) if depth else text


def manifest_digest(doc: Mapping[str, Any]) -> str:
    """``sha256:<hex>`` over the canonical JSON of ``doc`` without ``createdAt`` and ``digest``."""
    return _digest(doc)


def _digest(doc: Mapping[str, Any], objects: Iterable[Any] | None = None) -> str:
    """:func:`manifest_digest`, hashed piece by piece; ``objects``, when given, stands for
    ``doc["objects"]``. The pieces are exactly ``json.dumps(..., sort_keys=True,
    separators=(",", ":"), ensure_ascii=False)`` of the whole document."""
    hasher = hashlib.sha256()

    def dumps(value: Any) -> bytes:
        return json.dumps(value, sort_keys=True, separators=(",", ":"),
                          ensure_ascii=False).encode("utf-8")

    covered = {key: value for key, value in doc.items() if key not in ("createdAt", "digest")}
    if objects is not None:
        covered["objects"] = objects
    hasher.update(b"{")
    for position, key in enumerate(sorted(covered)):
        hasher.update((b"," if position else b"") + dumps(key) + b":")
        value = covered[key]
        if key == "objects" and (objects is not None or isinstance(value, list)):
            hasher.update(b"[")
            for index, item in enumerate(value):
                hasher.update((b"," if index else b"") + dumps(item))
            hasher.update(b"]")
        else:
            hasher.update(dumps(value))
    hasher.update(b"}")
    return "sha256:" + hasher.hexdigest()


def parse_manifest(data: bytes) -> Manifest:
    """The manifest of an untrusted bundle, checked; raises :class:`BundleDefect`."""
    doc = load_json(data, MANIFEST_FILE, MAX_MANIFEST_VALUES)
    if not isinstance(doc, dict):
        raise BundleDefect(MANIFEST_FILE, "not a JSON object")
    version = doc.get("formatVersion")
    if "formatVersion" in doc and not (type(version) is int
                                       and version in READABLE_FORMAT_VERSIONS):
        *first, last = (str(v) for v in READABLE_FORMAT_VERSIONS)
        readable = f"formats {', '.join(first)} and {last}" if first else f"format {last}"
        raise BundleDefect(f"{MANIFEST_FILE} formatVersion",
                           f"format {_short(version)} is not one this movekit reads "
                           f"(it reads {readable}); use a movekit that supports it")
    validate_schema(doc)
    manifest = _from_json(doc)
    check_consistency(manifest)
    recomputed = manifest_digest(doc)
    if recomputed != manifest.digest:
        raise BundleDefect(f"{MANIFEST_FILE} digest",
                           f"does not match the manifest (recomputed {recomputed})")
    return manifest


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _inline_refs(node: Any, defs: Mapping[str, Any]) -> Any:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/") and len(node) == 1:
            return _inline_refs(defs[ref.removeprefix("#/$defs/")], defs)
        return {key: _inline_refs(value, defs) for key, value in node.items() if key != "$defs"}
    if isinstance(node, list):
        return [_inline_refs(item, defs) for item in node]
    return node


def _schema_text(version: int) -> str:
    path = SCHEMA_DIR / schema_file(version)
    if path.is_file():  # a source checkout
        return path.read_text(encoding="utf-8")
    # An installed package ships schemas/ as movekit.schemas.
    return resources.files("movekit.schemas").joinpath(schema_file(version)).read_text(
        encoding="utf-8")


@cache
def _schema(version: int = FORMAT_VERSION) -> dict[str, Any]:
    """The manifest schema of format ``version`` with its $refs resolved. It has no recursive
    definitions; resolving them once makes validating a manifest of ten thousand objects take
    about half the time."""
    schema = json.loads(_schema_text(version))
    inlined: dict[str, Any] = _inline_refs(schema, schema.get("$defs", {}))
    return inlined


@cache
def _validator(version: int = FORMAT_VERSION) -> Any:
    return Validator(_schema(version))


@cache
def _object_validator() -> Any:
    return Validator(_schema(FORMAT_VERSION)["properties"]["objects"]["items"])


_PLAIN_KEY = re.compile(r"^[A-Za-z][A-Za-z0-9]{0,63}$")


def _json_path(path: Iterable[Any]) -> str:
    """``objects[3].owners[0].uid``; a key that is no plain word (a label key, say, chosen by
    whoever wrote the manifest) is quoted, so no control character reaches a terminal."""
    rendered = ""
    for part in path:
        if isinstance(part, int):
            rendered += f"[{part}]"
        elif _PLAIN_KEY.match(str(part)):
            rendered += f".{part}" if rendered else str(part)
        else:
            rendered += f"[{_short(str(part))}]".encode("ascii", "backslashreplace").decode()
    return rendered or "(top level)"


def _compiled(schema: Mapping[str, Any]) -> Callable[[Any], bool]:
    try:
        return compile_check(schema)
    except Unsupported:
        return lambda _doc: False  # the schema grew a keyword the fast check lacks: ask jsonschema


@cache
def _fast_check(version: int = FORMAT_VERSION) -> Callable[[Any], bool]:
    return _compiled(_schema(version))


@cache
def _fast_object_check() -> Callable[[Any], bool]:
    return _compiled(_schema(FORMAT_VERSION)["properties"]["objects"]["items"])


def validate_schema(doc: Mapping[str, Any]) -> None:
    """Check ``doc`` against the schema of its ``formatVersion`` (one this movekit reads; any
    other value is checked against the current schema, which refuses it)."""
    version = doc.get("formatVersion")
    if not (type(version) is int and version in READABLE_FORMAT_VERSIONS):
        version = FORMAT_VERSION
    if not _fast_check(version)(doc):  # only a rejection needs jsonschema, to word the error
        _raise_first_error(_validator(version), doc, ())


def _validate_object(entry: Mapping[str, Any], index: int) -> None:
    """:func:`validate_schema` for the entry at ``objects[index]`` alone, of a manifest
    being written (in the current format)."""
    if not _fast_object_check()(entry):
        _raise_first_error(_object_validator(), entry, ("objects", index))


def _raise_first_error(validator: Any, doc: Any, where: tuple[Any, ...]) -> None:
    # best_match ranks the first errors found; a hostile manifest may have millions of them.
    error = jsonschema.exceptions.best_match(islice(validator.iter_errors(doc), 50))
    if error is not None:
        message = error.message if len(error.message) <= 240 else error.message[:237] + "..."
        raise BundleDefect(f"{MANIFEST_FILE} {_json_path((*where, *error.absolute_path))}",
                           message)


def _ref(group: str, kind: str, namespace: str, name: str) -> ObjectRef:
    return ObjectRef(group, kind, namespace, name)


def _api_ref(item: Mapping[str, Any]) -> ObjectRef:
    group, _ = split_api_version(item["apiVersion"])
    return ObjectRef(group, item["kind"], item["namespace"], item["name"])


def _ref_json(ref: ObjectRef, api_version: str) -> dict[str, Any]:
    return {"apiVersion": api_version, "kind": ref.kind, "namespace": ref.namespace,
            "name": ref.name}


def _to_json(m: Manifest, digest: str) -> dict[str, Any]:
    return {
        "formatVersion": m.format_version,
        "tool": {"name": "movekit", "version": m.tool_version},
        "createdAt": m.created_at,
        "source": _source_json(m),
        "selection": {"namespace": m.selection.namespace,
                      "clusters": sorted(m.selection.clusters)},
        "kinds": [{"group": k.group, "version": k.version, "kind": k.kind, "plural": k.plural,
                   "namespaced": k.namespaced, "crd": k.crd_name} for k in m.kinds],
        "providers": [{"name": p.name, "namespace": p.namespace, "type": p.type,
                       "version": p.version} for p in m.providers],
        "namespaces": [{"name": n.name, "labels": dict(n.labels),
                        "annotations": dict(n.annotations)} for n in m.namespaces],
        "objects": [_object_json(e) for e in m.objects],
        "crds": [{"name": c.name, "file": c.file, "sha256": c.sha256} for c in m.crds],
        "excluded": [{**_ref_json(x.ref, x.api_version), "reason": str(x.reason),
                      "detail": x.detail} for x in m.excluded],
        "encryption": dict(m.encryption) if m.encryption is not None else None,
        "digest": digest,
    }


def _source_json(m: Manifest) -> dict[str, Any]:
    source: dict[str, Any] = {"server": m.source.server,
                              "kubernetesVersion": m.source.kubernetes_version}
    if m.format_version >= 2:  # format 1 has no such field
        source["leftPaused"] = m.source.left_paused
    return source


def _object_json(e: ObjectEntry) -> dict[str, Any]:
    return {
        **_ref_json(e.ref, e.api_version),
        "sourceUID": e.source_uid,
        "file": e.file,
        "sha256": e.sha256,
        "wave": e.wave,
        "owners": [{**_ref_json(o.ref, o.api_version), "uid": o.uid, "controller": o.controller,
                    "blockOwnerDeletion": o.block_owner_deletion} for o in e.owners],
        "softOwners": [{"group": s.group, "kind": s.kind, "namespace": s.namespace,
                        "name": s.name} for s in sorted(e.soft_owners)],
        "flags": {"global": e.is_global, "keepInSource": e.keep_in_source,
                  "wasPaused": e.was_paused},
    }


def _from_json(doc: Mapping[str, Any]) -> Manifest:
    """Typed records of a schema-valid manifest document."""
    return Manifest(
        format_version=doc["formatVersion"],
        tool_version=doc["tool"]["version"],
        created_at=doc["createdAt"],
        source=Source(doc["source"]["server"], doc["source"]["kubernetesVersion"],
                      doc["source"].get("leftPaused")),
        selection=Selection(doc["selection"]["namespace"], frozenset(doc["selection"]["clusters"])),
        kinds=tuple(KindInfo(k["group"], k["version"], k["kind"], k["plural"], k["namespaced"],
                             k["crd"]) for k in doc["kinds"]),
        providers=tuple(Provider(p["name"], p["namespace"], p["type"], p["version"])
                        for p in doc["providers"]),
        namespaces=tuple(NamespaceEntry(n["name"], n["labels"], n["annotations"])
                         for n in doc["namespaces"]),
        objects=tuple(
            ObjectEntry(
                ref=_api_ref(o),
                api_version=o["apiVersion"],
                source_uid=o["sourceUID"],
                owners=[Owner(_api_ref(w), w["uid"], w["apiVersion"], w["controller"],
                              w["blockOwnerDeletion"]) for w in o["owners"]],
                soft_owners=[_ref(s["group"], s["kind"], s["namespace"], s["name"])
                             for s in o["softOwners"]],
                wave=int(o["wave"]),
                is_global=o["flags"]["global"],
                keep_in_source=o["flags"]["keepInSource"],
                was_paused=o["flags"]["wasPaused"],
                file=o["file"],
                sha256=o["sha256"],
            )
            for o in doc["objects"]
        ),
        crds=tuple(CrdEntry(c["name"], c["file"], c["sha256"]) for c in doc["crds"]),
        excluded=tuple(Exclusion(_api_ref(x), x["apiVersion"], Reason(x["reason"]), x["detail"])
                       for x in doc["excluded"]),
        encryption=doc["encryption"],
        digest=doc["digest"],
    )


def check_consistency(m: Manifest) -> None:
    """What the schema cannot say: unique identities, canonical paths, owners inside the bundle
    and in earlier waves, kinds and CRDs listed. Raises :class:`BundleDefect`."""
    by_ref: dict[ObjectRef, ObjectEntry] = {}
    kinds = {(k.group, k.kind): k for k in m.kinds}
    crd_names = {c.name for c in m.crds}

    for index, entry in enumerate(m.objects):
        where = f"{MANIFEST_FILE} objects[{index}]"
        if entry.ref in by_ref:
            raise BundleDefect(where, f"{entry.ref} is listed twice")
        by_ref[entry.ref] = entry
        expected = object_path(entry.ref)
        if entry.file != expected:
            raise BundleDefect(f"{where}.file", f"is {entry.file!r} but {entry.ref} "
                                                f"belongs at {expected!r}")
        kind = kinds.get((entry.ref.group, entry.ref.kind))
        if kind is None:
            raise BundleDefect(where, f"kind {entry.ref.group_kind} is not listed in kinds")
        if kind.version != split_api_version(entry.api_version)[1]:
            raise BundleDefect(f"{where}.apiVersion", f"{entry.api_version} is not the version "
                                                      f"{kind.version} listed in kinds")
        if kind.namespaced != bool(entry.ref.namespace):
            scope = "namespaced" if kind.namespaced else "cluster-scoped"
            raise BundleDefect(f"{where}.namespace", f"{entry.ref.group_kind} is {scope}")

    for index, entry in enumerate(m.objects):
        where = f"{MANIFEST_FILE} objects[{index}]"
        for position, owner in enumerate(entry.owners):
            owner_entry = by_ref.get(owner.ref)
            field_name = f"{where}.owners[{position}]"
            if owner.ref.namespace not in ("", entry.ref.namespace):
                raise BundleDefect(field_name, "an owner must be in the same namespace "
                                               "or cluster-scoped")
            if owner_entry is None:
                raise BundleDefect(field_name, f"owner {owner.ref} is not in the bundle")
            if owner.uid != owner_entry.source_uid:
                raise BundleDefect(f"{field_name}.uid", f"is not the sourceUID of {owner.ref}")
            if owner_entry.wave >= entry.wave:
                raise BundleDefect(f"{where}.wave", f"{entry.wave} is not after the wave "
                                                    f"of owner {owner.ref}")
        for position, soft in enumerate(entry.soft_owners):
            soft_entry = by_ref.get(soft)
            field_name = f"{where}.softOwners[{position}]"
            if soft_entry is None:
                raise BundleDefect(field_name, f"soft owner {soft} is not in the bundle")
            if soft_entry.wave >= entry.wave:
                raise BundleDefect(f"{where}.wave", f"{entry.wave} is not after the wave "
                                                    f"of soft owner {soft}")

    seen_crds: set[str] = set()
    for index, crd in enumerate(m.crds):
        where = f"{MANIFEST_FILE} crds[{index}]"
        if crd.name in seen_crds:
            raise BundleDefect(where, f"CRD {crd.name} is listed twice")
        seen_crds.add(crd.name)
        if crd.file != crd_path(crd.name):
            raise BundleDefect(f"{where}.file", f"is {crd.file!r} but CRD {crd.name} "
                                                f"belongs at {crd_path(crd.name)!r}")
    for index, kind in enumerate(m.kinds):
        if kind.crd_name is not None and kind.crd_name not in crd_names:
            raise BundleDefect(f"{MANIFEST_FILE} kinds[{index}].crd",
                               f"CRD {kind.crd_name} is not in the bundle's crds")
    for index, excluded in enumerate(m.excluded):
        if excluded.ref in by_ref:
            raise BundleDefect(f"{MANIFEST_FILE} excluded[{index}]",
                               f"{excluded.ref} is both moved and excluded")
