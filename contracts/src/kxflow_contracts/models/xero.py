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
    ContactID: str | None = Field(default=None, description="The Xero contact's id (wins over the name)")
    Name: str | None = Field(default=None, description="The contact's name (Xero finds or creates it)")
    EmailAddress: str | None = Field(default=None, description="The contact's email")


class AccountRef(OpenModel):
    AccountID: str | None = Field(default=None, description="The Xero account's id")
    Code: str | None = Field(default=None, description="The account's code, e.g. 090")


class InvoiceRef(OpenModel):
    InvoiceID: str | None = Field(default=None, description="The invoice's id")
    InvoiceNumber: str | None = Field(default=None, description="The invoice's number, e.g. INV-0001")


class CreditNoteRef(OpenModel):
    CreditNoteID: str | None = Field(default=None, description="The credit note's id")
    CreditNoteNumber: str | None = Field(default=None, description="The credit note's number")


class TrackingOption(OpenModel):
    Name: str | None = Field(default=None, description="The tracking category's name, e.g. Region")
    Option: str | None = Field(default=None, description="The option within it, e.g. North")


class LineItem(OpenModel):
    LineItemID: str | None = Field(default=None, description="An existing line's id (kept on update)")
    Description: str | None = Field(default=None, description="The line's description")
    Quantity: float | None = Field(default=None, description="Quantity")
    UnitAmount: float | None = Field(default=None, description="Unit price")
    ItemCode: str | None = Field(default=None, description="An item's code (Xero fills the line from it)")
    AccountCode: str | None = Field(default=None, description="The account code the line posts to")
    TaxType: str | None = Field(default=None, description="The tax rate's type, e.g. OUTPUT")
    DiscountRate: float | None = Field(default=None, description="Discount % (sales documents only)")
    DiscountAmount: float | None = Field(default=None, description="Discount amount (sales documents only)")
    LineAmount: float | None = Field(default=None, description="The line's amount")
    Tracking: list[TrackingOption] | None = Field(default=None, description="Up to two tracking options")


class Phone(OpenModel):
    PhoneType: Literal["DEFAULT", "DDI", "MOBILE", "FAX"] = Field(
        default="DEFAULT", description="DEFAULT (phone), DDI (direct dial), MOBILE or FAX"
    )
    PhoneNumber: str | None = Field(default=None, description="Number")
    PhoneAreaCode: str | None = Field(default=None, description="Area code")
    PhoneCountryCode: str | None = Field(default=None, description="Country code")


class Address(OpenModel):
    AddressType: Literal["POBOX", "STREET", "DELIVERY"] = Field(
        default="STREET", description="POBOX (postal), STREET (physical) or DELIVERY"
    )
    AttentionTo: str | None = Field(default=None, description="Attention")
    AddressLine1: str | None = Field(default=None, description="Line 1")
    AddressLine2: str | None = Field(default=None, description="Line 2")
    City: str | None = Field(default=None, description="City / town")
    Region: str | None = Field(default=None, description="State / region")
    PostalCode: str | None = Field(default=None, description="Postal / zip code")
    Country: str | None = Field(default=None, description="Country")


class ContactPerson(OpenModel):
    FirstName: str | None = Field(default=None, description="First name")
    LastName: str | None = Field(default=None, description="Last name")
    EmailAddress: str | None = Field(default=None, description="Email")
    IncludeInEmails: bool | None = Field(
        default=None, description="Include this person in emails sent to the contact"
    )


class PaymentTerm(OpenModel):
    Day: int | None = Field(default=None, ge=0, le=31, description="Due (days), or the day of the month")
    Type: Literal["DAYSAFTERBILLDATE", "DAYSAFTERBILLMONTH", "OFCURRENTMONTH", "OFFOLLOWINGMONTH"] | None = (
        Field(default=None, description="How Day counts")
    )


class ContactPaymentTerms(OpenModel):
    Bills: PaymentTerm | None = Field(default=None, description="Default terms of bills (purchase invoices)")
    Sales: PaymentTerm | None = Field(default=None, description="Default terms of sales invoices")


class InlineContact(ContactRef):
    """An invoice's contact: an existing one by id, or one Xero creates (or finds by name) with these
    details, sent nested in the invoice as Xero accepts it."""

    AccountNumber: str | None = Field(default=None, description="The contact's account number")
    ContactNumber: str | None = Field(default=None, description="The contact's number (an external id)")
    FirstName: str | None = Field(default=None, description="Primary person's first name")
    LastName: str | None = Field(default=None, description="Primary person's last name")
    Phones: list[Phone] | None = Field(default=None, description="Phone, fax, mobile, direct dial")
    Addresses: list[Address] | None = Field(default=None, description="Postal (POBOX) and street addresses")
    TaxNumber: str | None = Field(default=None, description="Tax number (ABN, GST, VAT…)")
    BankAccountDetails: str | None = Field(default=None, description="Bank account number")


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
