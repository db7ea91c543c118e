"""A server alone: how many creates a second it serves to concurrent ``kubernetes``-client threads.

Two figures. ``creates_per_second`` sends small ConfigMaps for a fixed time: whether kubesim
is fast enough not to be what the other benchmarks measure (a real kube-apiserver with etcd
manages about 1,000 a second with the clients on the same 2-core machine).
``bundle_creates_per_second`` sends the very objects of a bundle, one POST each, from many
threads, in no order: the parallel create ceiling of a real server for that move, the upper
bound any importer could reach (no waves, no owner UIDs to rewrite, no managedFields to
restore).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from bench.rest import api_client, collection_path, request
from movekit.bundle import read_bundle

NAMESPACE = "default"


def creates_per_second(kubeconfig: Path, threads: int, seconds: float) -> dict[str, Any]:
    """Create small ConfigMaps from ``threads`` threads for ``seconds``; count what succeeded."""
    api = api_client(kubeconfig, threads)
    core = client.CoreV1Api(api)
    counts = [0] * threads
    stop = threading.Event()

    def work(index: int) -> None:
        while not stop.is_set():
            body: dict[str, Any] = {"apiVersion": "v1", "kind": "ConfigMap",
                    "metadata": {"name": f"load-{index}-{counts[index]}", "namespace": NAMESPACE},
                    "data": {"greeting": "hello", "count": str(counts[index])}}
            # A plain dict is sent as it is; the typed model would only add client-side work.
            core.create_namespaced_config_map(NAMESPACE, body)  # type: ignore[arg-type]
            counts[index] += 1

    def wait() -> None:
        time.sleep(seconds)
        stop.set()

    elapsed = _in_threads([partial(work, i) for i in range(threads)], wait)
    api.close()
    total = sum(counts)
    return {"threads": threads, "seconds": round(elapsed, 3), "creates": total,
            "creates_per_second": round(total / elapsed, 1)}


def bundle_creates_per_second(kubeconfig: Path, bundle_path: Path, namespaces: Sequence[str],
                              threads: int) -> dict[str, Any]:
    """Create every namespaced object of the bundle once in each of ``namespaces`` (made
    first, untimed), spread over ``threads`` threads; the time from the first to the last."""
    bundle = read_bundle(bundle_path)
    kinds = {(kind.group, kind.kind): kind for kind in bundle.kinds}
    posts: list[tuple[str, dict[str, Any]]] = []
    for namespace in namespaces:
        for entry in bundle.entries:
            kind = kinds[(entry.ref.group, entry.ref.kind)]
            if not kind.namespaced:
                continue
            obj = bundle.load(entry)
            # What a create needs: the bundle's object in its new namespace, owners as they are
            # (no garbage collector runs), managedFields left to the server.
            obj["metadata"].pop("managedFields", None)
            obj["metadata"]["namespace"] = namespace
            posts.append((collection_path(kind, namespace), obj))
    api = api_client(kubeconfig, threads)
    for namespace in namespaces:
        try:
            request(api, "POST", "/api/v1/namespaces",
                    body={"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
        except ApiException as err:
            if err.status != 409:
                raise
    shares = [posts[index::threads] for index in range(threads)]
    failures: list[str] = []

    def work(share: list[tuple[str, dict[str, Any]]]) -> None:
        try:
            for path, body in share:
                request(api, "POST", path, body=body)
        except ApiException as err:
            failures.append(f"{err.status} {err.reason}")

    elapsed = _in_threads([partial(work, share) for share in shares], lambda: None)
    api.close()
    if failures:
        raise RuntimeError(f"{len(failures)} threads failed, first: {failures[0]}")
    return {"threads": threads, "seconds": round(elapsed, 3), "creates": len(posts),
            "copies": len(namespaces), "creates_per_second": round(len(posts) / elapsed, 1)}


def _in_threads(jobs: list[Callable[[], None]], meanwhile: Callable[[], None]) -> float:
    """Run ``jobs`` in threads released together, and ``meanwhile`` here; seconds until all end."""
    start = threading.Barrier(len(jobs) + 1)

    def released(job: Callable[[], None]) -> None:
        start.wait()
        job()

    workers = [threading.Thread(target=released, args=(job,), daemon=True) for job in jobs]
    for worker in workers:
        worker.start()
    start.wait()
    began = time.perf_counter()
    meanwhile()
    for worker in workers:
        worker.join()
    return time.perf_counter() - began
