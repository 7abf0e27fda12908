"""Xero catalog: every trigger, action and search of Zapier's "Kartra + Xero" integration.

The ``upstream`` of each entry names the Xero endpoint (see ``../shared/reference/xero.md`` §9 for
the T/A/S numbers in the descriptions). Triggers publish the event models of
``kxflow_contracts.events.xero``; actions take the Xero request fields themselves.

Each entry's ``example`` (its sample OUTPUT) is literal data in ``examples/xero.json``, captured
from the gateway against the Xero sandbox by
``tests/integration/xero_gateway/capture_xero_examples.py``; ``input_example`` (the sample INPUT an
editor pre-fills) is written here.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator

from kxflow_contracts.catalog.base import CatalogEntry, Delivery, Kind, NoParams, OpenModel
from kxflow_contracts.events import xero as ev
from kxflow_contracts.models import xero as m
from kxflow_contracts.models import xero_actions as a
from kxflow_contracts.report_types import report_type_problem

_CONTACT_ID = "8138a266-fb42-49b2-a104-014b7045753d"
_INVOICE_ID = "4f7b2a7e-2d3a-4a36-9a5b-0a5f4a1c8b11"
_QUOTE_ID = "a3c5e0d2-6f1b-4c8e-9d27-3b4f5a6c7d81"
_PURCHASE_ORDER_ID = "c0e1f2a3-4b5c-4d6e-8f70-8192a3b4c5d6"
_CREDIT_NOTE_ID = "e7d6c5b4-a392-4817-b6f5-e4d3c2b1a090"
_ALLOCATION_ID = "b1c2d3e4-f5a6-4b7c-8d9e-0f1a2b3c4d5e"
_EMPLOYEE_ID = "d4e5f6a7-b8c9-4dae-8f01-23456789abcd"
_BRANDING_THEME_ID = "5d4dd402-c851-497e-aae1-9ff265c0d15a"

EXAMPLES_FILE = "examples/xero.json"
OUTPUT_EXAMPLES: dict[str, dict[str, Any]] = json.loads(
    resources.files(__package__).joinpath(EXAMPLES_FILE).read_text(encoding="utf-8")
)
"""Catalog key → sample output, as the gateway produced it against the sandbox."""


class OverdueParams(OpenModel):
    days_overdue: int = Field(default=1, description="Fire when a sales invoice is this many days overdue")


class StatusParams(OpenModel):
    status: str | None = Field(default=None, description="Only documents in this status, e.g. AUTHORISED")


class PaymentTypeParams(OpenModel):
    payment_type: str | None = Field(default=None, description="Only this payment type, e.g. ACCRECPAYMENT")


class BankTransactionParams(OpenModel):
    status: str | None = Field(default=None, description="Only this status, e.g. AUTHORISED")
    type: str | None = Field(default=None, description="Only this type, e.g. RECEIVE or SPEND")


class CreditNoteParams(OpenModel):
    status: str | None = Field(default=None, description="Only this status")
    type: str | None = Field(default=None, description="ACCRECCREDIT or ACCPAYCREDIT")


class ReportParams(OpenModel):
    report_type: str = Field(
        default="ProfitAndLoss",
        description="The report: ProfitAndLoss, BalanceSheet, TrialBalance, BankSummary, BudgetSummary, "
        "ExecutiveSummary or TenNinetyNine (US); the gateway polls the type a zap chooses",
    )

    @field_validator("report_type")
    @classmethod
    def _pollable(cls, value: str) -> str:
        problem = report_type_problem(value)
        if problem:
            raise ValueError(problem)
        return value


class ProjectParams(OpenModel):
    state: str | None = Field(default=None, description="INPROGRESS or CLOSED")


class PayslipParams(OpenModel):
    pay_run_status: str | None = Field(
        default=None,
        description="Pay run status: POSTED or DRAFT (without one, POSTED: drafts fire only when asked)",
    )
    pay_run_period_start_date: str | None = Field(
        default=None, description="Only the pay run whose period starts on this date (YYYY-MM-DD)"
    )
    pay_run_period_end_date: str | None = Field(
        default=None, description="Only the pay run whose period ends on this date (YYYY-MM-DD)"
    )


class UpdatedInvoiceParams(StatusParams):
    contact: str | None = Field(default=None, description="Only invoices of this contact (its ContactID)")
    change: ev.InvoiceChange | list[ev.InvoiceChange] | None = Field(
        default=None,
        description="Fire only when this invoice field changed from the previous version the gateway "
        "saw (several: see trigger_preference)",
    )
    trigger_preference: Literal["any", "all"] | None = Field(
        default=None,
        description="With several changes chosen: any (the default) fires when at least one of them "
        "changed, all only when every one changed in the same update",
    )


PARAM_EXAMPLES: dict[str, dict[str, Any]] = {
    "xero.sales_invoice.created": {"status": "AUTHORISED"},
    "xero.sales_invoice.updated": {
        "status": "PAID",
        "contact": _CONTACT_ID,
        "change": ["Status", "AmountDue"],
        "trigger_preference": "any",
    },
    "xero.bill.created": {"status": "AUTHORISED"},
    "xero.contact.created": {},
    "xero.contact.updated": {},
    "xero.credit_note.created": {"status": "AUTHORISED", "type": "ACCRECCREDIT"},
    "xero.sales_invoice.overdue": {"days_overdue": 3},
    "xero.payslip.created": {
        "pay_run_status": "POSTED",
        "pay_run_period_start_date": "2026-11-01",
        "pay_run_period_end_date": "2026-11-14",
    },
    "xero.purchase_order.status_entered": {"status": "AUTHORISED"},
    "xero.payment.created": {"payment_type": "ACCRECPAYMENT"},
    "xero.payment.reconciled": {"payment_type": "ACCRECPAYMENT"},
    "xero.bank_transaction.created": {"status": "AUTHORISED", "type": "RECEIVE"},
    "xero.report.updated": {"report_type": "ProfitAndLoss"},
    "xero.project.created": {"state": "INPROGRESS"},
    "xero.quote.created": {"status": "ACCEPTED"},
    "xero.payroll_au.employee.created": {},
}
"""Trigger key → sample parameters an editor pre-fills."""


def _trigger(
    key: str,
    name: str,
    description: str,
    params: type[BaseModel],
    event: type[BaseModel],
    delivery: Delivery,
    upstream: str,
    param_fields: dict[str, str] | None = None,
    param_defaults: dict[str, str] | None = None,
    param_lists: dict[str, str] | None = None,
) -> CatalogEntry:
    return CatalogEntry(
        key=key,
        app="xero",
        kind=Kind.trigger,
        display_name=name,
        description=description,
        input_model=params,
        output_model=event,
        example=OUTPUT_EXAMPLES.get(key, {}),
        input_example=PARAM_EXAMPLES[key],
        delivery=delivery,
        param_fields=param_fields or {},
        param_defaults=param_defaults or {},
        param_lists=param_lists or {},
        upstream=upstream,
    )


def _action(
    key: str,
    name: str,
    description: str,
    input_model: type[BaseModel],
    output_model: type[BaseModel],
    upstream: str,
    input_example: dict[str, Any],
    kind: Kind = Kind.action,
) -> CatalogEntry:
    return CatalogEntry(
        key=key,
        app="xero",
        kind=kind,
        display_name=name,
        description=description,
        input_model=input_model,
        output_model=output_model,
        example=OUTPUT_EXAMPLES.get(key, {}),
        input_example=input_example,
        writes=kind is Kind.action,
        upstream=upstream,
    )


_LINE = {"Description": "Course", "Quantity": 1, "UnitAmount": 49.5, "AccountCode": "200"}
_FILE = {"FileName": "order-42.pdf", "ContentBase64": "JVBERi0xLjQK", "MimeType": "application/pdf"}
_ITEM_CODE = "SEAT"
"""An item the sandbox runs create first, so lines can name it."""
_SALES_LINE = {
    **_LINE,
    "ItemCode": _ITEM_CODE,
    "TaxType": "OUTPUT",
    "DiscountRate": 10,
    "Tracking": [{"Name": "Region", "Option": "North"}],
}
_PHONES = [
    {"PhoneType": "DEFAULT", "PhoneCountryCode": "61", "PhoneAreaCode": "2", "PhoneNumber": "9000 1234"},
    {"PhoneType": "FAX", "PhoneCountryCode": "61", "PhoneAreaCode": "2", "PhoneNumber": "9000 1235"},
    {"PhoneType": "MOBILE", "PhoneCountryCode": "61", "PhoneNumber": "0400 123 456"},
    {"PhoneType": "DDI", "PhoneCountryCode": "61", "PhoneAreaCode": "2", "PhoneNumber": "9000 1299"},
]
_ADDRESSES = [
    {
        "AddressType": "STREET",
        "AttentionTo": "Accounts",
        "AddressLine1": "1 George St",
        "AddressLine2": "Level 2",
        "City": "Sydney",
        "Region": "NSW",
        "PostalCode": "2000",
        "Country": "Australia",
    }
]
_CONTACT_DETAILS = {
    "AccountNumber": "ACC-42",
    "ContactNumber": "kartra-4174086",
    "FirstName": "Ada",
    "LastName": "Lovelace",
    "EmailAddress": "ada@example.com",
    "Phones": _PHONES,
    "Addresses": _ADDRESSES,
    "TaxNumber": "12345678901",
    "BankAccountDetails": "062000 12345678",
}
_CONTACT_INPUT = {
    "Name": "Ada Lovelace",
    **_CONTACT_DETAILS,
    "CompanyNumber": "ACN 000 000 019",
    "SalesDefaultAccountCode": "200",
    "PurchasesDefaultAccountCode": "400",
    "ContactPersons": [
        {
            "FirstName": "Charles",
            "LastName": "Babbage",
            "EmailAddress": "cb@example.com",
            "IncludeInEmails": True,
        }
    ],
    "PaymentTerms": {
        "Sales": {"Day": 14, "Type": "DAYSAFTERBILLDATE"},
        "Bills": {"Day": 20, "Type": "OFFOLLOWINGMONTH"},
    },
    "ContactGroups": ["Kartra customers"],
}
_EMPLOYEE = {
    "Title": "Ms",
    "MiddleNames": "King",
    "Email": "ada@example.com",
    "Gender": "F",
    "Phone": "02 9000 1234",
    "Mobile": "0400 123 456",
    "TwitterUserName": "ada",
    "JobTitle": "Engineer",
    "Classification": "Level 3",
    "IncomeType": "SALARYANDWAGES",
    "EmploymentType": "EMPLOYEE",
    "Status": "ACTIVE",
    "StartDate": "2026-11-02",
    "EmployeeGroupName": "Engineering",
    "IsAuthorisedToApproveLeave": True,
    "IsAuthorisedToApproveTimesheets": False,
    "PayrollCalendarID": "4ed3b1cf-9a2d-4e1e-8ad4-8c3d0b1e2f40",
    "TerminationDate": "2027-06-30",
    "TerminationReason": "C",
    "SuperMemberships": [{"SuperFundID": "2ab7c8d1-3e4f-4a5b-9c6d-7e8f90a1b2c3", "EmployeeNumber": "E-42"}],
    "TaxDeclaration": {
        "EmploymentBasis": "FULLTIME",
        "TaxFileNumber": "123456782",
        "ResidencyStatus": "AUSTRALIANRESIDENT",
        "TaxScaleType": "REGULAR",
        "TaxFreeThresholdClaimed": True,
        "TaxOffsetEstimatedAmount": 0,
        "UpwardVariationTaxWithholdingAmount": 0,
        "ApprovedWithholdingVariationPercentage": 0,
    },
    "BankAccounts": [
        {
            "StatementText": "Salary",
            "AccountName": "A Lovelace",
            "BSB": "062000",
            "AccountNumber": "12345678",
            "Remainder": True,
        }
    ],
    "HomeAddress": {
        "AddressLine1": "1 George St",
        "AddressLine2": "Unit 4",
        "City": "Sydney",
        "Region": "NSW",
        "PostalCode": "2000",
        "Country": "AUSTRALIA",
    },
}
_WH = Delivery.webhook
_POLL = Delivery.poll

TRIGGERS = [
    _trigger(
        "xero.sales_invoice.created",
        "New Sales Invoice",
        "T10: a sales invoice (ACCREC) is created.",
        StatusParams,
        ev.InvoiceEvent,
        _WH,
        "webhook INVOICE CREATE → GET /Invoices?IDs=",
        {"status": "invoice.Status"},
    ),
    _trigger(
        "xero.sales_invoice.updated",
        "Updated Sales Invoice",
        "T5: a sales invoice (ACCREC) changes; `changed` lists what changed since the previous "
        "version the gateway saw.",
        UpdatedInvoiceParams,
        ev.UpdatedInvoiceEvent,
        _WH,
        "webhook INVOICE UPDATE → GET /Invoices?IDs= (compared with the stored previous version)",
        {
            "status": "invoice.Status",
            "contact": "invoice.Contact.ContactID",
            "change": "changed",
            "trigger_preference": "changed",
        },
        param_lists={"change": "trigger_preference"},
    ),
    _trigger(
        "xero.bill.created",
        "New Bill",
        "A bill (ACCPAY invoice) is created.",
        StatusParams,
        ev.InvoiceEvent,
        _WH,
        "webhook INVOICE CREATE → GET /Invoices?IDs=",
        {"status": "invoice.Status"},
    ),
    _trigger(
        "xero.contact.created",
        "New Contact",
        "A contact is created.",
        NoParams,
        ev.ContactEvent,
        _WH,
        "webhook CONTACT CREATE → GET /Contacts?IDs=",
    ),
    _trigger(
        "xero.contact.updated",
        "New or Updated Contact",
        "A contact changes.",
        NoParams,
        ev.ContactEvent,
        _WH,
        "webhook CONTACT UPDATE → GET /Contacts?IDs=",
    ),
    _trigger(
        "xero.credit_note.created",
        "New Credit Note",
        "T6: a credit note is created (by type/status).",
        CreditNoteParams,
        ev.CreditNoteEvent,
        _WH,
        "webhook CREDITNOTE → GET /CreditNotes?IDs=",
        {"status": "credit_note.Status", "type": "credit_note.Type"},
    ),
    _trigger(
        "xero.sales_invoice.overdue",
        "Overdue Sales Invoice",
        "T1: a sales invoice is overdue by the given number of days (one event per invoice and day).",
        OverdueParams,
        ev.OverdueInvoiceEvent,
        _POLL,
        'GET /Invoices?Statuses=AUTHORISED&where=Type=="ACCREC"&&DueDate<DateTime(..)',
        {"days_overdue": "days_overdue"},
    ),
    _trigger(
        "xero.payslip.created",
        "New Payslip",
        "T2: a pay run's payslips (Payroll AU), posted or draft (Pay Run Status; POSTED by default).",
        PayslipParams,
        ev.PayslipEvent,
        _POLL,
        "GET payroll/PayRuns → GET payroll/PayRuns/{id}",
        {
            "pay_run_status": "pay_run.PayRunStatus",
            "pay_run_period_start_date": "pay_run_period_start_date",
            "pay_run_period_end_date": "pay_run_period_end_date",
        },
        {"pay_run_status": "POSTED"},
    ),
    _trigger(
        "xero.purchase_order.status_entered",
        "New Purchase Order",
        "T3: a purchase order is created or enters a status for the first time.",
        StatusParams,
        ev.PurchaseOrderEvent,
        _POLL,
        "GET /PurchaseOrders + If-Modified-Since",
        {"status": "purchase_order.Status"},
    ),
    _trigger(
        "xero.payment.created",
        "New Payment",
        "T4a: a payment is made (by payment type).",
        PaymentTypeParams,
        ev.PaymentEvent,
        _POLL,
        "GET /Payments + If-Modified-Since",
        {"payment_type": "payment.PaymentType"},
    ),
    _trigger(
        "xero.payment.reconciled",
        "New Reconciled Payment",
        "T4b: a payment is reconciled.",
        PaymentTypeParams,
        ev.PaymentEvent,
        _POLL,
        "GET /Payments?where=IsReconciled==true",
        {"payment_type": "payment.PaymentType"},
    ),
    _trigger(
        "xero.bank_transaction.created",
        "New Bank Transaction",
        "T6: a bank transaction (by status/type).",
        BankTransactionParams,
        ev.BankTransactionEvent,
        _POLL,
        "GET /BankTransactions + If-Modified-Since",
        {"status": "bank_transaction.Status", "type": "bank_transaction.Type"},
    ),
    _trigger(
        "xero.report.updated",
        "New Report",
        "T7: a report's figures change.",
        ReportParams,
        ev.ReportEvent,
        _POLL,
        "GET /Reports/{ReportType}",
        {"report_type": "report_type"},
    ),
    _trigger(
        "xero.project.created",
        "New Project",
        "T8: a project is created (by state).",
        ProjectParams,
        ev.ProjectEvent,
        _POLL,
        "GET projects/Projects?states=",
        {"state": "project.status"},
    ),
    _trigger(
        "xero.quote.created",
        "New Quote",
        "T9: a quote is created or enters a status.",
        StatusParams,
        ev.QuoteEvent,
        _POLL,
        "GET /Quotes + If-Modified-Since",
        {"status": "quote.Status"},
    ),
    _trigger(
        "xero.payroll_au.employee.created",
        "New Employee (AU)",
        "An AU payroll employee is added.",
        NoParams,
        ev.EmployeeEvent,
        _POLL,
        "GET payroll/Employees + If-Modified-Since",
    ),
]

ACTIONS = [
    _action(
        "xero.sales_invoice.add_items",
        "Add Items to Existing Sales Invoice",
        "A1",
        a.AddItemsInput,
        m.Invoice,
        "GET /Invoices/{id} → POST /Invoices/{id}",
        {"InvoiceID": _INVOICE_ID, "LineItems": [_LINE]},
    ),
    _action(
        "xero.item.create",
        "Create Item",
        "A2",
        a.ItemInput,
        m.Item,
        "PUT /Items",
        {
            "Code": "COURSE",
            "Name": "Course",
            "Description": "Online course",
            "IsSold": True,
            "SalesDetails": {"UnitPrice": 49.5, "AccountCode": "200", "TaxType": "OUTPUT"},
            "IsPurchased": True,
            "PurchaseDescription": "Course licence",
            "PurchaseDetails": {"UnitPrice": 20, "COGSAccountCode": "310", "TaxType": "INPUT"},
            "IsTrackedAsInventory": True,
            "InventoryAssetAccountCode": "630",
        },
    ),
    _action(
        "xero.item.upsert",
        "Create/Update Item",
        "A3: update the item with this Code, else create it.",
        a.ItemInput,
        m.Item,
        "POST /Items",
        {"Code": "COURSE", "Name": "Course", "IsSold": True, "IsPurchased": False},
    ),
    _action(
        "xero.item.find_or_create",
        "Find or Create Item",
        "A4/S7",
        a.ItemInput,
        m.Item,
        'GET /Items?where=Code=="x" → PUT /Items',
        {"Code": "COURSE", "Name": "Course", "IsSold": True, "IsPurchased": False},
    ),
    _action(
        "xero.bank_transaction.create",
        "Create Bank Transaction",
        "A5",
        a.BankTransactionCreateInput,
        m.BankTransaction,
        "PUT /BankTransactions",
        {
            "Type": "RECEIVE",
            "Contact": {"ContactID": _CONTACT_ID},
            "BankAccount": {"Code": "090"},
            "Date": "2026-11-01",
            "LineItems": [_LINE],
        },
    ),
    _action(
        "xero.contact.upsert",
        "Create/Update Contact",
        "A6: contact groups by name, each a separate call.",
        a.ContactInput,
        m.Contact,
        "POST /Contacts (+ PUT /ContactGroups/{id}/Contacts per group)",
        _CONTACT_INPUT,
    ),
    _action(
        "xero.quote.create",
        "Create New Quote Draft",
        "A7",
        a.QuoteCreateInput,
        m.Quote,
        "PUT /Quotes",
        {
            "Contact": {"ContactID": _CONTACT_ID},
            "Date": "2026-11-01",
            "ExpiryDate": "2026-11-30",
            "QuoteNumber": "QU-K-42",
            "Reference": "Kartra #42",
            "BrandingThemeID": _BRANDING_THEME_ID,
            "Title": "Course quote",
            "Summary": "Pro course, one seat",
            "CurrencyCode": "AUD",
            "LineAmountTypes": "EXCLUSIVE",
            "Terms": "Valid 30 days",
            "LineItems": [_SALES_LINE],
        },
    ),
    _action(
        "xero.quote.update",
        "Update Quote",
        "A8",
        a.QuoteUpdateInput,
        m.Quote,
        "POST /Quotes/{QuoteID}",
        {
            "QuoteID": _QUOTE_ID,
            "Contact": {"ContactID": _CONTACT_ID},
            "Date": "2026-11-01",
            "Title": "New",
            "Status": "SENT",
            "QuoteNumber": "QU-K-42B",
            "ExpiryDate": "2026-12-15",
            "Reference": "Kartra #42",
            "BrandingThemeID": _BRANDING_THEME_ID,
            "Summary": "Updated",
            "CurrencyCode": "AUD",
            "LineAmountTypes": "INCLUSIVE",
            "Terms": "Valid 45 days",
        },
    ),
    _action(
        "xero.credit_note.allocation.delete",
        "Delete Credit Note Allocation",
        "A9",
        a.DeleteAllocationInput,
        m.Allocation,
        "DELETE /CreditNotes/{CreditNoteID}/Allocations/{AllocationID}",
        {"CreditNoteID": _CREDIT_NOTE_ID, "AllocationID": _ALLOCATION_ID},
    ),
    _action(
        "xero.payroll_au.employee.create",
        "Create Employee (AU)",
        "A10",
        a.EmployeeCreateInput,
        m.Employee,
        "POST payroll/Employees",
        {"FirstName": "Ada", "LastName": "L", "DateOfBirth": "1990-01-02", **_EMPLOYEE},
    ),
    _action(
        "xero.payroll_au.employee.update",
        "Update Employee (AU)",
        "A11",
        a.EmployeeUpdateInput,
        m.Employee,
        "POST payroll/Employees/{EmployeeID}",
        {
            "EmployeeID": _EMPLOYEE_ID,
            "FirstName": "Ada",
            "LastName": "Lovelace",
            "DateOfBirth": "1990-01-02",
            **_EMPLOYEE,
            "TerminationReason": "V",
        },
    ),
    _action(
        "xero.bill.create",
        "Create Bill",
        "A12",
        a.BillCreateInput,
        m.Invoice,
        "PUT /Invoices (ACCPAY)",
        {
            "Contact": {"Name": "Supplies Co", "EmailAddress": "ap@supplies.example"},
            "Status": "AUTHORISED",
            "Date": "2026-11-01",
            "DueDate": "2026-11-30",
            "CurrencyCode": "AUD",
            "Url": "https://kartra.example/orders/42",
            "Attachments": [_FILE],
            "BrandingThemeID": _BRANDING_THEME_ID,
            "Reference": "PO-42",
            "LineAmountTypes": "Exclusive",
            "LineItems": [
                {
                    **_LINE,
                    "AccountCode": "400",
                    "TaxType": "INPUT",
                    "Tracking": [{"Name": "Region", "Option": "North"}],
                },
                {
                    "ItemCode": _ITEM_CODE,
                    "Description": "Seat",
                    "Quantity": 2,
                    "UnitAmount": 5,
                    "AccountCode": "400",
                },
            ],
        },
    ),
    _action(
        "xero.payment.create",
        "Create Payment",
        "A13",
        a.PaymentCreateInput,
        m.Payment,
        "PUT /Payments",
        {
            "Invoice": {"InvoiceID": _INVOICE_ID},
            "Account": {"Code": "090"},
            "Amount": 49.5,
            "Date": "2026-11-01",
            "CurrencyRate": 1,
            "Reference": "Kartra #42",
        },
    ),
    _action(
        "xero.purchase_order.create",
        "Create Purchase Order",
        "A14",
        a.PurchaseOrderCreateInput,
        m.PurchaseOrder,
        "PUT /PurchaseOrders",
        {
            "Contact": {"ContactID": _CONTACT_ID},
            "Date": "2026-11-01",
            "DeliveryDate": "2026-11-10",
            "PurchaseOrderNumber": "PO-K-42",
            "Reference": "Kartra #42",
            "BrandingThemeID": _BRANDING_THEME_ID,
            "CurrencyCode": "AUD",
            "LineAmountTypes": "Exclusive",
            "DeliveryAddress": "1 George St, Sydney NSW 2000",
            "AttentionTo": "Stores",
            "Telephone": "02 9000 1234",
            "DeliveryInstructions": "Leave at reception",
            "Attachments": [_FILE],
            "Status": "DRAFT",
            "LineItems": [{**_LINE, "AccountCode": "400"}],
        },
    ),
    _action(
        "xero.purchase_order.update",
        "Update Purchase Order",
        "A15",
        a.PurchaseOrderUpdateInput,
        m.PurchaseOrder,
        "POST /PurchaseOrders/{PurchaseOrderID} (add: GET it first and send its lines too)",
        {
            "PurchaseOrderID": _PURCHASE_ORDER_ID,
            "Contact": {"ContactID": _CONTACT_ID},
            "Status": "SUBMITTED",
            "LineItemsUpdateMethod": "add",
            "LineItems": [{**_LINE, "AccountCode": "400"}],
            "Date": "2026-11-02",
            "DeliveryDate": "2026-11-12",
            "ExpectedArrivalDate": "2026-11-13",
            "LineAmountTypes": "Exclusive",
            "PurchaseOrderNumber": "PO-K-43",
            "Reference": "Kartra #43",
            "BrandingThemeID": _BRANDING_THEME_ID,
            "CurrencyCode": "AUD",
            "SentToContact": True,
            "DeliveryAddress": "1 George St, Sydney NSW 2000",
            "AttentionTo": "Stores",
            "Telephone": "02 9000 1234",
            "DeliveryInstructions": "Call ahead",
        },
    ),
    _action(
        "xero.attachment.upload",
        "Upload File",
        "A16",
        a.AttachmentUploadInput,
        m.Attachment,
        "PUT /{ResourceType}/{ResourceID}/Attachments/{FileName}",
        {
            "ResourceType": "Invoices",
            "ResourceID": _INVOICE_ID,
            "FileName": "receipt.pdf",
            "ContentBase64": "JVBERi0xLjQK",
            "MimeType": "application/pdf",
        },
    ),
    _action(
        "xero.sales_invoice.note.add",
        "Add Note to Invoice",
        "A17",
        a.InvoiceNoteInput,
        m.HistoryRecord,
        "PUT /Invoices/{InvoiceID}/History",
        {"InvoiceID": _INVOICE_ID, "Note": "Paid via Kartra"},
    ),
    _action(
        "xero.credit_note.allocate",
        "Allocate Credit Note",
        "A18",
        a.AllocateCreditNoteInput,
        m.Allocation,
        "PUT /CreditNotes/{CreditNoteID}/Allocations",
        {"CreditNoteID": _CREDIT_NOTE_ID, "InvoiceID": _INVOICE_ID, "Amount": 10, "Date": "2026-11-01"},
    ),
    _action(
        "xero.bank_transfer.create",
        "Create Bank Transfer",
        "A19",
        a.BankTransferCreateInput,
        m.BankTransfer,
        "PUT /BankTransfers",
        {
            "FromBankAccount": {"Code": "090"},
            "ToBankAccount": {"Code": "091"},
            "Amount": 100,
            "Date": "2026-11-01",
        },
    ),
    _action(
        "xero.account.create",
        "Create Account",
        "A20",
        a.AccountCreateInput,
        m.Account,
        "PUT /Accounts",
        {"Code": "201", "Name": "Course sales", "Type": "REVENUE"},
    ),
    _action(
        "xero.credit_note.create",
        "Create Credit Note",
        "A21",
        a.CreditNoteCreateInput,
        m.CreditNote,
        "PUT /CreditNotes",
        {
            "Type": "ACCRECCREDIT",
            "Contact": {"ContactID": _CONTACT_ID},
            "Date": "2026-11-01",
            "LineItems": [_LINE],
        },
    ),
    _action(
        "xero.sales_invoice.email",
        "Send Sales Invoice by Email",
        "A22",
        a.InvoiceEmailInput,
        a.EmailSent,
        "POST /Invoices/{InvoiceID}/Email",
        {"InvoiceID": _INVOICE_ID},
    ),
    _action(
        "xero.sales_invoice.create",
        "Create Sales Invoice",
        "A23",
        a.SalesInvoiceCreateInput,
        m.Invoice,
        "PUT /Invoices (ACCREC)",
        {
            "Contact": {"Name": "Ada Lovelace Pty", **_CONTACT_DETAILS},
            "Status": "AUTHORISED",
            "Date": "2026-11-01",
            "DueDate": "2026-11-15",
            "CurrencyCode": "AUD",
            "Url": "https://kartra.example/orders/42",
            "BrandingThemeID": _BRANDING_THEME_ID,
            "InvoiceNumber": "K-42",
            "Attachments": [{**_FILE, "IncludeOnline": True}],
            "Reference": "Kartra #42",
            "SentToContact": False,
            "LineAmountTypes": "Exclusive",
            "LineItems": [
                _SALES_LINE,
                {
                    "Description": "Bonus",
                    "Quantity": 1,
                    "UnitAmount": 10,
                    "AccountCode": "200",
                    "DiscountAmount": 2,
                },
            ],
        },
    ),
    _action(
        "xero.project.create",
        "Create Project",
        "A24",
        a.ProjectCreateInput,
        m.Project,
        "POST projects/Projects",
        {
            "contactId": _CONTACT_ID,
            "name": "Website",
            "deadlineUtc": "2027-03-01T00:00:00Z",
            "estimateAmount": 5000,
        },
    ),
    _action(
        "xero.repeating_invoice.create",
        "Create Repeating Invoice",
        "A25",
        a.RepeatingInvoiceCreateInput,
        m.RepeatingInvoice,
        "PUT /RepeatingInvoices",
        {
            "Contact": {"ContactID": _CONTACT_ID},
            "Schedule": {
                "Period": 1,
                "Unit": "MONTHLY",
                "DueDate": 10,
                "DueDateType": "DAYSAFTERBILLDATE",
                "StartDate": "2026-12-01",
                "EndDate": "2027-11-30",
            },
            "Status": "AUTHORISED",
            "CurrencyCode": "AUD",
            "BrandingThemeID": _BRANDING_THEME_ID,
            "Reference": "Membership",
            "ApprovedForSending": True,
            "SendCopy": False,
            "IncludePDF": True,
            "LineAmountTypes": "Exclusive",
            "LineItems": [_LINE],
        },
    ),
    _action(
        "xero.sales_invoice.update",
        "Update Sales Invoice",
        "A26",
        a.SalesInvoiceUpdateInput,
        m.Invoice,
        "POST /Invoices/{InvoiceID}",
        {
            "InvoiceID": _INVOICE_ID,
            "Reference": "Kartra #42",
            "Status": "AUTHORISED",
            "Contact": {"ContactID": _CONTACT_ID},
            "Date": "2026-11-01",
            "DueDate": "2026-11-20",
            "ExpectedPaymentDate": "2026-11-18",
            "BrandingThemeID": _BRANDING_THEME_ID,
            "Url": "https://kartra.example/orders/42",
            "CurrencyCode": "AUD",
            "SentToContact": True,
            "InvoiceNumber": "K-42-A",
            "Attachments": [{**_FILE, "FileName": "receipt-42.pdf"}],
            "LineAmountTypes": "Exclusive",
        },
    ),
    _action(
        "xero.api_request",
        "API Request (Beta)",
        "A27: any Xero API call; auth and tenant injected; only https://api.xero.com.",
        a.ApiRequestInput,
        a.ApiRequestOutput,
        "any https://api.xero.com/*",
        {"Method": "GET", "URL": "https://api.xero.com/api.xro/2.0/Organisation"},
    ),
    _action(
        "xero.contact.find_or_create",
        "Find or Create Contact",
        "S6",
        a.FindOrCreateContactInput,
        m.Contact,
        'GET /Contacts?where=<SearchBy>=="x" → PUT /Contacts (+ groups)',
        {**_CONTACT_INPUT, "SearchBy": "Name"},
    ),
]

SEARCHES = [
    _action(
        "xero.contact.find",
        "Find Contact",
        "S2/S5: by ContactID, Name or EmailAddress.",
        a.FindContactInput,
        m.Contact,
        "GET /Contacts/{id} | GET /Contacts?searchTerm=",
        {"EmailAddress": "ada@example.com"},
        Kind.search,
    ),
    _action(
        "xero.invoice.find",
        "Find Invoice",
        "S4: by id, number or reference; optionally PDF and online URL.",
        a.FindInvoiceInput,
        a.InvoiceWithExtras,
        "GET /Invoices/{id} (+Accept: application/pdf, /OnlineInvoice)",
        {"InvoiceNumber": "INV-0001", "IncludePDF": True},
        Kind.search,
    ),
    _action(
        "xero.item.find",
        "Find Item",
        "S1: by Code or Name.",
        a.FindItemInput,
        m.Item,
        'GET /Items?where=Code=="x"',
        {"Code": "COURSE"},
        Kind.search,
    ),
    _action(
        "xero.organisation.find",
        "Find Organization",
        "S3",
        NoParams,
        m.Organisation,
        "GET /Organisation",
        {},
        Kind.search,
    ),
    _action(
        "xero.quote.find",
        "Find Quote",
        "S1: by quote number or id.",
        a.FindByNumberInput,
        m.Quote,
        "GET /Quotes?QuoteNumber=",
        {"Number": "QU-0001"},
        Kind.search,
    ),
    _action(
        "xero.purchase_order.find",
        "Find Purchase Order",
        "S1: by number or id.",
        a.FindByNumberInput,
        m.PurchaseOrder,
        "GET /PurchaseOrders/{number}",
        {"Number": "PO-0001"},
        Kind.search,
    ),
    _action(
        "xero.account.find",
        "Find Account",
        "S1: by Code or Name.",
        a.FindAccountInput,
        m.Account,
        'GET /Accounts?where=Code=="x"',
        {"Code": "090"},
        Kind.search,
    ),
]

ENTRIES: list[CatalogEntry] = [*TRIGGERS, *ACTIONS, *SEARCHES]
