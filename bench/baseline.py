"""The baseline: ``clusterctl move``'s request pattern, replayed with movekit's own client.

clusterctl moves one object at a time, in dependency order: it reads the object from the
source, creates it in the target with its ownerReferences pointing at the UIDs the target
gave the owners, and patches it afterwards. That is three requests per object, strictly one
after another. The replay here makes exactly those requests through the same
:class:`movekit.kube.KubeClient` movekit uses, so connection reuse, JSON handling and retries
are equal and only the pattern differs.

The object list and the order come from the bundle movekit exported (its manifest holds the
move set and the waves); reading that is not timed, which only flatters the baseline. A
``namespace_map`` puts the objects in other namespaces of the target (so that one real server
can take several runs); it only renames ``metadata.namespace``.
Because the replay is strictly sequential, its time is linear in the objects, so a large
move is measured on an evenly spread sample (every k-th object in dependency order, which
keeps the mix of kinds and sizes) and scaled to the whole move by the driver.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from movekit.bundle import ObjectEntry, read_bundle
from movekit.kube import ApiResource, Conflict, KubeClient
from movekit.sanitize import sanitize


@dataclass(frozen=True)
class Replayed:
    replayed: int  # objects moved by the replay
    total: int  # objects in the whole move
    seconds: float  # time of the replayed objects only


def sample(entries: list[ObjectEntry], size: int) -> list[ObjectEntry]:
    """Every k-th entry in dependency order, so the sample keeps the move's mix of kinds."""
    ordered = sorted(entries, key=lambda e: e.wave)
    if size <= 0 or size >= len(ordered):
        return ordered
    step = math.ceil(len(ordered) / size)
    return ordered[::step]


def replay(source: KubeClient, target: KubeClient, bundle_path: Path, size: int,
           namespace_map: Mapping[str, str] | None = None) -> Replayed:
    """Move ``size`` objects of the bundle's move set (all with 0) the way clusterctl does."""
    renamed = dict(namespace_map or {})
    bundle = read_bundle(bundle_path)
    chosen = sample(bundle.entries, size)
    resources: dict[tuple[str, str], ApiResource] = {}
    for entry in chosen:
        key = (entry.api_version, entry.ref.kind)
        if key not in resources:
            found = source.resource(*key)
            assert found is not None, f"{key} is not served by the source"
            resources[key] = found
    target.resources()  # discovery, once, as clusterctl's client does
    namespaces = sorted({renamed.get(e.ref.namespace, e.ref.namespace) for e in chosen
                         if e.ref.namespace})
    namespace_res = target.resource("v1", "Namespace")
    assert namespace_res is not None
    uids: dict[str, str] = {}  # source uid -> target uid
    started = time.perf_counter()
    for name in namespaces:
        with contextlib.suppress(Conflict):  # already there
            target.create(namespace_res, {"apiVersion": "v1", "kind": "Namespace",
                                          "metadata": {"name": name}})
    for entry in chosen:
        res = resources[(entry.api_version, entry.ref.kind)]
        live = source.get(res, entry.ref.namespace, entry.ref.name)
        assert live is not None, f"{entry.ref} vanished from the source"
        body, field_owners = _for_create(live, uids)
        namespace = renamed.get(entry.ref.namespace, entry.ref.namespace)
        if namespace:
            body["metadata"]["namespace"] = namespace
        created = target.create(res, body)
        uids[entry.source_uid] = str(created["metadata"]["uid"])
        target.merge_patch(res, namespace, entry.ref.name,
                           {"metadata": {"managedFields": field_owners}})
    return Replayed(len(chosen), len(bundle.entries), time.perf_counter() - started)


def _for_create(live: dict[str, Any], uids: dict[str, str]
                ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The create body (owners rewritten to target UIDs) and the managedFields to restore."""
    body = sanitize(live)
    meta = body["metadata"]
    field_owners = meta.pop("managedFields", None) or []
    owners = [{**owner, "uid": uids[owner["uid"]]}
              for owner in meta.get("ownerReferences") or [] if owner["uid"] in uids]
    # An owner outside the sample is left out: a garbage collector (kubesim's too) would
    # delete an object whose owner does not exist, before its PATCH.
    if owners:
        meta["ownerReferences"] = owners
    else:
        meta.pop("ownerReferences", None)
    return body, field_owners
