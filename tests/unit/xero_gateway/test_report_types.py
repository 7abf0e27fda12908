"""New Report: every report type the form offers can be chosen by a zap (the consent covers each
type's granular scope) or configured for every connection; the per-contact aged reports are
refused with the reason. ``ReportDemand`` is which types zaps choose, from the zap changelog."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from kxflow_contracts.report_types import PER_CONTACT_REPORT_TYPES, REPORT_TYPES
from kxflow_contracts.zaps import ZapRecord
from xero_gateway.domain.polls import CONTACT_REPORTS, REPORT_SCOPES
from xero_gateway.domain.report_demand import ReportDemand
from xero_gateway.settings import XeroGatewaySettings

POLLABLE = [t for t in REPORT_SCOPES if t not in CONTACT_REPORTS]


def test_the_consent_covers_every_report_type_a_zap_may_choose() -> None:
    assert len(POLLABLE) == 7
    scopes = XeroGatewaySettings().scopes.split()
    for report_type in POLLABLE:
        assert REPORT_SCOPES[report_type] in scopes, report_type
    assert len(scopes) == len(set(scopes))
    assert "accounting.reports.aged.read" not in scopes
    assert XeroGatewaySettings(poll_report_types=POLLABLE).scopes.split() == scopes


@pytest.mark.parametrize(
    ("report_type", "reason"), [("AgedPayablesByContact", "per contact"), ("Nope", "unknown report type")]
)
def test_a_report_type_that_cannot_be_polled_is_refused(report_type: str, reason: str) -> None:
    with pytest.raises(ValidationError, match=reason):
        XeroGatewaySettings(poll_report_types=[report_type])


def zap(zap_id: str, params: dict[str, Any], *, enabled: bool = True, **trigger: Any) -> ZapRecord:
    return ZapRecord.model_validate(
        {
            "zap_id": zap_id,
            "tenant": trigger.pop("tenant", "acme"),
            "revision": 1,
            "version": 1,
            "enabled": enabled,
            "name": zap_id,
            "trigger": {"event": "xero.report.updated", "connection": "x1", "params": params, **trigger},
            "steps": [{"id": "s"}],  # the router's own fields are kept, never needed
        }
    )


def test_demand_follows_the_changelog() -> None:
    demand = ReportDemand()
    demand.apply("acme:z1", zap("z1", {"report_type": "TrialBalance"}))
    demand.apply("acme:z2", zap("z2", {}))  # the parameter's default: ProfitAndLoss
    demand.apply("acme:z3", zap("z3", {"report_type": "BankSummary"}, connection="x2"))
    demand.apply("globex:z4", zap("z4", {"report_type": "ExecutiveSummary"}, tenant="globex"))
    demand.apply("acme:z5", zap("z5", {"report_type": "AgedPayablesByContact"}))  # cannot be polled
    demand.apply("acme:z6", zap("z6", {"report_type": "BudgetSummary"}, event="xero.quote.created"))
    assert demand.types_for("acme", "x1") == ["ProfitAndLoss", "TrialBalance"]
    assert demand.types_for("acme", "x2") == ["BankSummary"]
    assert demand.types_for("globex", "x1") == ["ExecutiveSummary"]

    demand.apply("acme:z1", zap("z1", {"report_type": "TrialBalance"}, enabled=False))  # disabled
    demand.apply("acme:z3", None)  # deleted: a tombstone
    assert demand.types_for("acme", "x1") == ["ProfitAndLoss"]
    assert demand.types_for("acme", "x2") == []


def test_demand_is_bounded() -> None:
    demand = ReportDemand(max_zaps=2)
    for i in range(5):
        demand.apply(f"acme:z{i}", zap(f"z{i}", {"report_type": "TrialBalance"}))
    assert len(demand) == 2
    demand.apply("acme:z0", zap("z0", {"report_type": "BankSummary"}))  # a known zap still changes
    assert demand.types_for("acme", "x1") == ["BankSummary", "TrialBalance"]


def test_every_report_type_the_form_offers_has_its_scope() -> None:
    assert set(REPORT_SCOPES) == {*REPORT_TYPES, *PER_CONTACT_REPORT_TYPES}
