"""A component's state comes from what happened: unknown until the first attempt."""

from __future__ import annotations

import datetime as dt

from aggregator.health.state import component_state

NOW = dt.datetime(2026, 12, 3, 1, 0, tzinfo=dt.UTC)


def row(**kw):
    base = {
        "last_attempt_at": None,
        "last_success_at": None,
        "consecutive_failures": 0,
        "needs_human": False,
        "expected_interval_s": None,
        "registered_at": NOW,
    }
    return base | kw


def test_never_contacted_is_unknown_not_ok():
    assert component_state(None, NOW, failures_to_fail=3) == "unknown"
    assert component_state(row(), NOW, failures_to_fail=3) == "unknown"


def test_failures_in_a_row_degrade_then_fail_and_a_human_problem_fails_at_once():
    t = NOW - dt.timedelta(seconds=5)
    assert (
        component_state(row(last_attempt_at=t, consecutive_failures=1), NOW, failures_to_fail=3)
        == "degraded"
    )
    assert (
        component_state(row(last_attempt_at=t, consecutive_failures=3), NOW, failures_to_fail=3)
        == "failing"
    )
    assert (
        component_state(
            row(last_attempt_at=t, consecutive_failures=1, needs_human=True),
            NOW,
            failures_to_fail=3,
        )
        == "failing"
    )
    assert (
        component_state(row(last_attempt_at=t, last_success_at=t), NOW, failures_to_fail=3) == "ok"
    )


def test_a_component_not_tried_when_it_should_have_been_is_stale():
    old = NOW - dt.timedelta(minutes=10)
    assert (
        component_state(
            row(last_attempt_at=old, last_success_at=old, expected_interval_s=30),
            NOW,
            failures_to_fail=3,
        )
        == "stale"
    )
    # the feed: no good read for longer than its threshold, or none since it was registered
    assert (
        component_state(
            row(last_attempt_at=NOW, last_success_at=old),
            NOW,
            failures_to_fail=3,
            stale_after_s=300,
        )
        == "stale"
    )
    assert (
        component_state(row(registered_at=old), NOW, failures_to_fail=3, stale_after_s=300)
        == "stale"
    )
