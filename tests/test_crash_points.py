"""A live move crashed after any of its requests or journal writes, then resumed or rolled
back, ends whole: every 9th crash point in every test run (the rollback sweep four events
later than the resume sweep), every one with ``python -m bench.crash_points`` (see there for
what is checked)."""

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
    # It went on until a move finished uncut, crashing at every STRIDE-th event on the way.
    assert report.events > 150
    assert report.points == list(range(1 + offset, report.events, STRIDE))


@pytest.mark.parametrize(("then", "stride"), [("resume", 8), ("rollback", 4)])
def test_a_resume_crashed_while_pausing_left_nothing_paused_unrecorded(
    then: str, stride: int
) -> None:
    # The first crash leaves the journal at "planned": the resume is the first to pause.
    report = crash_twice(then, first_write=0, stride=stride, until=Phase.EXPORTED)

    assert report.failures == [], "\n".join(report.failures)
    # The resume got as far as a written bundle, past its pausing.
    assert report.events > 60
