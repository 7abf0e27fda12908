"""Xero trigger events (``kxflow.xero.events.v1``): one model per trigger, each a resource snapshot.

``xero_tenant_id`` names the organisation; ``origin`` says whether it came from a webhook, a poll,
the reconciliation poll or a backfill.
"""

from __future__ import annotations

from pydantic import Field

from kxflow_contracts.events.base import TriggerEvent
from kxflow_contracts.events.invoice_changes import InvoiceChange
from kxflow_contracts.models.xero import (
    BankTransaction,
    Contact,
    CreditNote,
    Employee,
    Invoice,
    Payment,
    PayRun,
    Payslip,
    Project,
    PurchaseOrder,
    Quote,
    Report,
)


class XeroEvent(TriggerEvent):
    xero_tenant_id: str


class InvoiceEvent(XeroEvent):
    invoice: Invoice


class UpdatedInvoiceEvent(InvoiceEvent):
    changed: list[InvoiceChange] = Field(
        default_factory=list,
        description="The fields (of Updated Sales Invoice's Change choices) whose value differs from "
        "the previous version of the invoice the gateway saw; empty when it saw none before",
    )


class OverdueInvoiceEvent(InvoiceEvent):
    days_overdue: int


class ContactEvent(XeroEvent):
    contact: Contact


class CreditNoteEvent(XeroEvent):
    credit_note: CreditNote


class PaymentEvent(XeroEvent):
    payment: Payment


class PurchaseOrderEvent(XeroEvent):
    purchase_order: PurchaseOrder


class QuoteEvent(XeroEvent):
    quote: Quote


class BankTransactionEvent(XeroEvent):
    bank_transaction: BankTransaction


class ProjectEvent(XeroEvent):
    project: Project


class ReportEvent(XeroEvent):
    report: Report
    report_type: str


class PayslipEvent(XeroEvent):
    pay_run: PayRun
    payslip: Payslip
    pay_run_period_start_date: str | None = Field(
        default=None, description="The pay run's period start, YYYY-MM-DD (Xero sends /Date(ms)/)"
    )
    pay_run_period_end_date: str | None = Field(
        default=None, description="The pay run's period end, YYYY-MM-DD (Xero sends /Date(ms)/)"
    )


class EmployeeEvent(XeroEvent):
    employee: Employee
