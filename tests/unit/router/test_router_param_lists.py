"""List-matched trigger parameters (``CatalogEntry.param_lists``): Updated Sales Invoice's Change
(one field or several) against the event's ``changed`` list, any or all of them as the zap's
Trigger preference says; equality parameters (Status, Contact) still narrow by index lookup."""

from __future__ import annotations

from typing import Any

import pytest
from zap_records import zap_record

from kxflow_contracts.catalog import CATALOG
from zap_router.domain.matching import MISSING, MatchIndex, list_matches
from zap_router.domain.validation import validate_zap
from zap_router.domain.zaps import ZapSpec
from zap_router.engine.active import active_from_record

UPDATED = "xero.sales_invoice.updated"


def record(zap_id: str, params: dict[str, Any]) -> dict[str, Any]:
    return zap_record(zap_id, UPDATED, params)


def event(changed: list[str], status: str = "AUTHORISED") -> dict[str, Any]:
    return {
        "connection_id": "x1",
        "invoice": {"Status": status, "Contact": {"ContactID": "c1"}},
        "changed": changed,
    }


ZAPS = {
    "any-change": {},
    "status": {"change": "Status"},
    "status-listed": {"change": ["Status"]},
    "status-or-due": {"change": ["Status", "AmountDue"], "trigger_preference": "any"},
    "status-and-due": {"change": ["Status", "AmountDue"], "trigger_preference": "all"},
    "paid-status": {"status": "PAID", "change": "Status"},
    "reference": {"change": "Reference", "contact": "c1"},
}


@pytest.fixture
def index() -> MatchIndex:
    idx = MatchIndex()
    for zap_id, params in ZAPS.items():
        idx.upsert(active_from_record(record(zap_id, params), CATALOG))
    return idx


def matched(index: MatchIndex, data: dict[str, Any]) -> set[str]:
    found = {z.zap_id for z in index.match("acme", UPDATED, "x1", data)}
    assert found == {z for z in ZAPS if index.get(z).params_match(data)}  # dry run agrees
    return found


def test_an_unrelated_edit_fires_only_zaps_asking_for_it_or_for_any_change(index: MatchIndex) -> None:
    assert matched(index, event(["Reference"])) == {"any-change", "reference"}


def test_a_status_change_fires_status_zaps_any_and_all_as_asked(index: MatchIndex) -> None:
    assert matched(index, event(["Status"])) == {"any-change", "status", "status-listed", "status-or-due"}
    assert matched(index, event(["Status", "AmountDue", "AmountPaid"])) == {
        "any-change",
        "status",
        "status-listed",
        "status-or-due",
        "status-and-due",
    }
    assert matched(index, event(["Status"], status="PAID")) == {
        "any-change",
        "status",
        "status-listed",
        "status-or-due",
        "paid-status",
    }


def test_no_known_previous_version_fires_only_zaps_without_a_change(index: MatchIndex) -> None:
    assert matched(index, event([])) == {"any-change"}
    assert matched(index, {"connection_id": "x1", "invoice": {"Status": "AUTHORISED"}}) == {"any-change"}


def test_list_matches() -> None:
    assert list_matches(None, ["Status"], None)
    assert list_matches([], MISSING, None)
    assert not list_matches("Status", MISSING, None)
    assert list_matches("Status", ["Status", "Total"], None)
    assert list_matches(["Status", "Total"], ["Total"], "any")
    assert not list_matches(["Status", "Total"], ["Total"], "all")
    assert list_matches(["Status", "Total"], ["Total", "Status"], "all")


def test_change_and_preference_values_are_checked_when_a_zap_is_saved() -> None:
    def problems(params: dict[str, Any]) -> list[str]:
        spec = ZapSpec.model_validate(
            {
                "name": "z",
                "trigger": {"app": "xero", "event": UPDATED, "connection": "x1", "params": params},
                "steps": [{"id": "s", "action": "xero.contact.find", "input": {"ContactID": "c1"}}],
            }
        )
        return [p.loc for p in validate_zap(spec, CATALOG, {"xero": {"x1"}})[1]]

    assert problems({"change": ["Status", "AmountDue"], "trigger_preference": "all"}) == []
    assert problems({"change": "Status"}) == []
    assert any(loc.startswith("trigger.params.change") for loc in problems({"change": "Colour"}))
    assert any(
        loc.startswith("trigger.params.trigger_preference")
        for loc in problems({"change": "Status", "trigger_preference": "most"})
    )


@pytest.mark.parametrize(
    ("event", "params", "problem"),
    [
        ("xero.report.updated", {"report_type": "TrialBalance"}, None),
        ("xero.report.updated", {"report_type": "Nope"}, "unknown report type"),
        ("xero.report.updated", {"report_type": "AgedPayablesByContact"}, "per contact"),
        ("xero.report.updated", {"report_type": None}, None),  # left out: the default
        ("xero.sales_invoice.overdue", {"days_overdue": "3"}, None),
        ("xero.sales_invoice.overdue", {"days_overdue": "soon"}, "valid integer"),
        ("xero.sales_invoice.created", {"status": 123}, None),  # parameters compare as text
    ],
)
def test_trigger_parameter_values_are_checked_when_a_zap_is_saved(
    event: str, params: dict[str, Any], problem: str | None
) -> None:
    spec = ZapSpec.model_validate(
        {
            "name": "z",
            "trigger": {"app": "xero", "event": event, "connection": "x1", "params": params},
            "steps": [{"id": "s", "action": "xero.contact.find", "input": {"ContactID": "c1"}}],
        }
    )
    found = [f"{p.loc}: {p.msg}" for p in validate_zap(spec, CATALOG, {"xero": {"x1"}})[1]]
    if problem is None:
        assert found == []
    else:
        assert len(found) == 1 and found[0].startswith("trigger.params.") and problem in found[0], found
