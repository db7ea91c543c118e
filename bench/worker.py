"""One measured operation in a process of its own: export, import, the baseline replay, or
writing and verifying a .tar.zst bundle.

The driver starts ``python -m bench.worker <operation> ... --result FILE`` and reads the
process's peak RSS from ``wait4``; the worker times only the operation itself (imports and
interpreter start-up excluded) and writes its figures as JSON to FILE.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections import Counter
from pathlib import Path
from typing import Any

from bench.baseline import replay
from bench.load import creates_per_second
from movekit.apply import DEFAULT_WORKERS, ApplyOptions
from movekit.bundle import read_bundle
from movekit.bundle.archive import write_archive
from movekit.export import ExportOptions, export_bundle
from movekit.graph import Selection
from movekit.importer import ImportOptions, import_bundle
from movekit.kube import DEFAULT_BURST, DEFAULT_QPS, KubeClient

# Requests that only read: what "export requests grow with kinds" is about.
READ_VERBS = frozenset({"get", "list"})


def _figures(seconds: float, objects: int, requests: Counter[str]) -> dict[str, Any]:
    return {
        "seconds": round(seconds, 3),
        "objects": objects,
        "requests": sum(requests.values()),
        "requests_by_verb": dict(sorted(requests.items())),
    }


def run_export(kubeconfig: Path, namespace: str, bundle: Path, archive: bool) -> dict[str, Any]:
    with KubeClient(kubeconfig, qps=DEFAULT_QPS, burst=DEFAULT_BURST) as client:
        started = time.perf_counter()
        result = export_bundle(client, ExportOptions(
            selection=Selection(namespace=namespace), target=bundle, archive=archive))
        seconds = time.perf_counter() - started
        requests = client.requests
    assert result.manifest is not None
    figures = _figures(seconds, len(result.graph.moved), requests)
    figures["read_requests"] = sum(n for verb, n in requests.items() if verb in READ_VERBS)
    figures["kinds"] = len({ref.group_kind for ref in result.graph.moved})
    return figures


def run_import(kubeconfig: Path, bundle: Path, workers: int) -> dict[str, Any]:
    # The same client settings as `movekit import`.
    with KubeClient(kubeconfig, qps=DEFAULT_QPS, burst=DEFAULT_BURST,
                    connections=max(workers * 2, 8)) as client:
        started = time.perf_counter()
        result = import_bundle(client, bundle, ImportOptions(
            apply=ApplyOptions(workers=workers)))
        seconds = time.perf_counter() - started
        requests = client.requests
    assert result.outcome is not None and not result.outcome.failures
    return _figures(seconds, len(result.bundle.entries), requests)


def run_baseline(source: Path, target: Path, bundle: Path, sample: int) -> dict[str, Any]:
    with KubeClient(source, qps=DEFAULT_QPS, burst=DEFAULT_BURST) as src, \
            KubeClient(target, qps=DEFAULT_QPS, burst=DEFAULT_BURST) as dst:
        replayed = replay(src, dst, bundle, sample)
        requests = src.requests + dst.requests
    figures = _figures(replayed.seconds, replayed.replayed, requests)
    figures["total_objects"] = replayed.total
    return figures


def run_archive(bundle: Path, archive: Path) -> dict[str, Any]:
    """Write the bundle directory as a .tar.zst the way `export --to-archive` publishes it."""
    files = sorted(str(p.relative_to(bundle)) for p in bundle.rglob("*") if p.is_file())
    size = sum((bundle / name).stat().st_size for name in files)
    started = time.perf_counter()
    fd = os.open(archive, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        write_archive(bundle, files, out)
        out.flush()
        os.fsync(fd)
    return {"seconds": round(time.perf_counter() - started, 3), "files": len(files),
            "bytes": size, "archive_bytes": archive.stat().st_size}


def run_verify(bundle: Path) -> dict[str, Any]:
    started = time.perf_counter()
    verified = read_bundle(bundle)
    return {"seconds": round(time.perf_counter() - started, 3),
            "objects": len(verified.entries)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.worker")
    parser.add_argument("--result", type=Path, required=True)
    sub = parser.add_subparsers(dest="operation", required=True)
    export = sub.add_parser("export")
    export.add_argument("--kubeconfig", type=Path, required=True)
    export.add_argument("--namespace", required=True)
    export.add_argument("--to", type=Path, required=True)
    export.add_argument("--archive", action="store_true")
    import_ = sub.add_parser("import")
    import_.add_argument("--kubeconfig", type=Path, required=True)
    import_.add_argument("--bundle", type=Path, required=True)
    import_.add_argument("--workers", type=int, default=DEFAULT_WORKERS)
    baseline = sub.add_parser("baseline")
    baseline.add_argument("--source", type=Path, required=True)
    baseline.add_argument("--target", type=Path, required=True)
    baseline.add_argument("--bundle", type=Path, required=True)
    baseline.add_argument("--sample", type=int, required=True)
    archive = sub.add_parser("archive")
    archive.add_argument("--bundle", type=Path, required=True)
    archive.add_argument("--to", type=Path, required=True)
    verify = sub.add_parser("verify")
    verify.add_argument("--bundle", type=Path, required=True)
    load = sub.add_parser("load")
    load.add_argument("--kubeconfig", type=Path, required=True)
    load.add_argument("--threads", type=int, required=True)
    load.add_argument("--seconds", type=float, required=True)
    args = parser.parse_args(argv)
    figures: dict[str, Any]
    if args.operation == "export":
        figures = run_export(args.kubeconfig, args.namespace, args.to, args.archive)
    elif args.operation == "import":
        figures = run_import(args.kubeconfig, args.bundle, args.workers)
    elif args.operation == "baseline":
        figures = run_baseline(args.source, args.target, args.bundle, args.sample)
    elif args.operation == "archive":
        figures = run_archive(args.bundle, args.to)
    elif args.operation == "verify":
        figures = run_verify(args.bundle)
    else:
        figures = creates_per_second(args.kubeconfig, args.threads, args.seconds)
    args.result.write_text(json.dumps(figures))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
