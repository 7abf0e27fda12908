"""The pure side of issue 4: when a keyed Xero write may be sent again, which writes can be looked
up, how a record found in Xero is matched to the write that made it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from xero_gateway.domain import actions as act
from xero_gateway.domain import lookups as lk
from xero_gateway.domain.write_attempts import Answer, Attempt, Next, Policy, classify_answer, decide

T0 = datetime(2026, 11, 29, 13, 0, tzinfo=UTC)
CONTACT = "8138a266-fb42-49b2-a104-014b7045753d"
INVOICE = "4f7b2a7e-2d3a-4a36-9a5b-0a5f4a1c8b11"
LINE = {"Description": "Course", "Quantity": 1.0, "UnitAmount": 49.5, "AccountCode": "200"}


def _decide(attempt: Attempt | None, after_s: float, policy: Policy = Policy.lookup, **kw: float) -> Next:
    return decide(
        attempt,
        T0 + timedelta(seconds=after_s),
        policy=policy,
        command_attempt=int(kw.pop("command_attempt", 1)),
        safe_window_s=300,
        **kw,
    )


def _unknown(**kw: object) -> Attempt:
    return Attempt("k", T0, **{"open": 1, **kw})  # type: ignore[arg-type]


def test_a_fresh_key_or_one_inside_the_window_is_sent_with_the_key() -> None:
    assert _decide(None, 0) is Next.send
    assert _decide(_unknown(), 299) is Next.send  # Xero still holds the key: it replays
    assert _decide(_unknown(), 300) is Next.send
    # nothing outstanding (every send was answered 429): the key is as good as new, however old
    assert _decide(_unknown(open=0), 10_000) is Next.send


def test_past_the_window_the_policy_decides() -> None:
    assert _decide(_unknown(), 301, Policy.lookup) is Next.look_up
    assert _decide(_unknown(), 301, Policy.repeatable) is Next.fresh
    assert _decide(_unknown(), 301, Policy.none) is Next.refuse
    # answered with a record but sent again (the ledger lost the result): never blindly
    assert _decide(_unknown(open=0, resource_id="x"), 301, Policy.lookup) is Next.look_up
    assert _decide(_unknown(open=0, resource_id="x"), 301, Policy.none) is Next.refuse


def test_the_window_is_in_xero_seconds_when_the_test_clock_runs_faster() -> None:
    assert _decide(_unknown(), 31, clock_speed=10) is Next.look_up  # 310 Xero seconds
    assert _decide(_unknown(), 29, clock_speed=10) is Next.send


def test_a_refusal_holds_for_its_attempt_and_a_replay_writes_again() -> None:
    refused = _unknown(refused_attempt=2)
    assert _decide(refused, 400, Policy.none, command_attempt=2) is Next.refuse  # a redelivery
    assert _decide(refused, 400, Policy.none, command_attempt=3) is Next.fresh  # the user's replay
    assert _decide(refused, 5, Policy.none, command_attempt=3) is Next.fresh


@pytest.mark.parametrize(
    ("status", "text", "answer"),
    [
        (200, "", Answer.created),
        (204, "", Answer.created),
        (400, '{"Type": "ValidationException"}', Answer.rejected),
        (404, "The resource you're looking for cannot be found", Answer.rejected),
        (429, "", Answer.not_processed),
        (401, "", Answer.not_processed),
        (500, "", Answer.unknown),
        (503, "", Answer.unknown),
        (400, '{"Message": "Idempotency key k is used with a different request"}', Answer.unknown),
    ],
)
def test_what_an_answer_says_about_the_key(status: int, text: str, answer: Answer) -> None:
    assert classify_answer(status, text) is answer


def _invoice_request(**element: object) -> act.Request:
    data = {"Contact": {"ContactID": CONTACT}, "Status": "AUTHORISED", "LineItems": [LINE], **element}
    return act.build_request(act.SPECS["xero.sales_invoice.create"], data)


def test_which_writes_have_a_lookup() -> None:
    def policy(action: str, data: dict) -> Policy:
        return lk.policy_for(act.build_request(act.SPECS[action], data))

    assert lk.policy_for(_invoice_request()) is Policy.lookup
    assert (
        policy("xero.bill.create", {"Contact": {"ContactID": CONTACT}, "LineItems": [LINE]}) is Policy.lookup
    )
    assert policy(
        "xero.payment.create", {"Invoice": {"InvoiceID": INVOICE}, "Account": {"Code": "090"}, "Amount": 5}
    ) is (Policy.lookup)
    assert policy("xero.item.create", {"Code": "COURSE"}) is Policy.lookup
    assert (
        policy("xero.account.create", {"Code": "201", "Name": "Sales 2", "Type": "REVENUE"}) is Policy.lookup
    )
    assert (
        policy("xero.quote.create", {"Contact": {"ContactID": CONTACT}, "Date": "2026-11-01"})
        is Policy.lookup
    )
    assert policy("xero.credit_note.create", {"Type": "ACCRECCREDIT", "Contact": {"ContactID": CONTACT}}) is (
        Policy.lookup
    )
    assert policy("xero.sales_invoice.note.add", {"InvoiceID": INVOICE, "Note": "paid"}) is Policy.lookup
    # setting a state again is harmless
    assert policy("xero.sales_invoice.update", {"InvoiceID": INVOICE, "Reference": "x"}) is Policy.repeatable
    # the upsert's POST (its composite adds the contact to groups with repeatable calls)
    assert lk.policy_for(act.build_request(act.CONTACT_UPSERT, {"Name": "Ada"})) is Policy.repeatable
    assert lk.policy_for(act.contact_group_add(CONTACT, CONTACT)) is Policy.none  # sent as repeatable
    # a purchase order update by id sets a state; its "add lines" form is sent without a policy
    assert (
        lk.policy_for(act.build_request(act.PURCHASE_ORDER_UPDATE, {"PurchaseOrderID": INVOICE}))
        is Policy.repeatable
    )
    assert policy("xero.payroll_au.employee.create", {"FirstName": "A"}) is Policy.none
    # e-mailing twice, allocating twice, a project or repeating invoice twice: no lookup
    assert policy("xero.sales_invoice.email", {"InvoiceID": INVOICE}) is Policy.none
    assert policy(
        "xero.credit_note.allocate",
        {"CreditNoteID": INVOICE, "InvoiceID": INVOICE, "Amount": 1, "Date": "2026-11-01"},
    ) is (Policy.none)
    assert policy("xero.project.create", {"contactId": CONTACT, "name": "p"}) is Policy.none
    # a payment naming its invoice by neither id nor number cannot be searched for
    assert (
        lk.lookup_for(
            act.build_request(act.SPECS["xero.payment.create"], {"Account": {"Code": "090"}, "Amount": 5})
        )
        is None
    )


def test_the_invoice_search_asks_only_for_what_the_spec_allows() -> None:
    lookup = lk.lookup_for(_invoice_request(Reference='kartra-"1"'))
    assert lookup is not None and lookup.paged and lookup.modified_since
    assert lookup.path == "/api.xro/2.0/Invoices" and lookup.collection == "Invoices"
    assert lookup.params["createdByMyApp"] == "true"
    assert lookup.params["where"] == (
        f'Type=="ACCREC"&&Contact.ContactID==Guid("{CONTACT}")&&Reference!=null&&Reference=="kartra-\\"1\\""'
    )
    # an id that is not a GUID never reaches the where expression (the content match still runs)
    odd = lk.lookup_for(_invoice_request(Contact={"ContactID": 'x") || true'}))
    assert odd is not None and "Contact.ContactID" not in odd.params["where"]


def _found(**changes: object) -> dict:
    doc = {
        "InvoiceID": INVOICE,
        "Type": "ACCREC",
        "Status": "PAID",  # changed since (a payment): not compared
        "Contact": {"ContactID": CONTACT.upper(), "Name": "Ada Lovelace"},
        "Reference": "kartra-1",
        "Date": "/Date(1796083200000+0000)/",
        "LineItems": [{**LINE, "LineItemID": "l1", "LineAmount": 49.5, "Quantity": 1}],
    }
    doc.update(changes)
    return doc


def test_an_invoice_matches_on_its_content_only() -> None:
    lookup = lk.lookup_for(_invoice_request(Reference="kartra-1", Date="2026-12-01"))
    assert lookup is not None
    assert lookup.matches(lookup.element, _found())
    assert not lookup.matches(lookup.element, _found(Reference="kartra-2"))
    assert not lookup.matches(lookup.element, _found(Type="ACCPAY"))
    assert not lookup.matches(lookup.element, _found(Contact={"ContactID": "another"}))
    assert not lookup.matches(lookup.element, _found(Date="/Date(1796169600000+0000)/"))
    assert not lookup.matches(lookup.element, _found(LineItems=[{**LINE, "UnitAmount": 49.51}]))
    assert not lookup.matches(lookup.element, _found(LineItems=[LINE, LINE]))
    assert lookup.id_of(_found()) == INVOICE


def test_a_payment_matches_its_invoice_amount_and_account() -> None:
    req = act.build_request(
        act.SPECS["xero.payment.create"],
        {"Invoice": {"InvoiceID": INVOICE}, "Account": {"Code": "090"}, "Amount": 49.5, "Date": "2026-11-29"},
    )
    lookup = lk.lookup_for(req)
    assert lookup is not None and lookup.params == {"where": f'Invoice.InvoiceID==Guid("{INVOICE}")'}
    found = {
        "PaymentID": "p1",
        "Invoice": {"InvoiceID": INVOICE, "InvoiceNumber": "INV-0001"},
        "Account": {"AccountID": "a1", "Code": "090"},
        "Amount": 49.5,
        "Date": "/Date(1796083200000+0000)/",
    }
    assert lookup.matches(lookup.element, {**found, "Date": "/Date(1795996800000+0000)/"}) is False
    found["Date"] = "/Date(1795953600000+0000)/"  # 2026-11-29 12:00 UTC
    assert lookup.matches(lookup.element, found)
    assert not lookup.matches(lookup.element, {**found, "Amount": 40})
    assert not lookup.matches(lookup.element, {**found, "Account": {"Code": "091"}})


def test_notes_are_kept_only_when_dated_after_the_first_send() -> None:
    req = act.build_request(act.SPECS["xero.sales_invoice.note.add"], {"InvoiceID": INVOICE, "Note": "Paid"})
    lookup = lk.lookup_for(req)
    assert lookup is not None and lookup.path == f"/api.xro/2.0/Invoices/{INVOICE}/History"
    since = T0 - timedelta(seconds=120)
    old = {
        "Details": "Paid",
        "DateUTC": f"/Date({int((since - timedelta(hours=1)).timestamp() * 1000)}+0000)/",
    }
    new = {"Details": "Paid", "DateUTC": f"/Date({int(T0.timestamp() * 1000)}+0000)/"}
    other = {**new, "Details": "Refunded"}
    assert lookup.candidates([old, new, other], since) == [new]


def test_the_created_id_is_read_from_the_answer() -> None:
    lookup = lk.lookup_for(_invoice_request())
    assert lk.created_id(lookup, {"Invoices": [{"InvoiceID": INVOICE.upper()}]}) == INVOICE
    assert lk.created_id(lookup, {}) is None
    assert lk.created_id(None, {"Invoices": [{"InvoiceID": INVOICE}]}) is None
