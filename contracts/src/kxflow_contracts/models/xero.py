"""Typed Xero shapes shared by the Xero catalog's inputs, outputs and trigger events.

Field names are Xero's own (PascalCase for Accounting and Payroll, camelCase for Projects), as
Zapier shows them. Every model keeps fields it does not declare (``OpenModel``), so an upstream
addition is never lost and a user can pass any other Xero field through. Amounts and quantities
are floats, so a numeric string rendered by a template (``"49.50"``) is accepted too.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from kxflow_contracts.catalog.base import OpenModel


class ContactRef(OpenModel):
    ContactID: str | None = None
    Name: str | None = None
    EmailAddress: str | None = None


class AccountRef(OpenModel):
    AccountID: str | None = None
    Code: str | None = None


class InvoiceRef(OpenModel):
    InvoiceID: str | None = None
    InvoiceNumber: str | None = None


class CreditNoteRef(OpenModel):
    CreditNoteID: str | None = None
    CreditNoteNumber: str | None = None


class TrackingOption(OpenModel):
    Name: str | None = None
    Option: str | None = None


class LineItem(OpenModel):
    LineItemID: str | None = None
    Description: str | None = None
    Quantity: float | None = None
    UnitAmount: float | None = None
    ItemCode: str | None = None
    AccountCode: str | None = None
    TaxType: str | None = None
    DiscountRate: float | None = None
    DiscountAmount: float | None = None
    LineAmount: float | None = None
    Tracking: list[TrackingOption] | None = None


class Phone(OpenModel):
    PhoneType: Literal["DEFAULT", "DDI", "MOBILE", "FAX"] = "DEFAULT"
    PhoneNumber: str | None = None
    PhoneAreaCode: str | None = None
    PhoneCountryCode: str | None = None


class Address(OpenModel):
    AddressType: Literal["POBOX", "STREET", "DELIVERY"] = "STREET"
    AddressLine1: str | None = None
    City: str | None = None
    Region: str | None = None
    PostalCode: str | None = None
    Country: str | None = None


class ContactPerson(OpenModel):
    FirstName: str | None = None
    LastName: str | None = None
    EmailAddress: str | None = None
    IncludeInEmails: bool | None = None


class Contact(OpenModel):
    ContactID: str | None = None
    Name: str | None = None
    FirstName: str | None = None
    LastName: str | None = None
    EmailAddress: str | None = None
    AccountNumber: str | None = None
    ContactNumber: str | None = None
    ContactStatus: str | None = None
    UpdatedDateUTC: str | None = None


class Invoice(OpenModel):
    InvoiceID: str | None = None
    InvoiceNumber: str | None = None
    Type: str | None = None
    Status: str | None = None
    Contact: ContactRef | None = None
    Date: str | None = None
    DueDate: str | None = None
    Reference: str | None = None
    CurrencyCode: str | None = None
    LineItems: list[LineItem] | None = None
    SubTotal: float | None = None
    Total: float | None = None
    AmountDue: float | None = None
    AmountPaid: float | None = None
    UpdatedDateUTC: str | None = None


class Payment(OpenModel):
    PaymentID: str | None = None
    PaymentType: str | None = None
    Status: str | None = None
    Date: str | None = None
    Amount: float | None = None
    Reference: str | None = None
    IsReconciled: bool | None = None
    Invoice: InvoiceRef | None = None
    Account: AccountRef | None = None
    UpdatedDateUTC: str | None = None


class Item(OpenModel):
    ItemID: str | None = None
    Code: str | None = None
    Name: str | None = None
    Description: str | None = None
    IsSold: bool | None = None
    IsPurchased: bool | None = None
    IsTrackedAsInventory: bool | None = None


class CreditNote(OpenModel):
    CreditNoteID: str | None = None
    CreditNoteNumber: str | None = None
    Type: str | None = None
    Status: str | None = None
    Contact: ContactRef | None = None
    Total: float | None = None
    RemainingCredit: float | None = None


class Quote(OpenModel):
    QuoteID: str | None = None
    QuoteNumber: str | None = None
    Status: str | None = None
    Contact: ContactRef | None = None
    Total: float | None = None
    Title: str | None = None


class PurchaseOrder(OpenModel):
    PurchaseOrderID: str | None = None
    PurchaseOrderNumber: str | None = None
    Status: str | None = None
    Contact: ContactRef | None = None
    Total: float | None = None


class BankTransaction(OpenModel):
    BankTransactionID: str | None = None
    Type: str | None = None
    Status: str | None = None
    Contact: ContactRef | None = None
    BankAccount: AccountRef | None = None
    Total: float | None = None


class BankTransfer(OpenModel):
    BankTransferID: str | None = None
    Amount: float | None = None
    FromBankAccount: AccountRef | None = None
    ToBankAccount: AccountRef | None = None
    FromBankTransactionID: str | None = None
    ToBankTransactionID: str | None = None


class Account(OpenModel):
    AccountID: str | None = None
    Code: str | None = None
    Name: str | None = None
    Type: str | None = None
    Status: str | None = None


class RepeatingInvoice(OpenModel):
    RepeatingInvoiceID: str | None = None
    Type: str | None = None
    Status: str | None = None
    Contact: ContactRef | None = None


class Allocation(OpenModel):
    AllocationID: str | None = None
    Amount: float | None = None
    Invoice: InvoiceRef | None = None
    IsDeleted: bool | None = None


class HistoryRecord(OpenModel):
    Details: str | None = None
    Changes: str | None = None
    DateUTC: str | None = None


class Attachment(OpenModel):
    AttachmentID: str | None = None
    FileName: str | None = None
    Url: str | None = None
    MimeType: str | None = None
    ContentLength: int | None = None


class Employee(OpenModel):
    EmployeeID: str | None = None
    FirstName: str | None = None
    LastName: str | None = None
    DateOfBirth: str | None = Field(default=None, description="YYYY-MM-DD in, /Date(ms)/ from Xero")
    Email: str | None = None
    Status: str | None = None


class Project(OpenModel):
    projectId: str | None = None
    contactId: str | None = None
    name: str | None = None
    status: str | None = None
    deadlineUtc: str | None = None


class Organisation(OpenModel):
    OrganisationID: str | None = None
    Name: str | None = None
    LegalName: str | None = None
    BaseCurrency: str | None = None
    CountryCode: str | None = None
    ShortCode: str | None = None


class PayRun(OpenModel):
    PayRunID: str | None = None
    PayRunStatus: str | None = None
    PayRunPeriodStartDate: str | None = None
    PayRunPeriodEndDate: str | None = None


class Payslip(OpenModel):
    PayslipID: str | None = None
    EmployeeID: str | None = None
    FirstName: str | None = None
    LastName: str | None = None
    NetPay: float | None = None


class Report(OpenModel):
    ReportID: str | None = None
    ReportName: str | None = None
    ReportType: str | None = None
    Rows: list[dict] | None = None
