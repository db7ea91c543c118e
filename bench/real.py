"""The benchmark against a real control plane: ``python -m bench --real`` (``KUBEBUILDER_ASSETS``
names etcd and kube-apiserver, as for the real test lane).

It starts a source and a target control plane (``kubesim.envtest.ControlPlane``, no
controllers: the two cores go to the servers and the clients), installs the CRDs the way the
real test lane does, seeds a fleet per size into the source, and measures, each against a
baseline taken in the same run:

1. export against a raw dump of the same kinds (:mod:`bench.dump`; kubectl itself too when it
   is on PATH);
2. import at 0 ms against the target's parallel create ceiling for the same objects
   (:func:`bench.load.bundle_creates_per_second`);
3. import against the clusterctl-style sequential replay (:mod:`bench.baseline`), at every
   latency; a real server has no latency knob, so round-trip time is added by a loopback proxy
   (:mod:`bench.proxy`) that the kubeconfigs of the measured processes point at.

Each run imports into a namespace of its own on the target (``--namespace-map``), so one pair
of control planes takes every run.
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from kubernetes import client

from bench.dump import dump_kinds, kubectl_resources
from bench.figures import (
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
from bench.proxy import LatencyProxy
from bench.servers import BenchError, Measured, measure
from kubesim.envtest import ASSETS_ENV, ControlPlane, assets_dir
from movekit.apply import DEFAULT_WORKERS
from movekit.kube import DEFAULT_BURST, DEFAULT_QPS
from tests.lanes import prepare

SIZES = [10, 100]
QUICK_SIZES = [2]
LATENCIES = [0.0, 20.0]
QUICK_BASELINE_SAMPLE = 20
# The ceiling creates copies of the bundle until it has sent at least this many objects, so
# that a small fleet is not timed over a fraction of a second.
CEILING_OBJECTS = 2000
QUICK_CEILING_OBJECTS = 0  # one copy
CEILING_THREADS = DEFAULT_WORKERS  # the importer's own concurrency

LAYOUT = (
    "The control planes are kube-apiserver and etcd processes of their own (no controller "
    "manager); each measured export, raw dump, import, ceiling and baseline replay is its own "
    "`python -m bench.worker` process, timed from inside, peak RSS from /proc (VmHWM). Latency "
    "is added by a loopback TCP proxy in the driver process that holds every chunk of bytes for "
    "half the round trip in each direction; TLS passes through it and is verified as usual. On a "
    "2-core machine the client and the server share the two cores; the figures include that."
)
BASELINES = {
    "raw_dump": "one LIST per kind of the bundle in the namespace (paged by 500), every item as "
                "YAML in one file, as `kubectl get <kinds> -n NS -o yaml` does; emulated with "
                "the official kubernetes client, resource paths known beforehand",
    "kubectl": "kubectl itself doing that dump (discovery cache warmed first); wall clock, "
               "process start included",
    "ceiling": f"every object of the bundle POSTed once from {CEILING_THREADS} threads of the "
               "official kubernetes client in no order (no waves, no owner UIDs to rewrite, no "
               "managedFields to restore): the most creates per second any importer could get",
    "baseline": "clusterctl move's pattern replayed with movekit's client: GET from the "
                "source, CREATE, PATCH managedFields in the target, one object at a time",
}


@dataclass(frozen=True)
class Cluster:
    """A started control plane in one role, and a kubeconfig that reaches it directly."""

    role: str
    plane: ControlPlane
    kubeconfig: Path


def run_real(args: argparse.Namespace, say: Say) -> int:
    assets = assets_dir()
    if assets is None:
        print(f"python -m bench --real: set {ASSETS_ENV} to a directory holding etcd and "
              "kube-apiserver (and kube-controller-manager), as for the real test lane",
              file=sys.stderr)
        return 2
    sizes = args.sizes or (QUICK_SIZES if args.quick else SIZES)
    latencies = args.latency or LATENCIES
    sample = QUICK_BASELINE_SAMPLE if args.quick else args.baseline_sample
    ceiling_objects = QUICK_CEILING_OBJECTS if args.quick else CEILING_OBJECTS
    kubectl = None if args.no_kubectl else shutil.which("kubectl")
    out: Path = args.out or Path("bench/results-real.json")
    started = time.monotonic()
    results: dict[str, Any] = {
        "mode": "real",
        "machine": machine(),
        "settings": {"sizes": sizes, "latency_ms": latencies, "quick": args.quick,
                     "baseline_sample": sample, "import_workers": DEFAULT_WORKERS,
                     "client_qps": DEFAULT_QPS, "client_burst": DEFAULT_BURST,
                     "ceiling_threads": CEILING_THREADS, "ceiling_min_objects": ceiling_objects,
                     "control_planes": 1 if args.quick else 2, "controllers": [],
                     "kubectl": kubectl},
        "layout": LAYOUT,
        "baselines": BASELINES,
    }
    with tempfile.TemporaryDirectory(prefix="movekit-bench-real-") as scratch, \
            ExitStack() as stack:
        work = Path(scratch)
        say("starting the control plane" if args.quick else "starting two control planes")
        source = _start(stack, assets, work, "source")
        target = source if args.quick else _start(stack, assets, work, "target")
        results["server"] = _server(source)
        results["server"]["configmaps"] = None
        if not args.quick:
            say(f"server alone: small creates from {LOAD_THREADS} threads")
            results["server"]["configmaps"] = measure(
                ["load", "--kubeconfig", str(target.kubeconfig), "--threads", str(LOAD_THREADS),
                 "--seconds", str(args.load_seconds)], work, STEP_TIMEOUT).figures
        runs: list[dict[str, Any]] = []
        for size in sizes:
            namespace = f"fleet-{size}"
            say(f"{size} clusters: seeding the source")
            seed_seconds = seed(work, source, size, namespace)
            for latency in latencies:
                say(f"{size} clusters, {latency:g} ms round trip")
                run = real_run(work, source, target, namespace, latency, sample,
                               ceiling_objects, kubectl, say)
                runs.append({"clusters": size, "seed_seconds": seed_seconds, **run})
                save(out, {**results, "runs": runs, "partial": True})
        results["runs"] = runs
    results["targets"] = targets(results)
    results["seconds"] = round(time.monotonic() - started, 1)
    save(out, results)
    if not args.silent:
        print(report(results))
        print(f"\nresults: {out}")
    return 0


def _start(stack: ExitStack, assets: Path, work: Path, role: str) -> Cluster:
    """A control plane with the CRDs and inventory of the real test lane, stopped with ``stack``."""
    plane = stack.enter_context(ControlPlane(assets, controllers=(), name=f"bench-{role}"))
    api = plane.api_client()
    try:
        prepare(api)
    finally:
        api.close()
    return Cluster(role, plane, plane.write_kubeconfig(work / f"{role}.kubeconfig"))


def seed(work: Path, cluster: Cluster, size: int, namespace: str) -> float:
    """Seed a fleet with ``movekit kubesim seed``, in a process of its own: the driver stays
    small, and the pool of seeded objects is gone before anything is measured."""
    started = time.monotonic()
    log = work / "seed.log"
    with log.open("wb") as output:
        done = subprocess.run([sys.executable, "-m", "movekit", "kubesim", "seed",
                               "--kubeconfig", str(cluster.kubeconfig), "--clusters", str(size),
                               "--namespace", namespace], stdout=output,
                              stderr=subprocess.STDOUT, timeout=STEP_TIMEOUT, check=False)
    if done.returncode != 0:
        tail = "\n".join(log.read_text(errors="replace").strip().splitlines()[-15:])
        raise BenchError(f"seeding {size} clusters failed ({done.returncode}):\n{tail}")
    return round(time.monotonic() - started, 1)


def _server(cluster: Cluster) -> dict[str, Any]:
    api = cluster.plane.api_client()
    try:
        version = client.VersionApi(api).get_code()
    finally:
        api.close()
    return {"kubernetes": f"{version.major}.{version.minor}", "git_version": version.git_version}


def _tag(latency: float) -> str:
    """A latency as a namespace-name fragment: 0ms, 20ms, 2p5ms."""
    return f"{latency:g}ms".replace(".", "p")


def _reach(stack: ExitStack, work: Path, cluster: Cluster, latency: float) -> Path:
    """A kubeconfig for ``cluster`` at ``latency`` ms round trip: through a proxy unless 0."""
    if latency <= 0:
        return cluster.kubeconfig
    proxy = stack.enter_context(LatencyProxy(cluster.plane.port, one_way_ms=latency / 2))
    config = cluster.plane.kubeconfig()
    config["clusters"][0]["cluster"]["server"] = proxy.url
    path = work / f"{cluster.role}-{_tag(latency)}.kubeconfig"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        yaml.safe_dump(config, handle, sort_keys=False)
    return path


def real_run(work: Path, source: Cluster, target: Cluster, namespace: str, latency: float,
             sample: int, ceiling_objects: int, kubectl: str | None, say: Say) -> dict[str, Any]:
    bundle = work / f"bundle-{namespace}-{_tag(latency)}"
    dumped = work / "dump.yaml"
    moved_to = f"{namespace}-movekit-{_tag(latency)}"
    replayed_to = f"{namespace}-baseline-{_tag(latency)}"
    with ExitStack() as stack:
        src = _reach(stack, work, source, latency)
        dst = _reach(stack, work, target, latency)
        export = measure(["export", "--kubeconfig", str(src), "--namespace", namespace,
                          "--to", str(bundle)], work, STEP_TIMEOUT)
        objects = int(export.figures["objects"])
        say(f"  export {export.figures['seconds']:.2f}s; raw dump")
        dump = measure(["dump", "--kubeconfig", str(src), "--bundle", str(bundle),
                        "--namespace", namespace, "--to", str(dumped)], work, STEP_TIMEOUT)
        by_kubectl = (kubectl_dump(kubectl, src, bundle, namespace, work)
                      if kubectl is not None else None)
        say(f"  raw dump {dump.figures['seconds']:.2f}s; import")
        imported = measure(["import", "--kubeconfig", str(dst), "--bundle", str(bundle),
                            "--namespace-map", f"{namespace}={moved_to}"], work, STEP_TIMEOUT)
        ceiling = None
        if latency <= 0:
            say(f"  import {imported.figures['seconds']:.2f}s; create ceiling")
            copies = max(1, math.ceil(ceiling_objects / objects))
            ceiling = measure(["ceiling", "--kubeconfig", str(dst), "--bundle", str(bundle),
                               "--threads", str(CEILING_THREADS),
                               *[arg for copy in range(copies)
                                 for arg in ("--namespace", f"{namespace}-ceiling-{copy}")]],
                              work, STEP_TIMEOUT)
        say(f"  import {imported.figures['seconds']:.2f}s; baseline")
        baseline = measure(["baseline", "--source", str(src), "--target", str(dst),
                            "--bundle", str(bundle), "--sample", str(sample),
                            "--namespace-map", f"{namespace}={replayed_to}"], work,
                           STEP_TIMEOUT)
    shutil.rmtree(bundle, ignore_errors=True)
    dumped.unlink(missing_ok=True)
    return figures(latency, objects, export, dump, by_kubectl, imported, ceiling, baseline)


def figures(latency: float, objects: int, export: Measured, dump: Measured,
            by_kubectl: dict[str, Any] | None, imported: Measured, ceiling: Measured | None,
            baseline: Measured) -> dict[str, Any]:
    """One run's figures and its ratios against the baselines measured beside it."""
    i, b = imported.figures, baseline.figures
    baseline_seconds = b["seconds"] * objects / b["objects"]
    run: dict[str, Any] = {
        "latency_ms": latency,
        "objects": objects,
        "export": {**export.figures, "peak_rss_mb": export.peak_rss_mb,
                   "objects_per_second": rate(objects, export.figures["seconds"])},
        "raw_dump": {**dump.figures, "peak_rss_mb": dump.peak_rss_mb},
        "kubectl": by_kubectl,
        "export_vs_raw_dump": round(export.figures["seconds"] / dump.figures["seconds"], 2),
        "import": {**i, "peak_rss_mb": imported.peak_rss_mb,
                   "objects_per_second": rate(objects, i["seconds"]),
                   "requests_per_second": rate(i["requests"], i["seconds"]),
                   "requests_per_object": round(i["requests"] / objects, 2)},
        "ceiling": None,
        "baseline": {
            "replayed_objects": b["objects"],
            "replayed_seconds": b["seconds"],
            "seconds": round(baseline_seconds, 2),
            "scaled": b["objects"] < objects,
            "requests": b["requests"],
            "requests_per_object": round(b["requests"] / b["objects"], 2),
            "objects_per_second": rate(b["objects"], b["seconds"]),
        },
        "import_speedup": round(baseline_seconds / i["seconds"], 1),
    }
    if by_kubectl is not None:
        run["export_vs_kubectl"] = round(export.figures["seconds"] / by_kubectl["seconds"], 2)
    if ceiling is not None:
        c = ceiling.figures
        run["ceiling"] = {**c, "peak_rss_mb": ceiling.peak_rss_mb}
        run["import_vs_ceiling"] = round(run["import"]["objects_per_second"]
                                         / c["creates_per_second"], 2)
        run["import_requests_vs_ceiling"] = round(run["import"]["requests_per_second"]
                                                  / c["creates_per_second"], 2)
    return run


def kubectl_dump(kubectl: str, kubeconfig: Path, bundle: Path, namespace: str,
                 work: Path) -> dict[str, Any]:
    """``kubectl get <the bundle's kinds> -n NS -o yaml``, timed once its discovery is cached."""
    argv = [kubectl, "--kubeconfig", str(kubeconfig), "--cache-dir", str(work / "kubectl-cache"),
            "get", kubectl_resources(dump_kinds(bundle)), "-n", namespace, "-o", "yaml"]
    out = work / "kubectl.yaml"
    try:
        subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=True,
                       timeout=STEP_TIMEOUT)
        with out.open("wb") as handle:
            began = time.perf_counter()
            subprocess.run(argv, stdout=handle, stderr=subprocess.PIPE, check=True,
                           timeout=STEP_TIMEOUT)
            seconds = time.perf_counter() - began
    except subprocess.CalledProcessError as err:
        raise BenchError(f"{' '.join(argv[:1] + argv[5:])} failed: "
                         f"{err.stderr.decode(errors='replace').strip()}") from None
    size = out.stat().st_size
    out.unlink()
    return {"seconds": round(seconds, 3), "bytes": size}


# -- what the figures say -----------------------------------------------------------------------


def targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """The scale issue's import target, held against the real server too."""
    slow = [r for r in results["runs"] if r["latency_ms"] == SPEEDUP_LATENCY_MS]
    if not slow:
        return []
    worst = min(slow, key=lambda r: r["import_speedup"])
    return [{"target": f"import at {SPEEDUP_LATENCY_MS:g} ms >= {MIN_IMPORT_SPEEDUP:g}x the "
                       "baseline (real server)",
             "met": worst["import_speedup"] >= MIN_IMPORT_SPEEDUP,
             "measured": ", ".join(f"{r['clusters']}: {r['import_speedup']}x" for r in slow)}]


def report(results: dict[str, Any]) -> str:
    m, s, server = results["machine"], results["settings"], results["server"]
    cm = server["configmaps"]
    planes = "one control plane (source and target)" if s["control_planes"] == 1 else (
        "two control planes (source, target)")
    lines = [
        f"movekit benchmark against a real control plane: {m['cpus']} CPUs ({m['cpu_model']}), "
        f"Python {m['python']}, {m['system']}",
        f"kube-apiserver {server['kubernetes']} ({server['git_version']}) + etcd, {planes}, "
        "no controllers",
        f"import: {s['import_workers']} workers, client qps {s['client_qps']:g} burst "
        f"{s['client_burst']}",
        wrap(results["layout"]),
        "",
        f"server alone: {cm['creates_per_second']:,.0f} creates/s ({cm['threads']} "
        "kubernetes-client threads, small ConfigMaps)" if cm else "server alone: not measured",
        "",
        "1. export vs raw dump",
        wrap("raw dump = " + results["baselines"]["raw_dump"]),
    ]
    if s["kubectl"]:
        lines.append(wrap("kubectl = " + results["baselines"]["kubectl"]))
    lines.append(f"{'clusters':>8} {'latency':>7} {'objects':>7} | {'export s':>8} {'reqs':>5} "
                 f"{'RSS MB':>6} | {'dump s':>7} {'reqs':>5} {'kubectl s':>9} | "
                 f"{'export/dump':>11} {'export/kubectl':>14}")
    for r in results["runs"]:
        e, d, k = r["export"], r["raw_dump"], r["kubectl"]
        lines.append(
            f"{r['clusters']:>8,} {r['latency_ms']:>5g}ms {r['objects']:>7,} | "
            f"{e['seconds']:>8.2f} {e['requests']:>5} {e['peak_rss_mb']:>6.0f} | "
            f"{d['seconds']:>7.2f} {d['requests']:>5} "
            f"{k['seconds'] if k else float('nan'):>9.2f} | "
            f"{r['export_vs_raw_dump']:>10.2f}x "
            f"{r.get('export_vs_kubectl', float('nan')):>13.2f}x")
    lines.append("export requests = discovery + paged lists (twice: to decide, then to copy) + "
                 "2 pause/resume requests per Cluster and ClusterClass")
    lines += ["", "2. import at 0 ms vs the server's parallel create ceiling",
              wrap("ceiling = " + results["baselines"]["ceiling"]),
              f"{'clusters':>8} {'objects':>7} | {'import s':>8} {'obj/s':>7} {'req/s':>7} | "
              f"{'ceiling':>7} {'obj/s':>7} | {'objects':>7} {'requests':>8} (import / ceiling)"]
    for r in results["runs"]:
        c = r["ceiling"]
        if c is None:
            continue
        i = r["import"]
        lines.append(
            f"{r['clusters']:>8,} {r['objects']:>7,} | {i['seconds']:>8.2f} "
            f"{i['objects_per_second']:>7,.0f} {i['requests_per_second']:>7,.0f} | "
            f"{c['creates']:>7,} {c['creates_per_second']:>7,.0f} | "
            f"{r['import_vs_ceiling']:>7.2f} {r['import_requests_vs_ceiling']:>8.2f}")
    lines += ["", "3. import vs the clusterctl-style baseline",
              wrap("baseline = " + results["baselines"]["baseline"]),
              f"{'clusters':>8} {'latency':>7} {'objects':>7} | {'import s':>8} {'obj/s':>7} "
              f"{'req/obj':>7} | {'baseline':>8} {'obj/s':>6} {'req/obj':>7} | {'speedup':>7}"]
    for r in results["runs"]:
        i, b = r["import"], r["baseline"]
        scaled = "*" if b["scaled"] else " "
        lines.append(
            f"{r['clusters']:>8,} {r['latency_ms']:>5g}ms {r['objects']:>7,} | "
            f"{i['seconds']:>8.2f} {i['objects_per_second']:>7,.0f} "
            f"{i['requests_per_object']:>7.2f} | {b['seconds']:>7.1f}{scaled} "
            f"{b['objects_per_second']:>6,.0f} {b['requests_per_object']:>7.2f} | "
            f"{r['import_speedup']:>6.1f}x")
    if any(r["baseline"]["scaled"] for r in results["runs"]):
        lines.append(f"* baseline replayed an evenly spread sample of {s['baseline_sample']} "
                     "objects, time scaled to all (it is sequential: time is linear in objects)")
    lines += ["", "targets:"]
    for t in results["targets"]:
        lines.append(f"  [{'met' if t['met'] else 'MISSED'}] {t['target']}: {t['measured']}")
    lines.append(f"\nbenchmark took {results['seconds']:.0f}s")
    return "\n".join(lines)
