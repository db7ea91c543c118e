"""The benchmark driver runs end to end on a small fleet and reports what the README promises.

No timing is asserted (timings belong to `make bench`, not to a test run); only the shape of
the results and the one property that does not depend on the machine: export reads grow with
kinds, not with objects.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.run import main

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
