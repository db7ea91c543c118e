"""kubesim alone: small creates a second served to concurrent ``kubernetes``-client threads.

This is the figure that says whether kubesim is fast enough not to be what the other
benchmarks measure: a real kube-apiserver with etcd manages about 1,000 such creates a
second with the clients on the same 2-core machine.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from kubernetes import client, config

NAMESPACE = "default"


def creates_per_second(kubeconfig: Path, threads: int, seconds: float) -> dict[str, Any]:
    """Create small ConfigMaps from ``threads`` threads for ``seconds``; count what succeeded."""
    api = config.new_client_from_config(  # type: ignore[no-untyped-call]
        config_file=str(kubeconfig))
    api.configuration.connection_pool_maxsize = threads
    core = client.CoreV1Api(api)
    counts = [0] * threads
    start = threading.Barrier(threads + 1)
    stop = threading.Event()

    def work(index: int) -> None:
        start.wait()
        while not stop.is_set():
            body: dict[str, Any] = {"apiVersion": "v1", "kind": "ConfigMap",
                    "metadata": {"name": f"load-{index}-{counts[index]}", "namespace": NAMESPACE},
                    "data": {"greeting": "hello", "count": str(counts[index])}}
            # A plain dict is sent as it is; the typed model would only add client-side work.
            core.create_namespaced_config_map(NAMESPACE, body)  # type: ignore[arg-type]
            counts[index] += 1

    workers = [threading.Thread(target=work, args=(i,), daemon=True) for i in range(threads)]
    for worker in workers:
        worker.start()
    start.wait()
    began = time.perf_counter()
    time.sleep(seconds)
    stop.set()
    for worker in workers:
        worker.join()
    elapsed = time.perf_counter() - began
    api.close()
    total = sum(counts)
    return {"threads": threads, "seconds": round(elapsed, 3), "creates": total,
            "creates_per_second": round(total / elapsed, 1)}
