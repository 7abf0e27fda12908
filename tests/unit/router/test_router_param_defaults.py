"""A catalog entry's parameter defaults, applied by the router in one place (``with_defaults``):
New Payslip now emits draft pay runs too, and a zap that names no status still fires on POSTED
pay runs only, as it did when only posted runs were polled."""

from __future__ import annotations

from typing import Any

from zap_records import zap_record

from kxflow_contracts.catalog import CATALOG
from zap_router.domain.matching import MatchIndex
from zap_router.engine.active import active_from_record, with_defaults


def record(zap_id: str, params: dict[str, Any]) -> dict[str, Any]:
    return zap_record(zap_id, "xero.payslip.created", params)


def payslip(status: str) -> dict[str, Any]:
    return {"connection_id": "x1", "pay_run": {"PayRunStatus": status}, "payslip": {"PayslipID": "p"}}


def test_a_zap_without_a_status_fires_on_posted_pay_runs_only() -> None:
    index = MatchIndex()
    for zap_id, params in (
        ("no-status", {}),
        ("null-status", {"pay_run_status": None}),
        ("drafts", {"pay_run_status": "DRAFT"}),
        ("posted", {"pay_run_status": "POSTED"}),
    ):
        index.upsert(active_from_record(record(zap_id, params), CATALOG))
    posted = {z.zap_id for z in index.match("acme", "xero.payslip.created", "x1", payslip("POSTED"))}
    drafts = {z.zap_id for z in index.match("acme", "xero.payslip.created", "x1", payslip("DRAFT"))}
    assert posted == {"no-status", "null-status", "posted"}
    assert drafts == {"drafts"}


def test_defaults_fill_only_what_is_left_out() -> None:
    assert CATALOG.get("xero.payslip.created").param_defaults == {"pay_run_status": "POSTED"}
    assert with_defaults({"a": 1}, {}) == {"a": 1}
    assert with_defaults({"a": None, "b": 2}, {"a": "x", "b": "y"}) == {"a": "x", "b": 2}
