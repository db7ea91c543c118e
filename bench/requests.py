"""``python -m bench.requests``: requests a live move makes, per object moved.

Seeds a kubesim source with a fleet of ``--clusters`` ClusterClass-based clusters (5: 185
objects), moves the namespace to an empty kubesim target with :func:`movekit.move`, and prints
the requests movekit's clients sent to each side and the requests per moved object.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from kubesim import KubeSim
from kubesim.capi.fleet import seed_fleet
from kubesim.capi.install import install_crds
from movekit.journal import ClusterAccess
from movekit.kube import KubeClient
from movekit.model import Selection
from movekit.mover import MoveOptions, move

NAMESPACE = "fleet"


def measure(clusters: int) -> tuple[int, int, int]:
    """(objects moved, source requests, target requests) of one live move of the fleet."""
    with KubeSim() as source, KubeSim() as target, \
            tempfile.TemporaryDirectory(prefix="movekit-requests-") as scratch:
        work = Path(scratch)
        for sim, name in ((source, "source"), (target, "target")):
            sim.write_kubeconfig(work / name)
            api = sim.api_client()
            install_crds(api)
            if sim is source:
                seed_fleet(api, clusters, namespace=NAMESPACE)
            api.close()
        options = MoveOptions(selection=Selection(namespace=NAMESPACE),
                              journal=work / "move.journal.json", retire_timeout=60.0)
        with KubeClient(work / "source") as src, KubeClient(work / "target") as dst:
            access = (ClusterAccess(None, None, src.server), ClusterAccess(None, None, dst.server))
            result = move(src, dst, options, access)
            moved = len(result.preview.graph.moved)
            return moved, sum(src.requests.values()), sum(dst.requests.values())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.requests", description=__doc__)
    parser.add_argument("--clusters", type=int, default=5,
                        help="workload clusters (5: 185 objects)")
    args = parser.parse_args(argv)
    moved, source, target = measure(args.clusters)
    print(f"objects moved: {moved}")
    print(f"source requests: {source}")
    print(f"target requests: {target}")
    print(f"requests per object: {(source + target) / moved:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
