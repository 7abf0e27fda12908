"""New Report: every report type the form offers can be polled when configured, with the granular
scope it needs added to the consent; the per-contact aged reports are refused with the reason."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from xero_gateway.domain.polls import CONTACT_REPORTS, REPORT_SCOPES
from xero_gateway.settings import GRANULAR_SCOPES, XeroGatewaySettings


def test_the_default_consent_is_unchanged() -> None:
    assert XeroGatewaySettings().scopes == GRANULAR_SCOPES


def test_each_configured_report_type_adds_its_scope() -> None:
    pollable = [t for t in REPORT_SCOPES if t not in CONTACT_REPORTS]
    assert len(pollable) == 7
    scopes = XeroGatewaySettings(poll_report_types=pollable).scopes.split()
    for report_type in pollable:
        assert REPORT_SCOPES[report_type] in scopes, report_type
    assert len(scopes) == len(set(scopes))
    assert "accounting.reports.aged.read" not in scopes


@pytest.mark.parametrize(
    ("report_type", "reason"), [("AgedPayablesByContact", "per contact"), ("Nope", "unknown report type")]
)
def test_a_report_type_that_cannot_be_polled_is_refused(report_type: str, reason: str) -> None:
    with pytest.raises(ValidationError, match=reason):
        XeroGatewaySettings(poll_report_types=[report_type])
