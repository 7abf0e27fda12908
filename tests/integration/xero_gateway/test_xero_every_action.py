"""Every Xero action and search of the catalog through the executor against the sandbox: the
typed output validates against the action's output model and the sandbox changed as Xero would;
then the error mapping (ValidationException verbatim and permanent, 404, 5xx/429 retryable,
401 → one refresh, then needs_reauth).

Inputs are the catalog's own ``input_example`` with their placeholder ids replaced by real records.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

from integration.xero_gateway.xero_gw_helpers import TENANT, connect_all

from kxflow_contracts.catalog import CATALOG
from kxflow_contracts.catalog.base import Kind
from kxflow_contracts.catalog.xero import _CONTACT_ID, _INVOICE_ID, _ITEM_CODE
from kxflow_contracts.commands import ActionCommand
from kxflow_contracts.results import ActionResult
from kxflow_sandboxes.xero import accounting
from kxflow_sandboxes.xero.state import RESOURCES, Org

LINE = {"Description": "Setup", "Quantity": 1, "UnitAmount": 500, "AccountCode": "200"}
Check = Callable[[Org, dict[str, Any], dict[str, Any]], Any]


def _cmd(action: str, inp: dict[str, Any], conn: str = "xero-acme-au") -> ActionCommand:
    return ActionCommand(
        command_id=uuid.uuid4().hex,
        tenant=TENANT,
        connection_id=conn,
        action=action,
        input=inp,
        run_id="run-all",
        zap_id="zap-all",
        zap_version=1,
        step_id=action,
    )


def _invoice(org: Org, contact: str, **extra: Any) -> str:
    body = {"Type": "ACCREC", "Contact": {"ContactID": contact}, "Status": "AUTHORISED", "LineItems": [LINE]}
    return accounting.create(org, RESOURCES["Invoices"], {**body, **extra})["InvoiceID"]


def _get(org: Org, coll: str, rid: str) -> dict[str, Any]:
    return org.coll(coll)[rid.lower()]


def _contact_stored(org: Org, contact_id: str) -> bool:
    """Every detail of the Create/Update Contact form reached Xero's record."""
    c = _get(org, "Contacts", contact_id)
    return (
        {p["PhoneType"] for p in c["Phones"]} == {"DEFAULT", "FAX", "MOBILE", "DDI"}
        and c["Addresses"][0]["AttentionTo"] == "Accounts"
        and c["Addresses"][0]["AddressLine2"] == "Level 2"
        and c["ContactPersons"][0]["IncludeInEmails"] is True
        and c["PaymentTerms"]["Bills"] == {"Day": 20, "Type": "OFFOLLOWINGMONTH"}
        and c["SalesDefaultAccountCode"] == "200"
        and c["CompanyNumber"] == "ACN 000 000 019"
        and all(isinstance(g, dict) for g in c.get("ContactGroups", []))  # names never sent as the body
    )


def _inline_contact_stored(org: Org, invoice: dict[str, Any]) -> bool:
    """An invoice's inline contact details created the contact with them (as Xero does)."""
    contact = _get(org, "Contacts", invoice["Contact"]["ContactID"])
    return contact["Name"] == "Ada Lovelace Pty" and contact["Phones"][1]["PhoneType"] == "FAX"


def _attached(org: Org, record_id: str, out: dict[str, Any]) -> list[str]:
    """The files the action attached (its output lists them), each stored by Xero with its bytes."""
    stored = {a["FileName"]: a for a in org.attachments.get(record_id.lower(), [])}
    names = [a["FileName"] for a in out.get("Attachments") or []]
    assert all(stored[n]["ContentLength"] == 9 for n in names)  # "%PDF-1.4\n"
    return names


def _group_members(org: Org) -> dict[str, list[str]]:
    return {g["Name"]: [m["Name"] for m in g.get("Contacts", [])] for g in org.coll("ContactGroups").values()}


# action → (extra placeholder fields from the context, check of the sandbox state)
ROWS: dict[str, tuple[Callable[[dict[str, str]], dict[str, Any]], Check]] = {
    "xero.sales_invoice.create": (
        lambda c: {},
        lambda o, out, c: (
            _get(o, "Invoices", out["InvoiceID"])["Type"] == "ACCREC"
            and _get(o, "Invoices", out["InvoiceID"])["LineItems"][0]["Tracking"][0]["Option"] == "North"
            and _inline_contact_stored(o, out)
            and _attached(o, out["InvoiceID"], out) == ["order-42.pdf"]
            and o.attachments[out["InvoiceID"].lower()][0]["IncludeOnline"] is True
        ),
    ),
    "xero.bill.create": (
        lambda c: {},
        lambda o, out, c: (
            _get(o, "Invoices", out["InvoiceID"])["Type"] == "ACCPAY"
            and _attached(o, out["InvoiceID"], out) == ["order-42.pdf"]
        ),
    ),
    "xero.sales_invoice.update": (
        lambda c: {},
        lambda o, out, c: (
            _get(o, "Invoices", c["invoice"])["Reference"] == "Kartra #42"
            and _get(o, "Invoices", c["invoice"])["InvoiceNumber"] == "K-42-A"
            and _get(o, "Invoices", c["invoice"])["ExpectedPaymentDate"].startswith("/Date(")
            and _attached(o, c["invoice"], out) == ["receipt-42.pdf"]
        ),
    ),
    "xero.sales_invoice.add_items": (
        lambda c: {},
        lambda o, out, c: len(_get(o, "Invoices", c["invoice"])["LineItems"]) == 2,
    ),
    "xero.sales_invoice.note.add": (
        lambda c: {},
        lambda o, out, c: o.history[c["invoice"]][-1]["Details"] == "Paid via Kartra",
    ),
    "xero.sales_invoice.email": (lambda c: {}, lambda o, out, c: c["invoice"] in o.emails_sent),
    "xero.attachment.upload": (
        lambda c: {},
        lambda o, out, c: o.attachments[c["invoice"]][0]["FileName"] == "receipt.pdf",
    ),
    "xero.payment.create": (
        lambda c: {},
        lambda o, out, c: _get(o, "Invoices", c["invoice"])["AmountDue"] == 450.5,
    ),
    "xero.item.create": (
        lambda c: {"Code": "COURSE-1"},
        lambda o, out, c: (
            _get(o, "Items", out["ItemID"])["Code"] == "COURSE-1"
            and _get(o, "Items", out["ItemID"])["IsTrackedAsInventory"] is True
            and _get(o, "Items", out["ItemID"])["PurchaseDetails"]["COGSAccountCode"] == "310"
        ),
    ),
    "xero.item.upsert": (
        lambda c: {"Code": "COURSE-1", "Name": "Renamed"},
        lambda o, out, c: sum(1 for i in o.coll("Items").values() if i["Name"] == "Renamed") == 1,
    ),
    "xero.item.find_or_create": (lambda c: {"Code": "COURSE-2"}, lambda o, out, c: len(o.coll("Items")) == 3),
    "xero.bank_transaction.create": (
        lambda c: {},
        lambda o, out, c: _get(o, "BankTransactions", out["BankTransactionID"]),
    ),
    "xero.bank_transfer.create": (
        lambda c: {},
        lambda o, out, c: _get(o, "BankTransfers", out["BankTransferID"]),
    ),
    "xero.contact.upsert": (
        lambda c: {"Name": "Ada Upsert", "ContactGroups": ["Kartra customers", "VIP"]},
        lambda o, out, c: (
            _contact_stored(o, out["ContactID"])
            and {g["Name"] for g in out["ContactGroups"]} == {"Kartra customers", "VIP"}
            and _group_members(o) == {"Kartra customers": ["Ada Upsert"], "VIP": ["Ada Upsert"]}
        ),
    ),
    "xero.contact.find_or_create": (
        lambda c: {"Name": "Ada Upsert", "EmailAddress": None},
        lambda o, out, c: (
            sum(1 for x in o.coll("Contacts").values() if x["Name"] == "Ada Upsert") == 1
            and _contact_stored(o, out["ContactID"])
            and _group_members(o) == {"Kartra customers": ["Ada Upsert"]}
        ),
    ),
    "xero.quote.create": (lambda c: {}, lambda o, out, c: _get(o, "Quotes", out["QuoteID"])),
    "xero.quote.update": (
        lambda c: {"QuoteID": c["quote"]},
        lambda o, out, c: _get(o, "Quotes", c["quote"])["Title"] == "New",
    ),
    "xero.purchase_order.create": (
        lambda c: {},
        lambda o, out, c: (
            _get(o, "PurchaseOrders", out["PurchaseOrderID"])
            and _attached(o, out["PurchaseOrderID"], out) == ["order-42.pdf"]
        ),
    ),
    "xero.purchase_order.update": (
        lambda c: {"PurchaseOrderID": c["po"]},
        lambda o, out, c: (
            _get(o, "PurchaseOrders", c["po"])["Status"] == "SUBMITTED"
            and len(_get(o, "PurchaseOrders", c["po"])["LineItems"]) == 2  # "add": the seeded line kept
            and _get(o, "PurchaseOrders", c["po"])["AttentionTo"] == "Stores"
        ),
    ),
    "xero.credit_note.create": (lambda c: {}, lambda o, out, c: _get(o, "CreditNotes", out["CreditNoteID"])),
    "xero.credit_note.allocate": (
        lambda c: {"CreditNoteID": c["credit_note"]},
        lambda o, out, c: (
            c.update(allocation=out["AllocationID"]) or _get(o, "Invoices", c["invoice"])["AmountDue"] == 490
        ),
    ),
    "xero.credit_note.allocation.delete": (
        lambda c: {"CreditNoteID": c["credit_note"], "AllocationID": c["allocation"]},
        lambda o, out, c: (
            out["IsDeleted"] is True and _get(o, "Invoices", c["allocated_invoice"])["AmountDue"] == 500
        ),
    ),
    "xero.account.create": (
        lambda c: {},
        lambda o, out, c: _get(o, "Accounts", out["AccountID"])["Code"] == "201",
    ),
    "xero.repeating_invoice.create": (
        lambda c: {},
        lambda o, out, c: (
            _get(o, "RepeatingInvoices", out["RepeatingInvoiceID"])["Schedule"]["EndDate"]
            and _get(o, "RepeatingInvoices", out["RepeatingInvoiceID"])["ApprovedForSending"] is True
        ),
    ),
    "xero.payroll_au.employee.create": (
        lambda c: {},
        lambda o, out, c: (
            c.update(employee=out["EmployeeID"])
            or (
                o.employees[out["EmployeeID"]]["DateOfBirth"].startswith("/Date(")
                and o.employees[out["EmployeeID"]]["TaxDeclaration"]["TaxFileNumber"] == "123456782"
                and o.employees[out["EmployeeID"]]["BankAccounts"][0]["BSB"] == "062000"
                and o.employees[out["EmployeeID"]]["HomeAddress"]["Region"] == "NSW"
            )
        ),
    ),
    "xero.payroll_au.employee.update": (
        lambda c: {"EmployeeID": c["employee"]},
        lambda o, out, c: (
            o.employees[c["employee"]]["JobTitle"] == "Engineer"
            and o.employees[c["employee"]]["TerminationReason"] == "V"
            and o.employees[c["employee"]]["TerminationDate"].startswith("/Date(")
        ),
    ),
    "xero.project.create": (
        lambda c: {},
        lambda o, out, c: o.projects[out["projectId"]]["name"] == "Website",
    ),
    "xero.api_request": (
        lambda c: {},
        lambda o, out, c: out["status"] == 200 and out["body"]["Organisations"],
    ),
    # searches
    "xero.account.find": (lambda c: {}, lambda o, out, c: out["Code"] == "090"),
    "xero.contact.find": (
        lambda c: {"EmailAddress": "grace@example.com"},
        lambda o, out, c: out["ContactID"] == c["contact"],
    ),
    "xero.invoice.find": (
        lambda c: {"InvoiceNumber": None, "InvoiceID": c["invoice"], "IncludeOnlineInvoiceUrl": True},
        lambda o, out, c: out["PdfBase64"] and out["OnlineInvoiceUrl"].startswith("https://in.xero.com/"),
    ),
    "xero.item.find": (lambda c: {"Code": "COURSE-1"}, lambda o, out, c: out["Name"] == "Renamed"),
    "xero.organisation.find": (lambda c: {}, lambda o, out, c: out["Name"] == "Acme AU"),
    "xero.purchase_order.find": (
        lambda c: {"Number": None, "ID": c["po"]},
        lambda o, out, c: out["PurchaseOrderID"] == c["po"],
    ),
    "xero.quote.find": (
        lambda c: {"Number": None, "ID": c["quote"]},
        lambda o, out, c: out["QuoteID"] == c["quote"],
    ),
}
NEEDS_FRESH_INVOICE = {"xero.sales_invoice.add_items", "xero.payment.create", "xero.credit_note.allocate"}


def _resolve(value: Any, ctx: dict[str, str]) -> Any:
    text = json.dumps(value).replace(_CONTACT_ID, ctx["contact"]).replace(_INVOICE_ID, ctx["invoice"])
    return json.loads(text)


async def run_every_action(executor: Any, org: Org) -> dict[str, dict[str, Any]]:
    """Seed the records the inputs refer to, run every Xero action and search once from its
    catalog ``input_example`` and check the sandbox changed; catalog key → typed output.

    Shared with ``capture_xero_examples.py``, which records these outputs as the catalog examples.
    """
    contact = accounting.create(
        org, RESOURCES["Contacts"], {"Name": "Grace Hopper", "EmailAddress": "grace@example.com"}
    )
    ctx: dict[str, str] = {"contact": contact["ContactID"]}
    accounting.create(org, RESOURCES["Items"], {"Code": _ITEM_CODE, "Name": "Seat"})  # lines name it
    ctx["quote"] = accounting.create(
        org, RESOURCES["Quotes"], {"Contact": {"ContactID": ctx["contact"]}, "LineItems": [LINE]}
    )["QuoteID"]
    ctx["po"] = accounting.create(
        org, RESOURCES["PurchaseOrders"], {"Contact": {"ContactID": ctx["contact"]}, "LineItems": [LINE]}
    )["PurchaseOrderID"]
    ctx["credit_note"] = accounting.create(
        org,
        RESOURCES["CreditNotes"],
        {
            "Type": "ACCRECCREDIT",
            "Status": "AUTHORISED",
            "Contact": {"ContactID": ctx["contact"]},
            "LineItems": [LINE],
        },
    )["CreditNoteID"]
    shared_invoice = _invoice(org, ctx["contact"])

    entries = CATALOG.of("xero", Kind.action) + CATALOG.of("xero", Kind.search)
    assert {e.key for e in entries} == set(ROWS), "every catalog action and search has a row"
    outputs: dict[str, dict[str, Any]] = {}
    for entry in entries:
        extra, check = ROWS[entry.key]
        ctx["invoice"] = _invoice(org, ctx["contact"]) if entry.key in NEEDS_FRESH_INVOICE else shared_invoice
        if entry.key == "xero.credit_note.allocate":
            ctx["allocated_invoice"] = ctx["invoice"]
        assert entry.input_example is not None, f"{entry.key} has no input_example"
        inp = {k: v for k, v in {**_resolve(entry.input_example, ctx), **extra(ctx)}.items() if v is not None}
        result: ActionResult = await executor.execute(_cmd(entry.key, inp))
        assert result.status.value == "succeeded", (entry.key, result.error)
        output = entry.output_model.model_validate(result.output).model_dump(by_alias=True)
        assert check(org, output, ctx), entry.key
        outputs[entry.key] = result.output
    return outputs


async def test_every_action_and_search_changes_the_sandbox_and_returns_its_typed_output(
    start_gateway, xero_sandbox
) -> None:
    app, url = await start_gateway()
    await connect_all(url)
    await run_every_action(app.state.executor, xero_sandbox.org("Acme AU"))

    writes = [r for r in xero_sandbox.sandbox.log if r["method"] in ("PUT", "POST")]
    assert writes and all(r["idempotency_key"] for r in writes)
    assert xero_sandbox.sandbox.stats.rate_limited == 0


async def test_error_mapping(start_gateway, xero_sandbox) -> None:
    sandbox = xero_sandbox.sandbox
    sandbox.clock.set_speed(60)  # Retry-After and back-offs in virtual seconds: 60 s pass in 1 s
    app, url = await start_gateway(max_attempts=2, http_timeout_seconds=5, clock_speed=60)
    await connect_all(url)
    executor = app.state.executor

    dup = await executor.execute(
        _cmd("xero.account.create", {"Code": "090", "Name": "Business Bank Account", "Type": "BANK"})
    )
    assert dup.status.value == "failed" and dup.error.retryable is False and dup.error.http_status == 400
    assert dup.error.details["Type"] == "ValidationException"
    assert dup.error.details["Elements"][0]["ValidationErrors"][0]["Message"] == "Please enter a unique Name."

    missing = str(uuid.uuid4())
    search = await executor.execute(_cmd("xero.invoice.find", {"InvoiceID": missing}))
    assert search.status.value == "not_found" and search.error is None
    write = await executor.execute(
        _cmd("xero.sales_invoice.update", {"InvoiceID": missing, "Reference": "x"})
    )
    assert write.status.value == "failed" and write.error.code == "not_found" and not write.error.retryable
    assert write.error.details == "The resource you're looking for cannot be found"

    sandbox.injected_failures.append({"status": 503, "count": 2, "path_contains": "/Organisation"})
    down = await executor.execute(_cmd("xero.organisation.find", {}))
    assert down.status.value == "failed" and down.error.retryable is True and down.error.http_status == 503
    sandbox.injected_failures.append({"status": 503, "count": 1, "path_contains": "/Organisation"})
    recovered = await executor.execute(_cmd("xero.organisation.find", {}))
    assert recovered.status.value == "succeeded"  # retried in process within the limiter

    sandbox.injected_failures.append({"status": 429, "count": 2, "path_contains": "/Organisation"})
    limited = await executor.execute(_cmd("xero.organisation.find", {}))
    assert limited.status.value == "failed" and limited.error.retryable is True

    refreshes = sandbox.identity.refresh_calls
    sandbox.clock.advance(3600)  # the access token expired at Xero
    renewed = await executor.execute(_cmd("xero.organisation.find", {}))
    assert renewed.status.value == "succeeded" and sandbox.identity.refresh_calls == refreshes + 1
    sandbox.identity.revoke(None)
    sandbox.clock.advance(3600)
    revoked = await executor.execute(_cmd("xero.organisation.find", {}))
    assert revoked.status.value == "failed" and revoked.error.code == "needs_reauth"
    conns = await app.state.repos.list(TENANT)
    assert {c.status for c in conns} == {"needs_reauth"}
