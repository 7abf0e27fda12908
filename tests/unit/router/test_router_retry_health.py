"""The autoreplay ladder and the auto-disable rule."""

from __future__ import annotations

from datetime import timedelta

from zap_router.domain.health import AutoDisablePolicy
from zap_router.domain.retry import DEFAULT_LADDER, next_delay, parse_ladder


def test_ladder_is_designs_default() -> None:
    delays = [next_delay(a) for a in range(1, 7)]
    assert delays == [
        timedelta(minutes=1),
        timedelta(minutes=5),
        timedelta(minutes=30),
        timedelta(hours=2),
        timedelta(hours=6),
        None,
    ]
    assert sum(DEFAULT_LADDER, timedelta()) < timedelta(hours=10)


def test_custom_ladder() -> None:
    ladder = parse_ladder("1, 2.5")
    assert next_delay(2, ladder) == timedelta(seconds=2.5)
    assert next_delay(3, ladder) is None
    assert next_delay(0, ladder) is None


def test_auto_disable_needs_more_than_20_runs_and_95_percent_errors() -> None:
    policy = AutoDisablePolicy()
    assert not policy.should_disable(20, 20)
    assert policy.should_disable(21, 20)  # 95.2 %
    assert not policy.should_disable(40, 37)  # 92.5 %
    assert "20 of 21 runs failed" in policy.reason(21, 20)
