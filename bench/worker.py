"""One measured operation in a process of its own: export, import, the baseline replay,
writing and verifying a .tar.zst bundle, a raw dump, or creates against a server alone.

The driver starts ``python -m bench.worker <operation> ... --result FILE``; the worker times
only the operation itself (imports and interpreter start-up excluded) and writes its figures
as JSON to FILE, with its own peak RSS (``VmHWM``, see :func:`peak_rss_kib`).
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
from bench.dump import raw_dump
from bench.load import bundle_creates_per_second, creates_per_second
from movekit.apply import DEFAULT_WORKERS, ApplyOptions
from movekit.bundle import read_bundle
from movekit.bundle.archive import write_archive
from movekit.export import ExportOptions, export_bundle
from movekit.importer import ImportOptions, import_bundle
from movekit.kube import DEFAULT_BURST, DEFAULT_QPS, KubeClient
from movekit.model import Selection
from movekit.plan import PlanOptions

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


def run_import(kubeconfig: Path, bundle: Path, workers: int,
               namespace_map: dict[str, str]) -> dict[str, Any]:
    # The same client settings as `movekit import`.
    with KubeClient(kubeconfig, qps=DEFAULT_QPS, burst=DEFAULT_BURST,
                    connections=max(workers * 2, 8)) as client:
        started = time.perf_counter()
        # The source is an emulated fleet no controller reconciles: nothing runs twice.
        result = import_bundle(client, bundle, ImportOptions(
            plan=PlanOptions(namespace_map=namespace_map),
            apply=ApplyOptions(workers=workers, namespace_map=namespace_map),
            allow_active_source=True))
        seconds = time.perf_counter() - started
        requests = client.requests
    assert result.outcome is not None and not result.outcome.failures
    return _figures(seconds, len(result.bundle.entries), requests)


def run_baseline(source: Path, target: Path, bundle: Path, sample: int,
                 namespace_map: dict[str, str]) -> dict[str, Any]:
    with KubeClient(source, qps=DEFAULT_QPS, burst=DEFAULT_BURST) as src, \
            KubeClient(target, qps=DEFAULT_QPS, burst=DEFAULT_BURST) as dst:
        replayed = replay(src, dst, bundle, sample, namespace_map)
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


def _namespace_pair(text: str) -> tuple[str, str]:
    old, sep, new = text.partition("=")
    if not (old and sep and new):
        raise argparse.ArgumentTypeError(f"want OLD=NEW, not {text!r}")
    return old, new


def peak_rss_kib() -> int | None:
    """This process's peak resident set since it exec'd Python, from /proc (Linux).

    ``wait4``'s ``ru_maxrss`` would not do: the kernel carries the parent's peak into a child
    across fork and exec, so every worker would report at least the driver's size.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


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
    import_.add_argument("--namespace-map", type=_namespace_pair, action="append", default=[])
    baseline = sub.add_parser("baseline")
    baseline.add_argument("--source", type=Path, required=True)
    baseline.add_argument("--target", type=Path, required=True)
    baseline.add_argument("--bundle", type=Path, required=True)
    baseline.add_argument("--sample", type=int, required=True)
    baseline.add_argument("--namespace-map", type=_namespace_pair, action="append", default=[])
    archive = sub.add_parser("archive")
    archive.add_argument("--bundle", type=Path, required=True)
    archive.add_argument("--to", type=Path, required=True)
    verify = sub.add_parser("verify")
    verify.add_argument("--bundle", type=Path, required=True)
    load = sub.add_parser("load")
    load.add_argument("--kubeconfig", type=Path, required=True)
    load.add_argument("--threads", type=int, required=True)
    load.add_argument("--seconds", type=float, required=True)
    dump = sub.add_parser("dump")
    dump.add_argument("--kubeconfig", type=Path, required=True)
    dump.add_argument("--bundle", type=Path, required=True)
    dump.add_argument("--namespace", required=True)
    dump.add_argument("--to", type=Path, required=True)
    ceiling = sub.add_parser("ceiling")
    ceiling.add_argument("--kubeconfig", type=Path, required=True)
    ceiling.add_argument("--bundle", type=Path, required=True)
    ceiling.add_argument("--namespace", action="append", required=True)
    ceiling.add_argument("--threads", type=int, required=True)
    args = parser.parse_args(argv)
    figures: dict[str, Any]
    if args.operation == "export":
        figures = run_export(args.kubeconfig, args.namespace, args.to, args.archive)
    elif args.operation == "import":
        figures = run_import(args.kubeconfig, args.bundle, args.workers,
                             dict(args.namespace_map))
    elif args.operation == "baseline":
        figures = run_baseline(args.source, args.target, args.bundle, args.sample,
                               dict(args.namespace_map))
    elif args.operation == "archive":
        figures = run_archive(args.bundle, args.to)
    elif args.operation == "verify":
        figures = run_verify(args.bundle)
    elif args.operation == "dump":
        figures = raw_dump(args.kubeconfig, args.bundle, args.namespace, args.to)
    elif args.operation == "ceiling":
        figures = bundle_creates_per_second(args.kubeconfig, args.bundle, args.namespace,
                                            args.threads)
    else:
        figures = creates_per_second(args.kubeconfig, args.threads, args.seconds)
    args.result.write_text(json.dumps({"figures": figures, "peak_rss_kib": peak_rss_kib()}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
