"""The benchmark driver: ``python -m bench [--sizes 10,100,1000] [--latency 0,20] [--quick]``.

For every fleet size and added per-request latency it starts, each in a process of its own,
a seeded source kubesim and two fresh targets, then measures in separate processes: movekit's
export, movekit's import into the first target, and the clusterctl-style baseline replay into
the second. It also measures kubesim alone and the largest bundle as a .tar.zst. Everything
is printed as ratios against the targets of the scale issue and written to a JSON file.

``python -m bench --real`` measures against a real kube-apiserver instead: see
:mod:`bench.real`.
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from bench.figures import (
    BASELINE_SAMPLE,
    LOAD_THREADS,
    MIN_IMPORT_SPEEDUP,
    SPEEDUP_LATENCY_MS,
    STEP_TIMEOUT,
    Say,
    machine,
    rate,
    save,
    wrap,
)
from bench.real import run_real
from bench.servers import Server, measure
from kubesim.envtest import ASSETS_ENV
from movekit.apply import DEFAULT_WORKERS
from movekit.kube import DEFAULT_BURST, DEFAULT_QPS, PAGE_SIZE

NAMESPACE = "fleet"

# Targets of the scale issue.
MIN_CREATES_PER_SECOND = 800.0
MAX_GROWTH = 12.0  # time from 100 to 1,000 clusters
MAX_PEAK_RSS_MB = 400.0  # export and import of 1,000 clusters
GROWTH_FROM, GROWTH_TO = 100, 1000



def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    say: Say = (lambda _msg: None) if args.silent else (
        lambda msg: print(msg, file=sys.stderr, flush=True))
    if args.real:
        return run_real(args, say)
    sizes = [10] if args.quick else args.sizes or [10, 100, 1000]
    latencies = [0.0] if args.quick else args.latency or [0.0, 20.0]
    out: Path = args.out or Path("bench/results.json")
    started = time.monotonic()
    results: dict[str, Any] = {
        "machine": machine(),
        "settings": {"sizes": sizes, "latency_ms": latencies, "quick": args.quick,
                     "baseline_sample": args.baseline_sample, "import_workers": DEFAULT_WORKERS,
                     "client_qps": DEFAULT_QPS, "client_burst": DEFAULT_BURST,
                     "page_size": PAGE_SIZE, "namespace": NAMESPACE},
        "layout": LAYOUT,
    }
    with tempfile.TemporaryDirectory(prefix="movekit-bench-") as scratch:
        work = Path(scratch)
        say("kubesim alone: small creates from 16 kubernetes-client threads")
        results["kubesim"] = kubesim_alone(work, min(2.0, args.load_seconds) if args.quick
                                           else args.load_seconds)
        runs = []
        for size in sizes:
            for latency in latencies:
                say(f"{size} clusters, {latency:g} ms: seeding the source, starting two targets")
                runs.append(move_run(work, size, latency, args.baseline_sample, say,
                                     keep_bundle=size == max(sizes) and latency == latencies[0]))
                save(out, {**results, "runs": runs, "partial": True})
        results["runs"] = runs
        say(f"{max(sizes)} clusters as a .tar.zst")
        results["archive"] = archive_run(work, max(sizes), latencies[0])
    results["growth"] = growth(results["runs"])
    results["targets"] = targets(results)
    results["seconds"] = round(time.monotonic() - started, 1)
    save(out, results)
    if not args.silent:
        print(report(results))
        print(f"\nresults: {out}")
    return 0


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--real", action="store_true",
                        help=f"against real control planes started from ${ASSETS_ENV} "
                             "(etcd, kube-apiserver) instead of kubesim")
    parser.add_argument("--sizes", type=_numbers(int), default=None,
                        help="fleet sizes in clusters (default 10,100,1000; --real: 10,100)")
    parser.add_argument("--latency", type=_numbers(float), default=None,
                        help="added per-request latency in ms (default 0,20); with --real, "
                             "the round trip a loopback proxy adds")
    parser.add_argument("--out", type=Path, default=None,
                        help="JSON results file (default bench/results.json; --real: "
                             "bench/results-real.json)")
    parser.add_argument("--baseline-sample", type=int, default=BASELINE_SAMPLE,
                        help="objects the baseline replays before its time is scaled "
                             f"(default {BASELINE_SAMPLE}; 0 replays everything)")
    parser.add_argument("--load-seconds", type=float, default=8.0,
                        help="how long kubesim alone is loaded (default 8; --quick: 2)")
    parser.add_argument("--quick", action="store_true",
                        help="10 clusters, no latency: a smoke run in well under a minute "
                             "(--real: 2 clusters on one control plane, 0 and 20 ms)")
    parser.add_argument("--no-kubectl", action="store_true",
                        help="--real: do not time kubectl's own dump even if it is on PATH")
    parser.add_argument("--silent", action="store_true", help="write the JSON file only")
    return parser.parse_args(argv)


def _numbers(kind: Callable[[str], Any]) -> Callable[[str], list[Any]]:
    def parse(text: str) -> list[Any]:
        try:
            values = [kind(part) for part in text.split(",") if part.strip()]
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a comma-separated list: {text!r}") from None
        if not values or any(v < 0 for v in values):
            raise argparse.ArgumentTypeError(f"want non-negative numbers: {text!r}")
        return values
    return parse


LAYOUT = (
    "Each kubesim (source, targets) is its own `python -m kubesim serve` process; each "
    "measured export, import and baseline replay is its own `python -m bench.worker` process, "
    "timed from inside (interpreter start-up excluded), its own peak RSS (VmHWM) reported. No two "
    "share a GIL. On a 2-core machine the importer and the target server still share the two "
    "cores, as they would on a laptop; the figures include that contention."
)


# -- the measurements ---------------------------------------------------------------------------


def kubesim_alone(work: Path, seconds: float) -> dict[str, Any]:
    with Server(work, "load") as server:
        measured = measure(["load", "--kubeconfig", str(server.kubeconfig),
                            "--threads", str(LOAD_THREADS), "--seconds", str(seconds)],
                           work, STEP_TIMEOUT)
    return measured.figures


def move_run(work: Path, size: int, latency: float, sample: int, say: Say,
             keep_bundle: bool) -> dict[str, Any]:
    bundle = _bundle_dir(work, size, latency)
    shutil.rmtree(bundle, ignore_errors=True)
    with ExitStack() as stack:
        source = Server(work, "source", latency_ms=latency, seed_clusters=size,
                        namespace=NAMESPACE)
        target = Server(work, "target", latency_ms=latency)
        replica = Server(work, "baseline-target", latency_ms=latency)
        for server in (source, target, replica):
            stack.callback(server.stop)
            server.start()
        for server in (source, target, replica):
            server.wait_ready()
        say(f"  source ready in {source.ready_seconds:.1f}s; export")
        export = measure(["export", "--kubeconfig", str(source.kubeconfig),
                          "--namespace", NAMESPACE, "--to", str(bundle)], work, STEP_TIMEOUT)
        say(f"  export {export.figures['seconds']:.1f}s; import")
        imported = measure(["import", "--kubeconfig", str(target.kubeconfig),
                            "--bundle", str(bundle)], work, STEP_TIMEOUT)
        say(f"  import {imported.figures['seconds']:.1f}s; baseline")
        baseline = measure(["baseline", "--source", str(source.kubeconfig),
                            "--target", str(replica.kubeconfig), "--bundle", str(bundle),
                            "--sample", str(sample)], work, STEP_TIMEOUT)
    if not keep_bundle:
        shutil.rmtree(bundle, ignore_errors=True)
    objects = int(imported.figures["objects"])
    b = baseline.figures
    baseline_seconds = b["seconds"] * objects / b["objects"]
    return {
        "clusters": size,
        "latency_ms": latency,
        "objects": objects,
        "seed_seconds": round(source.ready_seconds, 1),
        "export": {**export.figures, "peak_rss_mb": export.peak_rss_mb,
                   "objects_per_second": rate(objects, export.figures["seconds"])},
        "import": {**imported.figures, "peak_rss_mb": imported.peak_rss_mb,
                   "objects_per_second": rate(objects, imported.figures["seconds"]),
                   "requests_per_object": round(imported.figures["requests"] / objects, 2)},
        "baseline": {
            "replayed_objects": b["objects"],
            "replayed_seconds": b["seconds"],
            "seconds": round(baseline_seconds, 2),
            "scaled": b["objects"] < objects,
            "requests": b["requests"],
            "requests_per_object": round(b["requests"] / b["objects"], 2),
            "objects_per_second": rate(b["objects"], b["seconds"]),
        },
        "import_speedup": round(baseline_seconds / imported.figures["seconds"], 1),
    }


def _bundle_dir(work: Path, size: int, latency: float) -> Path:
    return work / f"bundle-{size}-{latency:g}ms"


def archive_run(work: Path, size: int, latency: float) -> dict[str, Any]:
    bundle = _bundle_dir(work, size, latency)
    archive = work / f"bundle-{size}.tar.zst"
    written = measure(["archive", "--bundle", str(bundle), "--to", str(archive)], work,
                      STEP_TIMEOUT)
    verified = measure(["verify", "--bundle", str(archive)], work, STEP_TIMEOUT)
    disk = _disk_write_mb_s(work, written.figures["bytes"])
    shutil.rmtree(bundle, ignore_errors=True)
    archive.unlink(missing_ok=True)
    raw_mb = written.figures["bytes"] / 1e6
    return {
        "clusters": size,
        "objects": verified.figures["objects"],
        "files": written.figures["files"],
        "uncompressed_mb": round(raw_mb, 1),
        "archive_mb": round(written.figures["archive_bytes"] / 1e6, 2),
        "compression_ratio": round(written.figures["bytes"] / written.figures["archive_bytes"], 1),
        "write_seconds": written.figures["seconds"],
        "write_mb_per_second": round(raw_mb / written.figures["seconds"], 1),
        "write_peak_rss_mb": written.peak_rss_mb,
        "verify_seconds": verified.figures["seconds"],
        "verify_mb_per_second": round(raw_mb / verified.figures["seconds"], 1),
        "verify_peak_rss_mb": verified.peak_rss_mb,
        "disk_write_mb_per_second": disk,
    }


def _disk_write_mb_s(work: Path, size: int) -> float:
    """Sequential write of ``size`` bytes with fsync: the disk speed the archive compares to."""
    chunk = os.urandom(1 << 20)
    path = work / "disk-speed"
    started = time.perf_counter()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        for _ in range(max(1, math.ceil(size / len(chunk)))):
            os.write(fd, chunk)
        os.fsync(fd)
    finally:
        os.close(fd)
    seconds = time.perf_counter() - started
    path.unlink()
    return round(max(1, math.ceil(size / len(chunk))) * len(chunk) / 1e6 / seconds, 1)


# -- what the figures say -----------------------------------------------------------------------


def growth(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Time at 1,000 clusters over time at 100, per latency, for export and import."""
    found = []
    by_key = {(r["clusters"], r["latency_ms"]): r for r in runs}
    for latency in sorted({r["latency_ms"] for r in runs}):
        small, large = by_key.get((GROWTH_FROM, latency)), by_key.get((GROWTH_TO, latency))
        if small is None or large is None:
            continue
        found.append({
            "latency_ms": latency,
            "objects": round(large["objects"] / small["objects"], 2),
            "export": round(large["export"]["seconds"] / small["export"]["seconds"], 2),
            "import": round(large["import"]["seconds"] / small["import"]["seconds"], 2),
            "export_read_requests": round(large["export"]["read_requests"]
                                          / small["export"]["read_requests"], 2),
        })
    return found


def targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Each target of the issue, with the figure that meets it (or not)."""
    runs: list[dict[str, Any]] = results["runs"]
    checks: list[dict[str, Any]] = []

    def check(name: str, ok: bool, shown: str) -> None:
        checks.append({"target": name, "met": ok, "measured": shown})

    creates = results["kubesim"]["creates_per_second"]
    check(f"kubesim serves >= {MIN_CREATES_PER_SECOND:g} creates/s to {LOAD_THREADS} threads",
          creates >= MIN_CREATES_PER_SECOND, f"{creates:,.0f}/s")
    slow = [r for r in runs if r["latency_ms"] == SPEEDUP_LATENCY_MS]
    if slow:
        worst = min(slow, key=lambda r: r["import_speedup"])
        check(f"import at {SPEEDUP_LATENCY_MS:g} ms >= {MIN_IMPORT_SPEEDUP:g}x the baseline",
              worst["import_speedup"] >= MIN_IMPORT_SPEEDUP,
              ", ".join(f"{r['clusters']}: {r['import_speedup']}x" for r in slow))
    if len({r["clusters"] for r in runs}) > 1:
        # Paged lists: each kind costs one list per page of PAGE_SIZE objects, not one request
        # per object. Export reads everything twice (before pausing, to decide; after, to copy),
        # so reads may grow by at most two pages per PAGE_SIZE objects.
        ok = True
        shown = []
        for latency in sorted({r["latency_ms"] for r in runs}):
            row = sorted((r for r in runs if r["latency_ms"] == latency),
                         key=lambda r: r["clusters"])
            smallest, largest = row[0], row[-1]
            extra_pages = 2 * math.ceil(largest["objects"] / PAGE_SIZE)
            grown = largest["export"]["read_requests"] - smallest["export"]["read_requests"]
            ok = ok and grown <= extra_pages
            shown.append(f"{latency:g} ms: " + " -> ".join(
                f"{r['export']['read_requests']}" for r in row) + " reads for "
                + " -> ".join(f"{r['objects']:,}" for r in row) + " objects")
        check("export requests grow with kinds (paged lists of 500), not objects", ok,
              "; ".join(shown))
    for entry in results["growth"]:
        worst_growth = max(entry["export"], entry["import"])
        check(f"time from {GROWTH_FROM} to {GROWTH_TO} clusters grows <= {MAX_GROWTH:g}x "
              f"({entry['latency_ms']:g} ms)", worst_growth <= MAX_GROWTH,
              f"export x{entry['export']}, import x{entry['import']} "
              f"for x{entry['objects']} objects")
    large = [r for r in runs if r["clusters"] >= GROWTH_TO]
    if large:
        peak = max(max(r["export"]["peak_rss_mb"], r["import"]["peak_rss_mb"]) for r in large)
        check(f"peak RSS for {GROWTH_TO:,} clusters < {MAX_PEAK_RSS_MB:g} MB (export, import)",
              peak < MAX_PEAK_RSS_MB, f"{peak:.0f} MB")
    archive = results.get("archive")
    if archive:
        # The disk figure is a sequential write of the same bytes with fsync: what the archive's
        # bytes would cost if compressing, hashing and parsing them were free.
        disk = archive["disk_write_mb_per_second"]
        write, verify = archive["write_mb_per_second"], archive["verify_mb_per_second"]
        check(f"{archive['clusters']:,}-cluster .tar.zst written and verified at disk speed",
              min(write, verify) >= disk,
              f"write {write:,.0f} MB/s ({write / disk:.2f} of disk), verify {verify:,.0f} MB/s "
              f"({verify / disk:.2f} of disk), disk {disk:,.0f} MB/s; ratio "
              f"{archive['compression_ratio']}x")
    return checks


def report(results: dict[str, Any]) -> str:
    m = results["machine"]
    lines = [
        f"movekit benchmark: {m['cpus']} CPUs ({m['cpu_model']}), Python {m['python']}, "
        f"{m['system']}",
        f"import: {results['settings']['import_workers']} workers, client qps "
        f"{results['settings']['client_qps']:g} burst {results['settings']['client_burst']}",
        wrap(results["layout"]),
        "",
        f"kubesim alone: {results['kubesim']['creates_per_second']:,.0f} creates/s "
        f"({results['kubesim']['threads']} kubernetes-client threads, small ConfigMaps)",
        "",
        f"{'clusters':>8} {'latency':>7} {'objects':>7} | {'export s':>8} {'obj/s':>7} "
        f"{'reqs':>5} {'reads':>5} {'RSS MB':>6} | {'import s':>8} {'obj/s':>7} {'req/obj':>7} "
        f"{'RSS MB':>6} | {'baseline':>8} {'obj/s':>6} {'req/obj':>7} | {'speedup':>7}",
    ]
    for r in results["runs"]:
        e, i, b = r["export"], r["import"], r["baseline"]
        scaled = "*" if b["scaled"] else " "
        lines.append(
            f"{r['clusters']:>8,} {r['latency_ms']:>5g}ms {r['objects']:>7,} | "
            f"{e['seconds']:>8.2f} {e['objects_per_second']:>7,.0f} {e['requests']:>5} "
            f"{e['read_requests']:>5} {e['peak_rss_mb']:>6.0f} | "
            f"{i['seconds']:>8.2f} {i['objects_per_second']:>7,.0f} "
            f"{i['requests_per_object']:>7.2f} {i['peak_rss_mb']:>6.0f} | "
            f"{b['seconds']:>7.1f}{scaled} {b['objects_per_second']:>6,.0f} "
            f"{b['requests_per_object']:>7.2f} | {r['import_speedup']:>6.1f}x")
    if any(r["baseline"]["scaled"] for r in results["runs"]):
        lines.append(f"* baseline replayed an evenly spread sample of "
                     f"{results['settings']['baseline_sample']} objects, time scaled to all "
                     "(it is sequential: time is linear in objects)")
    lines.append("export requests = reads (discovery, paged lists) + 2 pause/resume requests "
                 "per Cluster and ClusterClass")
    for g in results["growth"]:
        lines.append(f"growth {GROWTH_FROM} -> {GROWTH_TO} clusters at {g['latency_ms']:g} ms: "
                     f"objects x{g['objects']}, export time x{g['export']}, import time "
                     f"x{g['import']}, export reads x{g['export_read_requests']}")
    a = results["archive"]
    lines += [
        "",
        f"archive ({a['clusters']:,} clusters, {a['objects']:,} objects): "
        f"{a['uncompressed_mb']} MB -> {a['archive_mb']} MB .tar.zst, compression ratio "
        f"{a['compression_ratio']}x",
        f"  write {a['write_mb_per_second']:,.0f} MB/s ({a['write_seconds']}s), verify "
        f"{a['verify_mb_per_second']:,.0f} MB/s ({a['verify_seconds']}s, peak RSS "
        f"{a['verify_peak_rss_mb']:.0f} MB); disk sequential write "
        f"{a['disk_write_mb_per_second']:,.0f} MB/s",
        "",
        "targets:",
    ]
    for t in results["targets"]:
        lines.append(f"  [{'met' if t['met'] else 'MISSED'}] {t['target']}: {t['measured']}")
    lines.append(f"\nbenchmark took {results['seconds']:.0f}s")
    return "\n".join(lines)

