"""``domain.invoice_changes``: what changed between two versions of a sales invoice (pure)."""

from __future__ import annotations

from typing import Any

from kxflow_contracts.events.invoice_changes import INVOICE_CHANGES
from xero_gateway.domain.invoice_changes import MAX_VALUE, Stored, changed_fields, observe, snapshot

BASE: dict[str, Any] = {
    "InvoiceID": "inv-1",
    "Type": "ACCREC",
    "Status": "DRAFT",
    "Contact": {"ContactID": "C-1", "Name": "Ada"},
    "Total": 100.0,
    "AmountDue": 100.0,
    "AmountPaid": 0,
    "Reference": "R1",
    "LineItems": [{"Description": "course", "Quantity": 1, "UnitAmount": 100}],
    "UpdatedDateUTC": "/Date(1000+0000)/",
}


def version(n: int, **changes: Any) -> dict[str, Any]:
    return {**BASE, **changes, "UpdatedDateUTC": f"/Date({1000 + n}+0000)/"}


def test_each_field_is_reported_alone() -> None:
    before = snapshot(BASE)
    assert changed_fields(before, snapshot(version(1, Status="AUTHORISED"))) == ["Status"]
    assert changed_fields(before, snapshot(version(1, Reference="R2"))) == ["Reference"]
    assert changed_fields(before, snapshot(version(1, Contact={"ContactID": "C-2"}))) == ["Contact"]
    lines = [*BASE["LineItems"], {"Description": "book", "Quantity": 1, "UnitAmount": 5}]
    assert changed_fields(before, snapshot(version(1, LineItems=lines))) == ["LineItems"]


def test_several_fields_in_catalog_order_and_no_change_is_empty() -> None:
    paid = version(1, Status="PAID", AmountDue=0, AmountPaid=100.0)
    assert changed_fields(snapshot(BASE), snapshot(paid)) == ["Status", "AmountDue", "AmountPaid"]
    assert changed_fields(snapshot(BASE), snapshot(version(2))) == []


def test_representation_noise_is_not_a_change() -> None:
    same = version(1, Total=100, Contact={"ContactID": "c-1", "Name": "Ada Lovelace"})
    assert changed_fields(snapshot(BASE), snapshot(same)) == []  # 100 vs 100.0, id case, contact name


def test_without_a_previous_version_nothing_is_reported() -> None:
    assert changed_fields(None, snapshot(BASE)) == []


def test_a_snapshot_is_bounded_whatever_the_invoice_holds() -> None:
    lines = [{"Description": "y" * 1000}] * 1000
    huge = version(1, Reference="x" * 100_000, LineItems=lines, Extra="z" * 10**5)
    snap = snapshot(huge)
    assert set(snap) == set(INVOICE_CHANGES)
    assert all(len(v) <= MAX_VALUE for v in snap.values())
    assert changed_fields(snapshot(BASE), snap) == ["Reference", "LineItems"]
    _, stored = observe(None, {**huge, "UpdatedDateUTC": "9" * 10**5})
    assert len(stored.version) <= MAX_VALUE


def test_observe_compares_with_the_last_version_and_remembers_the_new_one() -> None:
    changed, first = observe(None, BASE)
    assert changed == [] and first.previous is None
    changed, second = observe(first, version(1, Status="AUTHORISED"))
    assert changed == ["Status"] and second.previous == first.current
    changed, third = observe(second, version(2, Status="AUTHORISED", Reference="R2"))
    assert changed == ["Reference"] and third.previous == second.current


def test_the_same_version_seen_again_answers_the_same_change() -> None:
    _, first = observe(None, BASE)
    changed, second = observe(first, version(1, Status="AUTHORISED"))
    again, kept = observe(second, version(1, Status="AUTHORISED"))  # a redelivered webhook
    assert again == changed == ["Status"] and kept is second


def test_a_version_without_a_date_is_compared_with_the_last_one() -> None:
    no_date = {k: v for k, v in BASE.items() if k != "UpdatedDateUTC"}
    _, first = observe(None, no_date)
    changed, _ = observe(first, {**no_date, "Status": "VOIDED"})
    assert changed == ["Status"]
    assert isinstance(first, Stored)
