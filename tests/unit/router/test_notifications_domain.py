"""Notification rules and messages (pure): which events a rule wants, when a burst is sent, digests."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from pydantic import ValidationError

from zap_router.domain.health import AutoDisablePolicy, at_risk
from zap_router.domain.notifications import (
    DIGEST_LINES,
    FlushPolicy,
    Kind,
    RuleSpec,
    compose,
    notice_from_dead_letter,
    notice_from_run_event,
    notices_from_connections,
    rule_wants,
)

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def event(transition: str, status: str, **extra: object) -> dict[str, object]:
    return {
        "run_id": "r1",
        "tenant": "acme",
        "zap_id": "z1",
        "transition": transition,
        "status": status,
        **extra,
    }


def test_failed_halted_and_disabled_are_told_and_progress_is_not() -> None:
    failed = notice_from_run_event(
        "r1:finished", event("finished", "failed", error={"code": "x", "message": "m"})
    )
    assert failed is not None and failed.kind == Kind.run_failed and failed.text == "x: m"
    halted = notice_from_run_event("r1:finished", event("finished", "halted"))
    assert halted is not None and halted.kind == Kind.run_halted
    off = notice_from_run_event("r1:zap_disabled", event("zap_disabled", "failed"))
    assert off is not None and off.kind == Kind.zap_disabled
    assert notice_from_run_event("a", event("finished", "succeeded")) is None
    assert notice_from_run_event("b", event("started", "running")) is None
    assert notice_from_run_event("c", event("step_done", "running", step_status="failed")) is None
    # a cancelled run (runs.v1 says halted + status_detail, issue 15): someone chose it, no notice
    assert notice_from_run_event("d", event("finished", "halted", status_detail="cancelled")) is None
    # a run whose failed step's on_error branch ran (runs.v1: halted + status_detail handled) is its
    # own kind, never told as a halt
    handled = notice_from_run_event(
        "e", event("finished", "halted", status_detail="handled", error={"code": "x", "message": "m"})
    )
    assert handled is not None and handled.kind == Kind.run_handled and "handled" in handled.title


def test_rule_matches_its_tenant_kinds_and_zap_only() -> None:
    notice = notice_from_run_event("k", event("finished", "failed"))
    assert notice is not None
    rule = {"tenant": "acme", "kinds": ["run_failed"], "zap_id": None, "enabled": True}
    assert rule_wants(rule, notice)
    assert not rule_wants({**rule, "tenant": "globex"}, notice)
    assert not rule_wants({**rule, "kinds": ["run_halted"]}, notice)
    assert not rule_wants({**rule, "zap_id": "z2"}, notice)
    assert rule_wants({**rule, "zap_id": "z1"}, notice)
    assert not rule_wants({**rule, "enabled": False}, notice)


def test_flush_waits_for_quiet_and_caps_the_rate() -> None:
    policy = FlushPolicy(timedelta(seconds=60), timedelta(seconds=5), timedelta(seconds=120))
    # still arriving: held
    assert not policy.due(T0, T0 + timedelta(seconds=3), None, T0 + timedelta(seconds=4))
    # quiet for 5 s: due
    assert policy.due(T0, T0 + timedelta(seconds=3), None, T0 + timedelta(seconds=8))
    # a steady trickle is still sent after max_delay
    assert policy.due(T0, T0 + timedelta(seconds=119), None, T0 + timedelta(seconds=120))
    # the last message went out 30 s ago: capped
    assert not policy.due(T0, T0, T0 + timedelta(seconds=10), T0 + timedelta(seconds=40))


def item(i: int) -> dict[str, object]:
    return {"kind": "run_failed", "title": f"Run r{i} failed", "text": "boom", "run_id": f"r{i}"}


def test_one_item_is_a_message_and_a_burst_is_one_digest() -> None:
    single = compose("ops", [item(1)], "https://k.example/console")
    assert single.count == 1 and single.subject == "[kxflow] Run r1 failed"
    assert "https://k.example/console/runs/r1" in single.text
    digest = compose("ops", [item(i) for i in range(500)])
    assert digest.count == 500 and "500 notifications (500 run failed)" in digest.subject
    assert digest.text.count("•") == DIGEST_LINES and f"and {500 - DIGEST_LINES} more" in digest.text
    body = digest.slack()
    assert body["text"].startswith(digest.subject) and body["blocks"][0]["type"] == "header"


def test_rule_targets_are_checked() -> None:
    ok = RuleSpec(name="a", kinds=["run_failed"], channel="email", target="ops@example.com")
    assert ok.target == "ops@example.com"
    # header injection through the address is refused
    with pytest.raises(ValidationError):
        RuleSpec(name="a", kinds=["run_failed"], channel="email", target="ops@example.com\r\nBcc: x@y.z")
    with pytest.raises(ValidationError):
        RuleSpec(name="a", kinds=["run_failed"], channel="webhook", target="file:///etc/passwd")
    with pytest.raises(ValidationError):
        RuleSpec(name="a", kinds=[], channel="webhook", target="https://hooks.example/x")
    every = RuleSpec(name="a", kinds=list(Kind), channel="webhook", target="https://hooks.example/x")
    assert set(every.kinds) == set(Kind)  # every kind is sent by the notifier


def test_a_zap_failing_at_the_ratio_is_at_risk_before_it_is_disabled() -> None:
    policy = AutoDisablePolicy(min_runs=20, error_ratio=0.95)
    assert not at_risk(policy, 5, 5)
    assert at_risk(policy, 11, 11) and not policy.should_disable(11, 11)
    assert not at_risk(policy, 15, 10)
    assert policy.should_disable(21, 21)


class FixedOutcomes:
    def __init__(self, total: int, failed: int) -> None:
        self.total, self.failed, self.calls = total, failed, 0

    async def count_outcomes(self, zap_id: str, since: datetime) -> tuple[int, int]:
        self.calls += 1
        return self.total, self.failed


async def test_the_notifier_warns_once_a_day_before_the_zap_is_turned_off() -> None:
    from zap_router.domain.clock import ManualClock
    from zap_router.engine.notifier import Notifier

    outcomes = FixedOutcomes(total=12, failed=12)
    notifier = Notifier(store=None, sender=None, clock=ManualClock(T0), outcomes=outcomes)  # type: ignore[arg-type]
    failures = [notice_from_run_event(f"r{i}:finished", event("finished", "failed")) for i in range(6)]
    warnings = await notifier.warnings_for([n for n in failures if n])
    # counted on the first failure and the sixth (every fifth), one warning key per zap and day
    assert outcomes.calls == 2
    assert {w.key for w in warnings} == {"zap_at_risk:z1:2026-12-01"} and warnings[0].kind == Kind.zap_at_risk
    past = FixedOutcomes(total=30, failed=30)  # past the rule: the router turns it off, no warning
    fresh = Notifier(store=None, sender=None, clock=ManualClock(T0), outcomes=past)  # type: ignore[arg-type]
    assert await fresh.warnings_for([n for n in failures if n][:1]) == [] and past.calls == 1


def test_a_dead_letter_is_a_notice_of_its_tenant_keyed_by_its_place() -> None:
    headers = {
        "ce_tenant": "acme",
        "ce_type": "kxflow.command.v1",
        "x-error-class": "EnvelopeError",
        "x-error-message": "data is not JSON",
        "x-original-topic": "kxflow.xero.commands.v1",
    }
    notice = notice_from_dead_letter("kxflow.xero.commands.v1.dlq", 2, 41, headers)
    assert notice is not None and notice.kind == Kind.dead_letters and notice.tenant == "acme"
    assert notice.key == "dlq:kxflow.xero.commands.v1.dlq:2:41"
    assert notice.text == "EnvelopeError: data is not JSON" and "kxflow.xero.commands.v1" in notice.title
    assert notice_from_dead_letter("kxflow.runs.v1.dlq", 0, 1, {"x-error-class": "X"}) is None  # no tenant


def test_connections_needing_reauth_are_one_notice_each_per_day() -> None:
    found = [
        {"id": "x1", "app": "xero", "name": "Acme AU", "status": "active"},
        {
            "id": "x2",
            "app": "xero",
            "name": "Acme NZ",
            "status": "needs_reauth",
            "status_reason": "invalid_grant",
        },
        {"id": "k1", "app": "kartra", "status": "needs_reauth"},
    ]
    today = notices_from_connections("acme", found, date(2026, 12, 8))
    assert [n.title for n in today] == [
        "The Xero connection Acme NZ needs re-authorisation",
        "The Kartra connection k1 needs re-authorisation",
    ]
    assert all(n.kind == Kind.connection_needs_reauth and n.tenant == "acme" for n in today)
    assert today[0].text.startswith("invalid_grant")
    again = notices_from_connections("acme", found, date(2026, 12, 8))
    tomorrow = notices_from_connections("acme", found, date(2026, 12, 9))
    assert [n.key for n in again] == [n.key for n in today]
    assert not {n.key for n in tomorrow} & {n.key for n in today}
