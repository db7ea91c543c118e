"""The benchmark driver runs end to end on a small fleet and reports what the README promises.

No timing is asserted (timings belong to `make bench`, not to a test run); only the shape of
the results and the one property that does not depend on the machine: export reads grow with
kinds, not with objects. The real mode runs too when a real control plane is at hand.
"""

from __future__ import annotations

import json
import socket
import threading
from pathlib import Path

import pytest

from bench.proxy import LatencyProxy
from bench.run import main
from kubesim.envtest import ASSETS_ENV, assets_dir

NO_REAL_ASSETS = f"real mode: set {ASSETS_ENV} (etcd, kube-apiserver)"

pytestmark = pytest.mark.timeout(300)


def test_the_benchmark_reports_every_figure_and_export_reads_grow_with_kinds(
        tmp_path: Path) -> None:
    out = tmp_path / "results.json"

    assert main(["--sizes", "10,20", "--latency", "0", "--out", str(out), "--silent",
                 "--load-seconds", "1"]) == 0

    results = json.loads(out.read_text())
    assert {"machine", "settings", "layout", "kubesim", "runs", "growth", "archive",
            "targets"} <= set(results)
    assert results["kubesim"]["creates"] > 0
    small, large = results["runs"]
    for run in (small, large):
        assert {"clusters", "latency_ms", "objects", "export", "import", "baseline",
                "import_speedup"} <= set(run)
        assert {"seconds", "requests", "read_requests", "peak_rss_mb",
                "objects_per_second"} <= set(run["export"])
        assert {"seconds", "requests", "requests_per_object", "peak_rss_mb",
                "objects_per_second"} <= set(run["import"])
        assert run["baseline"]["requests_per_object"] >= 3  # GET, CREATE, PATCH per object
        assert run["import"]["objects"] == run["objects"]
    assert large["objects"] > small["objects"]
    assert large["export"]["read_requests"] == small["export"]["read_requests"]
    archive = results["archive"]
    assert archive["objects"] == large["objects"] and archive["compression_ratio"] > 1


def test_the_latency_proxy_passes_bytes_unchanged_both_ways_and_stops_by_itself() -> None:
    with socket.create_server(("127.0.0.1", 0)) as upstream:
        echoed = threading.Thread(target=_echo_once, args=(upstream,), daemon=True)
        echoed.start()
        with LatencyProxy(upstream.getsockname()[1], one_way_ms=10, lifetime=1.0) as proxy:
            message = bytes(range(256)) * 1000
            with socket.create_connection(("127.0.0.1", proxy.port)) as conn:
                conn.sendall(message)
                conn.shutdown(socket.SHUT_WR)
                answer = b"".join(iter(lambda: conn.recv(65536), b""))
            assert answer == message
            echoed.join()
            assert proxy.wait_stopped(timeout=30)
            with pytest.raises(ConnectionRefusedError):
                socket.create_connection(("127.0.0.1", proxy.port), timeout=5)


def _echo_once(server: socket.socket) -> None:
    conn, _ = server.accept()
    with conn:
        for chunk in iter(lambda: conn.recv(65536), b""):
            conn.sendall(chunk)


@pytest.mark.skipif(assets_dir() is None, reason=NO_REAL_ASSETS)
@pytest.mark.timeout(600)  # a guard against hangs: ~1 min on a quiet 2-core machine
def test_the_real_mode_compares_export_import_and_baselines_on_one_control_plane(
        tmp_path: Path) -> None:
    out = tmp_path / "results-real.json"

    assert main(["--real", "--quick", "--out", str(out), "--silent"]) == 0

    results = json.loads(out.read_text())
    assert results["mode"] == "real"
    assert {"raw_dump", "ceiling", "baseline"} <= set(results["baselines"])
    assert [r["latency_ms"] for r in results["runs"]] == [0.0, 20.0]
    for run in results["runs"]:
        assert run["import"]["objects"] == run["export"]["objects"] == run["objects"]
        assert run["raw_dump"]["objects"] == run["objects"]  # the same objects, dumped raw
        assert run["raw_dump"]["requests"] == run["raw_dump"]["kinds"]  # one LIST per kind
        assert run["baseline"]["requests_per_object"] >= 3  # GET, CREATE, PATCH per object
        assert run["export_vs_raw_dump"] > 0 and run["import_speedup"] > 0
        assert (run["kubectl"] is not None) == (results["settings"]["kubectl"] is not None)
    at_zero, through_proxy = results["runs"]
    assert at_zero["ceiling"]["creates"] == at_zero["objects"]
    assert at_zero["import_vs_ceiling"] > 0
    assert through_proxy["ceiling"] is None
