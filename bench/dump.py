"""The raw dump: what ``kubectl get <kinds> -n NS -o yaml > dump.yaml`` does, for export to
be compared with.

kubectl asks for each resource type in turn, one LIST per type (paged by 500, its default
``--chunk-size``), decodes the JSON, drops ``managedFields`` (its default), and prints one
``List`` of every item as YAML. This does the same with the official ``kubernetes`` client,
for the kinds of a bundle, with their resource paths known beforehand (as kubectl's
discovery cache knows them), and writes with libyaml when PyYAML has it. It reads; it
decides nothing (no graph, no pause, no sanitizing, no checksums): the floor of what any
export must cost.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import yaml

from bench.rest import api_client, collection_path, request
from movekit.bundle import read_bundle
from movekit.model import KindInfo

CHUNK_SIZE = 500  # kubectl get --chunk-size, by default
_Dumper: type[yaml.SafeDumper] = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def dump_kinds(bundle_path: Path) -> list[KindInfo]:
    """The namespaced kinds of a bundle, in the order they are dumped."""
    return sorted((k for k in read_bundle(bundle_path).kinds if k.namespaced),
                  key=lambda k: (k.group, k.kind))


def kubectl_resources(kinds: list[KindInfo]) -> str:
    """The same kinds as kubectl's argument: ``secrets,clusters.cluster.x-k8s.io,...``."""
    return ",".join(f"{k.plural}.{k.group}" if k.group else k.plural for k in kinds)


def raw_dump(kubeconfig: Path, bundle_path: Path, namespace: str, out: Path) -> dict[str, Any]:
    kinds = dump_kinds(bundle_path)
    api = api_client(kubeconfig)
    started = time.perf_counter()
    items: list[dict[str, Any]] = []
    requests = 0
    for kind in kinds:
        path = collection_path(kind, namespace)
        api_version = f"{kind.group}/{kind.version}" if kind.group else kind.version
        token = ""
        while True:
            query: list[tuple[str, Any]] = [("limit", CHUNK_SIZE)]
            if token:
                query.append(("continue", token))
            page = request(api, "GET", path, query)
            requests += 1
            for item in page.get("items") or []:
                # A list's items may come without their type; kubectl prints it on each.
                item.setdefault("apiVersion", api_version)
                item.setdefault("kind", kind.kind)
                item.get("metadata", {}).pop("managedFields", None)
                items.append(item)
            token = (page.get("metadata") or {}).get("continue") or ""
            if not token:
                break
    document = {"apiVersion": "v1", "items": items, "kind": "List",
                "metadata": {"resourceVersion": ""}}
    with out.open("w") as handle:
        yaml.dump(document, handle, Dumper=_Dumper, default_flow_style=False)
    seconds = time.perf_counter() - started
    api.close()
    return {"seconds": round(seconds, 3), "objects": len(items), "requests": requests,
            "kinds": len(kinds), "bytes": out.stat().st_size}
