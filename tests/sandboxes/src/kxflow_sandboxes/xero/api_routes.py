"""Routing of Accounting, Payroll AU and Projects calls onto the sandbox's state."""

from __future__ import annotations

import json
import uuid
from typing import TYPE_CHECKING, Any

from fastapi import Request, Response
from fastapi.responses import JSONResponse

from kxflow_sandboxes.xero import accounting, payroll, projects
from kxflow_sandboxes.xero.accounting import NotFound, XeroValidation
from kxflow_sandboxes.xero.state import RESOURCES, Org, ms_date, new_id, now, parse_date

if TYPE_CHECKING:
    from kxflow_sandboxes.xero.app import Sandbox

ACCOUNTING = "/api.xro/2.0/"
PDF = b"%PDF-1.4\n% kxflow sandbox invoice\n%%EOF\n"


def envelope(
    collection: str,
    items: list[dict[str, Any]],
    pagination: dict[str, int] | None = None,
    status_code: int = 200,
) -> JSONResponse:
    out: dict[str, Any] = {
        "Id": str(uuid.uuid4()),
        "Status": "OK",
        "ProviderName": "kxflow-sandbox",
        "DateTimeUTC": ms_date(now()),
    }
    if pagination is not None:
        out["pagination"] = pagination
    out[collection] = items
    return JSONResponse(out, status_code=status_code)


def _json(body: bytes) -> Any:
    try:
        return json.loads(body or b"{}")
    except json.JSONDecodeError:
        raise XeroValidation(
            [{"ValidationErrors": [{"Message": "The request body is not valid JSON"}]}]
        ) from None


async def handle_api(sandbox: Sandbox, request: Request, org: Org, body: bytes) -> Response:
    path = request.url.path
    if path.startswith("/payroll.xro/1.0/"):
        return payroll.handle(
            org,
            request.method,
            path[len("/payroll.xro/1.0/") :].split("/"),
            dict(request.query_params),
            body,
            request.headers.get("if-modified-since"),
        )
    if path.startswith("/projects.xro/2.0/"):
        return projects.handle(
            org,
            request.method,
            path[len("/projects.xro/2.0/") :].split("/"),
            dict(request.query_params),
            body,
        )
    if not path.startswith(ACCOUNTING):
        raise NotFound(path)
    parts = [p for p in path[len(ACCOUNTING) :].split("/") if p]
    return _accounting(sandbox, request, org, parts, body)


def _webhook(sandbox: Sandbox, org: Org, collection: str, doc: dict[str, Any], created: bool) -> None:
    res = RESOURCES[collection]
    if res.webhook_category is None:
        return
    data = {"Type": doc.get("Type"), "Status": doc.get("Status")} if collection == "CreditNotes" else None
    sandbox.emit_webhook(
        org,
        res.webhook_category,
        doc[res.id_field],
        "CREATE" if created else "UPDATE",
        f"https://api.xero.com/api.xro/2.0/{collection}/{doc[res.id_field]}",
        data,
    )


def _elements(collection: str, payload: Any) -> list[dict[str, Any]]:
    if isinstance(payload, dict) and isinstance(payload.get(collection), list):
        return payload[collection]
    if isinstance(payload, dict):
        return [payload]
    raise XeroValidation([{"ValidationErrors": [{"Message": "Unexpected request body"}]}])


def _write_many(
    sandbox: Sandbox,
    org: Org,
    collection: str,
    elements: list[dict[str, Any]],
    summarize: bool,
    op: str,
    record_id: str | None = None,
    app_id: str = "",
) -> JSONResponse:
    res = RESOURCES[collection]
    out: list[dict[str, Any]] = []
    failed: list[dict[str, Any]] = []
    for element in elements:
        try:
            if record_id is not None:
                doc = accounting.update(org, res, record_id, element)
                created = False
            elif op == "PUT":
                doc = accounting.create(org, res, element)
                created = True
            else:
                before = len(org.coll(collection))
                doc = accounting.upsert(org, res, element)
                created = len(org.coll(collection)) > before
            out.append(doc)
            if created and app_id:
                org.created_by[doc[res.id_field]] = app_id
            _webhook(sandbox, org, collection, doc, created)
            if collection == "Payments":
                for target in ("Invoice", "CreditNote"):
                    ref = doc.get(target)
                    if ref:
                        coll = f"{target}s"
                        _webhook(sandbox, org, coll, org.coll(coll)[ref[f"{target}ID"]], False)
        except XeroValidation as exc:
            failed.extend(exc.elements)
            out.extend(exc.elements)
    if failed and (summarize or len(elements) == 1):
        raise XeroValidation(failed)
    return envelope(collection, out)


def _accounting(sandbox: Sandbox, request: Request, org: Org, parts: list[str], body: bytes) -> Response:
    method = request.method
    query = dict(request.query_params)
    app_id = getattr(request.state, "app_id", "")
    summarize = query.get("summarizeErrors", "false").lower() == "true"
    if not parts:
        raise NotFound("")
    head = parts[0]
    if head == "Organisation" and method == "GET":
        return envelope("Organisations", [org.organisation()])
    if head == "Reports" and len(parts) == 2 and method == "GET":
        return envelope("Reports", [_report(org, parts[1])])
    if head not in RESOURCES:
        raise NotFound(head)
    res = RESOURCES[head]
    if len(parts) == 1:
        if method == "GET":
            since = parse_date(request.headers.get("if-modified-since"))
            docs, pagination = accounting.list_records(org, res, query, since, app_id)
            return envelope(head, docs, pagination)
        if method in ("PUT", "POST"):
            payload = _json(body)
            if head == "Accounts":
                return _write_many(sandbox, org, head, [payload], True, "PUT", app_id=app_id)
            return _write_many(sandbox, org, head, _elements(head, payload), summarize, method, app_id=app_id)
        raise NotFound(head)
    record_id = parts[1]
    if len(parts) == 2:
        if method == "GET":
            doc = accounting.get(org, res, record_id)
            if head in ("Invoices", "CreditNotes", "Quotes", "PurchaseOrders") and "application/pdf" in (
                request.headers.get("accept") or ""
            ):
                return Response(PDF, media_type="application/pdf")
            return envelope(head, [doc])
        if method == "POST":
            payload = _json(body)
            doc = accounting.get(org, res, record_id)
            return _write_many(
                sandbox, org, head, _elements(head, payload)[:1], True, "POST", doc[res.id_field]
            )
        raise NotFound(record_id)
    sub = parts[2]
    doc = accounting.get(org, res, record_id)
    if sub == "OnlineInvoice" and head == "Invoices" and method == "GET":
        if doc.get("Type") != "ACCREC" or doc.get("Status") == "DRAFT":
            raise XeroValidation(
                [
                    {
                        "ValidationErrors": [
                            {"Message": "Online invoices are only available for approved sales invoices"}
                        ]
                    }
                ]
            )
        url = f"https://in.xero.com/{doc['InvoiceID'].replace('-', '')[:20]}"
        return envelope("OnlineInvoices", [{"OnlineInvoiceUrl": url}])
    if sub == "Email" and head == "Invoices" and method == "POST":
        if doc.get("Type") != "ACCREC" or doc.get("Status") not in ("SUBMITTED", "AUTHORISED", "PAID"):
            raise XeroValidation(
                [{"ValidationErrors": [{"Message": "Only approved sales invoices can be emailed"}]}]
            )
        org.emails_sent.append(doc["InvoiceID"])
        doc["SentToContact"] = True
        return Response(status_code=204)
    if sub == "History":
        history = org.history.setdefault(doc[res.id_field], [])
        if method == "GET":
            return envelope("HistoryRecords", history)
        records = _json(body).get("HistoryRecords") or []
        added = []
        for r in records:
            details = str(r.get("Details") or "")
            if not details or len(details) > 2500:
                raise XeroValidation(
                    [
                        {
                            **r,
                            "ValidationErrors": [
                                {"Message": "Details must be between 1 and 2500 characters"}
                            ],
                        }
                    ]
                )
            entry = {"Details": details, "Changes": "Note", "User": "kxflow", "DateUTC": ms_date(now())}
            history.append(entry)
            added.append(entry)
        return envelope("HistoryRecords", added)
    if sub == "Attachments":
        attachments = org.attachments.setdefault(doc[res.id_field], [])
        if method == "GET":
            return envelope("Attachments", attachments)
        if len(parts) < 4:
            raise NotFound(sub)
        if len(attachments) >= 10:
            raise XeroValidation([{"ValidationErrors": [{"Message": "Maximum of 10 attachments reached"}]}])
        name = parts[3]
        entry = {
            "AttachmentID": new_id(),
            "FileName": name,
            "Url": f"https://api.xero.com/api.xro/2.0/{head}/{record_id}/Attachments/{name}",
            "MimeType": request.headers.get("content-type", "application/octet-stream"),
            "ContentLength": len(body),
            "IncludeOnline": query.get("IncludeOnline", "false").lower() == "true",
        }
        attachments.append(entry)
        return envelope("Attachments", [entry])
    if sub == "Contacts" and head == "ContactGroups" and method == "PUT":
        return envelope("Contacts", accounting.add_to_group(org, doc, _elements("Contacts", _json(body))))
    if sub == "Allocations" and head == "CreditNotes":
        allocations = doc.setdefault("Allocations", [])
        if method == "DELETE" and len(parts) == 4:
            for a in allocations:
                if a["AllocationID"] == parts[3].lower() and not a.get("IsDeleted"):
                    a["IsDeleted"] = True
                    _restore_allocation(org, doc, a)
                    return JSONResponse(a)
            raise NotFound(parts[3])
        if method == "PUT":
            added = [_allocate(org, doc, a) for a in _elements("Allocations", _json(body))]
            return envelope("Allocations", added)
    raise NotFound(sub)


def _allocate(org: Org, credit_note: dict[str, Any], alloc: dict[str, Any]) -> dict[str, Any]:
    if credit_note.get("Status") != "AUTHORISED":
        raise XeroValidation(
            [
                {
                    **alloc,
                    "ValidationErrors": [
                        {"Message": "Credit note must be authorised before it can be allocated"}
                    ],
                }
            ]
        )
    invoice_id = str((alloc.get("Invoice") or {}).get("InvoiceID", "")).lower()
    invoice = org.coll("Invoices").get(invoice_id)
    amount = round(float(alloc.get("Amount") or 0), 2)
    if invoice is None:
        raise XeroValidation([{**alloc, "ValidationErrors": [{"Message": "Invoice could not be found"}]}])
    if (
        amount <= 0
        or amount > float(credit_note.get("RemainingCredit", credit_note["Total"]))
        or amount > float(invoice.get("AmountDue", 0))
    ):
        raise XeroValidation(
            [
                {
                    **alloc,
                    "ValidationErrors": [
                        {"Message": "The amount allocated exceeds the remaining credit or the amount due"}
                    ],
                }
            ]
        )
    entry = {
        "AllocationID": new_id(),
        "Amount": amount,
        "Date": ms_date(parse_date(alloc.get("Date")) or now()),
        "Invoice": {"InvoiceID": invoice["InvoiceID"], "InvoiceNumber": invoice.get("InvoiceNumber")},
        "IsDeleted": False,
    }
    credit_note.setdefault("Allocations", []).append(entry)
    credit_note["RemainingCredit"] = round(
        float(credit_note.get("RemainingCredit", credit_note["Total"])) - amount, 2
    )
    invoice["AmountDue"] = round(float(invoice["AmountDue"]) - amount, 2)
    invoice["AmountCredited"] = round(float(invoice.get("AmountCredited", 0)) + amount, 2)
    if invoice["AmountDue"] == 0:
        invoice["Status"] = "PAID"
    return entry


def _restore_allocation(org: Org, credit_note: dict[str, Any], alloc: dict[str, Any]) -> None:
    invoice = org.coll("Invoices").get(alloc["Invoice"]["InvoiceID"])
    credit_note["RemainingCredit"] = round(float(credit_note.get("RemainingCredit", 0)) + alloc["Amount"], 2)
    if invoice is not None:
        invoice["AmountDue"] = round(float(invoice["AmountDue"]) + alloc["Amount"], 2)
        if invoice["Status"] == "PAID" and invoice["AmountDue"] > 0:
            invoice["Status"] = "AUTHORISED"


def _report(org: Org, report_type: str) -> dict[str, Any]:
    known = {
        "BalanceSheet",
        "ProfitAndLoss",
        "TrialBalance",
        "BankSummary",
        "BudgetSummary",
        "ExecutiveSummary",
        "AgedReceivablesByContact",
        "AgedPayablesByContact",
        "TenNinetyNine",
    }
    if report_type not in known:
        raise NotFound(report_type)
    sales = sum(
        float(i.get("Total", 0))
        for i in org.coll("Invoices").values()
        if i.get("Type") == "ACCREC" and i.get("Status") in ("AUTHORISED", "PAID")
    )
    received = sum(float(p.get("Amount", 0)) for p in org.coll("Payments").values())
    return {
        "ReportID": report_type,
        "ReportName": report_type,
        "ReportType": report_type,
        "ReportTitles": [report_type, org.name],
        "ReportDate": now().strftime("%d %B %Y"),
        "UpdatedDateUTC": ms_date(now()),
        "Rows": [
            {
                "RowType": "Section",
                "Title": "Summary",
                "Rows": [
                    {"RowType": "Row", "Cells": [{"Value": "Sales"}, {"Value": f"{sales:.2f}"}]},
                    {"RowType": "Row", "Cells": [{"Value": "Received"}, {"Value": f"{received:.2f}"}]},
                ],
            }
        ],
    }


__all__ = ["NotFound", "XeroValidation", "envelope", "handle_api"]
