"""A short soak in every test run: imports and moves under faults and SIGKILLs lose nothing.

The long version is ``python -m bench.soak`` (hundreds of runs).
"""

from __future__ import annotations

from bench.soak import soak


def test_imports_and_moves_under_faults_and_crashes_lose_nothing() -> None:
    report = soak(runs=6, seed_value=7, minutes=3.0, move_share=0.5)

    assert report.failures == []
    assert sum(report.runs.values()) == 6
    assert report.objects_checked > 0
    assert sum(report.faults.values()) > 0, "faults were injected"
