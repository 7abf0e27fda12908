"""Pure rate-limit math: rolling windows, header corrections, 429 blocking, poll intervals."""

from __future__ import annotations

from xero_gateway.domain.budget import OrgBudget, poll_interval, problem_kind
from xero_gateway.domain.signature import sign, verify
from xero_gateway.domain.webhooks import WebhookEvent


def test_minute_budget_refuses_the_61st_call_until_the_first_leaves_the_window() -> None:
    b = OrgBudget(per_minute=60, concurrent=100, margin=1.0)
    for i in range(60):
        assert b.wait(i * 0.1) == 0
        b.take(i * 0.1)
        b.release()
    assert b.wait(6.0) == 61.0 - 6.0  # first call at t=0 leaves the 61 s window at t=61


def test_concurrency_waits_for_a_release() -> None:
    b = OrgBudget(concurrent=2)
    b.take(0)
    b.take(0)
    assert b.wait(0) is None
    b.release()
    assert b.wait(0) == 0


def test_headers_only_tighten_and_429_blocks() -> None:
    b = OrgBudget(per_minute=60, margin=0)
    b.observe(0, minute_remaining=10, day_remaining=None)
    assert b.minute.remaining(0) == 10
    b.observe(0, minute_remaining=50, day_remaining=None)
    assert b.minute.remaining(0) == 10
    b.throttle(5, retry_after=30, problem="minute")
    assert b.wait(5) == 30


def test_problem_kinds_and_poll_interval() -> None:
    assert problem_kind("DayLimit") == "day" and problem_kind("AppMinLimit") == "app"
    assert problem_kind("Minute limit") == "minute"
    assert round(poll_interval(5000, 6, 0.4, 60)) == 259
    assert poll_interval(1000, 6, 0.4, 60) > poll_interval(5000, 6, 0.4, 60)


def test_signature_and_dedupe_key() -> None:
    body = b'{"events":[]}'
    assert verify("k" * 10, body, sign("k" * 10, body))
    assert not verify("k" * 10, body, sign("k" * 10, body + b" "))
    a = WebhookEvent("t", "INVOICE", "ID", "UPDATE", "2026-01-01T00:00:00.000")
    b = WebhookEvent("t", "INVOICE", "ID", "UPDATE", "2026-01-01T00:00:01.000")
    assert a.dedupe_key != b.dedupe_key  # a later update of the same invoice is a new event
