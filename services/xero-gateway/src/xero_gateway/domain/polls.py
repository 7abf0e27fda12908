"""What the poller polls: one row per (organisation) resource, each feeding every trigger on it.

Xero sends webhooks only for invoices, contacts and credit notes; everything else in the catalog
is polled (reference §9 T1–T9). Pure definitions and decisions, no I/O.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from kxflow_contracts.events.base import Origin
from kxflow_contracts.report_types import PER_CONTACT_REPORT_TYPES
from xero_gateway.domain import msdate
from xero_gateway.domain.budget import Priority

Kind = Literal["list", "overdue", "payslips", "report", "projects"]


@dataclass(frozen=True)
class TriggerRule:
    trigger: str
    change_fields: tuple[str, ...] = ()
    """Resource fields whose values make a change new (empty: the first sighting only)."""
    when: Callable[[dict[str, Any]], bool] | None = None


@dataclass(frozen=True)
class PollSpec:
    name: str
    kind: Kind
    path: str
    collection: str
    id_field: str
    field: str
    rules: tuple[TriggerRule, ...]
    priority: Priority = Priority.polling
    origin: Origin = Origin.poll
    params: tuple[tuple[str, str], ...] = ()
    page_size: bool = True
    """The endpoint takes ``pageSize`` (Quotes and Payroll AU do not)."""
    min_interval: float = 0.0


def _is(field: str, value: Any) -> Callable[[dict[str, Any]], bool]:
    return lambda item: item.get(field) == value


ACCREC, ACCPAY = _is("Type", "ACCREC"), _is("Type", "ACCPAY")

POLLS: tuple[PollSpec, ...] = (
    PollSpec(
        "payments",
        "list",
        "/api.xro/2.0/Payments",
        "Payments",
        "PaymentID",
        "payment",
        (
            TriggerRule("xero.payment.created"),
            TriggerRule("xero.payment.reconciled", ("IsReconciled",), _is("IsReconciled", True)),
        ),
        params=(("order", "UpdatedDateUTC ASC"),),
    ),
    PollSpec(
        "purchase_orders",
        "list",
        "/api.xro/2.0/PurchaseOrders",
        "PurchaseOrders",
        "PurchaseOrderID",
        "purchase_order",
        (TriggerRule("xero.purchase_order.status_entered", ("Status",)),),
    ),
    PollSpec(
        "quotes",
        "list",
        "/api.xro/2.0/Quotes",
        "Quotes",
        "QuoteID",
        "quote",
        (TriggerRule("xero.quote.created", ("Status",)),),
        params=(("order", "UpdatedDateUTC ASC"),),
        page_size=False,
    ),
    PollSpec(
        "bank_transactions",
        "list",
        "/api.xro/2.0/BankTransactions",
        "BankTransactions",
        "BankTransactionID",
        "bank_transaction",
        (TriggerRule("xero.bank_transaction.created"),),
        params=(("order", "UpdatedDateUTC ASC"),),
    ),
    PollSpec(
        "employees",
        "list",
        "/payroll.xro/1.0/Employees",
        "Employees",
        "EmployeeID",
        "employee",
        (TriggerRule("xero.payroll_au.employee.created"),),
        page_size=False,
    ),
    PollSpec(
        "payslips",
        "payslips",
        "/payroll.xro/1.0/PayRuns",
        "PayRuns",
        "PayRunID",
        "payslip",
        (TriggerRule("xero.payslip.created"),),
        page_size=False,
    ),
    PollSpec(
        "overdue_invoices",
        "overdue",
        "/api.xro/2.0/Invoices",
        "Invoices",
        "InvoiceID",
        "invoice",
        (TriggerRule("xero.sales_invoice.overdue"),),
        params=(("Statuses", "AUTHORISED"),),
    ),
    PollSpec(
        "projects",
        "projects",
        "/projects.xro/2.0/Projects",
        "items",
        "projectId",
        "project",
        (TriggerRule("xero.project.created", ("status",)),),
        params=(("states", "INPROGRESS,CLOSED"),),
    ),
    PollSpec(
        "reports",
        "report",
        "/api.xro/2.0/Reports",
        "Reports",
        "ReportID",
        "report",
        (TriggerRule("xero.report.updated"),),
        min_interval=3600.0,
    ),
    PollSpec(
        "invoices_reconcile",
        "list",
        "/api.xro/2.0/Invoices",
        "Invoices",
        "InvoiceID",
        "invoice",
        (TriggerRule("xero.sales_invoice.updated", ("UpdatedDateUTC",), ACCREC),),
        Priority.reconcile,
        Origin.reconcile,
        params=(("order", "UpdatedDateUTC ASC"),),
    ),
    PollSpec(
        "contacts_reconcile",
        "list",
        "/api.xro/2.0/Contacts",
        "Contacts",
        "ContactID",
        "contact",
        (TriggerRule("xero.contact.updated", ("UpdatedDateUTC",)),),
        Priority.reconcile,
        Origin.reconcile,
    ),
)
BY_NAME = {p.name: p for p in POLLS}

# Backfills ("every invoice since D"): the resources that can be replayed and the trigger each
# record becomes (webhook resources map to their "created" triggers).
BACKFILLS: dict[str, PollSpec] = {
    "invoices": PollSpec(
        "invoices",
        "list",
        "/api.xro/2.0/Invoices",
        "Invoices",
        "InvoiceID",
        "invoice",
        (TriggerRule("xero.sales_invoice.created", (), ACCREC), TriggerRule("xero.bill.created", (), ACCPAY)),
        Priority.backfill,
        Origin.backfill,
        params=(("order", "UpdatedDateUTC ASC"),),
    ),
    "contacts": PollSpec(
        "contacts",
        "list",
        "/api.xro/2.0/Contacts",
        "Contacts",
        "ContactID",
        "contact",
        (TriggerRule("xero.contact.created"),),
        Priority.backfill,
        Origin.backfill,
    ),
    "credit_notes": PollSpec(
        "credit_notes",
        "list",
        "/api.xro/2.0/CreditNotes",
        "CreditNotes",
        "CreditNoteID",
        "credit_note",
        (TriggerRule("xero.credit_note.created"),),
        Priority.backfill,
        Origin.backfill,
    ),
    **{
        name: PollSpec(
            name,
            "list",
            BY_NAME[name].path,
            BY_NAME[name].collection,
            BY_NAME[name].id_field,
            BY_NAME[name].field,
            BY_NAME[name].rules,
            Priority.backfill,
            Origin.backfill,
            BY_NAME[name].params,
            BY_NAME[name].page_size,
        )
        for name in ("payments", "purchase_orders", "quotes", "bank_transactions", "employees")
    },
}


REPORT_SCOPES: dict[str, str] = {
    "ProfitAndLoss": "accounting.reports.profitandloss.read",
    "BalanceSheet": "accounting.reports.balancesheet.read",
    "TrialBalance": "accounting.reports.trialbalance.read",
    "BankSummary": "accounting.reports.banksummary.read",
    "BudgetSummary": "accounting.reports.budgetsummary.read",
    "ExecutiveSummary": "accounting.reports.executivesummary.read",
    "TenNinetyNine": "accounting.reports.tenninetynine.read",
    "AgedReceivablesByContact": "accounting.reports.aged.read",
    "AgedPayablesByContact": "accounting.reports.aged.read",
}
"""Every report type New Report's form offers → the granular scope it needs (reference §2.6, T7)."""

CONTACT_REPORTS = frozenset(PER_CONTACT_REPORT_TYPES)
"""Report types Xero only answers for one contact (``contactID``): the trigger has no contact
parameter, so the gateway cannot poll them."""


POLLABLE_REPORT_SCOPES: tuple[str, ...] = tuple(
    dict.fromkeys(scope for t, scope in REPORT_SCOPES.items() if t not in CONTACT_REPORTS)
)
"""The read scopes of every report type a zap may choose (all in the consent: a zap chooses its type
after the organisation was connected)."""


def pay_run_scope(pay_run: dict[str, Any]) -> str:
    """The dedupe-key scope of a pay run's status: ``""`` for POSTED (the keys posted runs always
    had), ``"<STATUS>:"`` otherwise, so a draft and the same run posted are distinct changes."""
    status = str(pay_run.get("PayRunStatus") or "POSTED").upper()
    return "" if status == "POSTED" else f"{status}:"


def pay_run_period(pay_run: dict[str, Any]) -> dict[str, str]:
    """A pay run's period as ``YYYY-MM-DD`` event fields, so a zap's period dates match them exactly
    (Payroll AU sends ``/Date(ms)/``)."""
    out = {}
    for field, name in (
        ("PayRunPeriodStartDate", "pay_run_period_start_date"),
        ("PayRunPeriodEndDate", "pay_run_period_end_date"),
    ):
        when = msdate.parse(pay_run.get(field))
        if when is not None:
            out[name] = when.astimezone(UTC).date().isoformat()
    return out


def overdue_days(invoice: dict[str, Any], today: datetime) -> int:
    """Whole days a sales invoice with an amount due is past its due date (0 if not overdue)."""
    due = msdate.parse(invoice.get("DueDate"))
    if invoice.get("Type") != "ACCREC" or due is None or float(invoice.get("AmountDue") or 0) <= 0:
        return 0
    return max(0, (today.astimezone(UTC).date() - due.date()).days)


OVERDUE_CATCH_UP = 7
"""Days of lateness emitted for an overdue invoice seen for the first time (so a poll that was
skipped for a while still fires a zap waiting for "3 days overdue")."""


def overdue_where(today: datetime) -> str:
    d = today.astimezone(UTC)
    return f'Type=="ACCREC"&&DueDate<DateTime({d.year},{d.month:02d},{d.day:02d})'


def report_fingerprint(report: dict[str, Any]) -> str:
    """A report "changes" when its rows do (Reports have no ``If-Modified-Since``)."""
    return hashlib.sha256(json.dumps(report.get("Rows") or [], sort_keys=True).encode()).hexdigest()[:32]


def change_of(item: dict[str, Any], fields: tuple[str, ...]) -> str:
    return "|".join(str(item.get(f)) for f in fields)
