"""A live move crashed after any of its requests or journal writes, then resumed or rolled
back, ends whole: every 9th crash point in every test run (two phases apart between the two
sweeps), every one with ``python -m bench.crash_points`` (see there for what is checked)."""

from __future__ import annotations

import pytest

from bench.crash_points import crash_points, crash_twice
from movekit.journal import Phase

STRIDE = 9


@pytest.mark.parametrize(("then", "offset"), [("resume", 0), ("rollback", 4)])
def test_a_move_crashed_at_any_point_then_resumed_or_rolled_back_ends_whole(
    then: str, offset: int
) -> None:
    report = crash_points(then, stride=STRIDE, offset=offset)

    assert report.failures == [], "\n".join(report.failures)
    # The sweep reached every phase: a move takes this many events, and each was a candidate.
    assert report.events > 100
    assert len(report.points) == (report.events - 1 - offset) // STRIDE + 1


@pytest.mark.parametrize("then", ["resume", "rollback"])
def test_a_resume_crashed_while_pausing_left_nothing_paused_unrecorded(then: str) -> None:
    # The first crash leaves the journal at "planned": the resume is the first to pause.
    report = crash_twice(then, first_write=0, stride=4, until=Phase.EXPORTED)

    assert report.failures == [], "\n".join(report.failures)
    assert len(report.points) > 10
