"""Inputs and outputs of the Xero actions and searches, named as Zapier names their fields.

Inputs are the Xero request fields themselves (PascalCase), so a rendered step input is sent to
Xero as is; only what an action needs beyond the Xero body (``InvoiceID`` in a path, a file's
content, a search's flags) is an extra field, named as Zapier names it.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from kxflow_contracts.catalog.base import OpenModel
from kxflow_contracts.models.xero import (
    AccountRef,
    Address,
    ContactPerson,
    ContactRef,
    CreditNoteRef,
    InvoiceRef,
    LineItem,
    Phone,
)


class _Document(OpenModel):
    Contact: ContactRef
    Date: str | None = Field(default=None, description="YYYY-MM-DD")
    CurrencyCode: str | None = None
    Reference: str | None = None
    LineAmountTypes: str | None = None
    LineItems: list[LineItem] = Field(default_factory=list)


class SalesInvoiceCreateInput(_Document):
    Status: Literal["DRAFT", "SUBMITTED", "AUTHORISED"] = "DRAFT"
    DueDate: str | None = None
    InvoiceNumber: str | None = None
    BrandingThemeID: str | None = None
    Url: str | None = None
    SentToContact: bool | None = None


class BillCreateInput(SalesInvoiceCreateInput):
    pass


class SalesInvoiceUpdateInput(OpenModel):
    InvoiceID: str
    Status: str | None = None
    Reference: str | None = None
    DueDate: str | None = None
    LineItems: list[LineItem] | None = None


class AddItemsInput(OpenModel):
    InvoiceID: str
    LineItems: list[LineItem]


class InvoiceNoteInput(OpenModel):
    InvoiceID: str
    Note: str = Field(max_length=2500)


class InvoiceEmailInput(OpenModel):
    InvoiceID: str


class ContactInput(OpenModel):
    Name: str
    ContactID: str | None = None
    FirstName: str | None = None
    LastName: str | None = None
    EmailAddress: str | None = None
    AccountNumber: str | None = None
    ContactNumber: str | None = None
    TaxNumber: str | None = None
    Phones: list[Phone] | None = None
    Addresses: list[Address] | None = None
    ContactPersons: list[ContactPerson] | None = None


class FindOrCreateContactInput(OpenModel):
    Name: str
    EmailAddress: str | None = None
    FirstName: str | None = None
    LastName: str | None = None


class FindContactInput(OpenModel):
    ContactID: str | None = None
    Name: str | None = None
    EmailAddress: str | None = None
    IncludeArchived: bool = False


class ItemInput(OpenModel):
    Code: str = Field(max_length=30)
    Name: str | None = Field(default=None, max_length=50)
    Description: str | None = None
    IsSold: bool | None = None
    IsPurchased: bool | None = None
    PurchaseDescription: str | None = None
    SalesDetails: dict[str, Any] | None = None
    PurchaseDetails: dict[str, Any] | None = None
    InventoryAssetAccountCode: str | None = None


class FindItemInput(OpenModel):
    Code: str | None = None
    Name: str | None = None


class PaymentCreateInput(OpenModel):
    Invoice: InvoiceRef | None = None
    CreditNote: CreditNoteRef | None = None
    Account: AccountRef
    Amount: float
    Date: str | None = None
    CurrencyRate: float | None = None
    Reference: str | None = None


class BankTransactionCreateInput(_Document):
    Type: Literal[
        "RECEIVE",
        "SPEND",
        "RECEIVE-OVERPAYMENT",
        "SPEND-OVERPAYMENT",
        "RECEIVE-PREPAYMENT",
        "SPEND-PREPAYMENT",
    ]
    BankAccount: AccountRef
    Status: str | None = None


class BankTransferCreateInput(OpenModel):
    FromBankAccount: AccountRef
    ToBankAccount: AccountRef
    Amount: float
    Date: str | None = None
    Reference: str | None = None


class QuoteCreateInput(_Document):
    Date: str
    ExpiryDate: str | None = None
    QuoteNumber: str | None = None
    Title: str | None = None
    Summary: str | None = None
    Terms: str | None = None
    Status: str | None = None


class QuoteUpdateInput(OpenModel):
    QuoteID: str
    Contact: ContactRef
    Date: str
    Status: str | None = None
    Title: str | None = None
    Summary: str | None = None


class PurchaseOrderCreateInput(_Document):
    DeliveryDate: str | None = None
    PurchaseOrderNumber: str | None = None
    DeliveryAddress: str | None = None
    AttentionTo: str | None = None
    Telephone: str | None = None
    DeliveryInstructions: str | None = Field(default=None, max_length=500)
    Status: str | None = None


class PurchaseOrderUpdateInput(OpenModel):
    PurchaseOrderID: str
    Status: str | None = None
    DeliveryDate: str | None = None
    Reference: str | None = None


class CreditNoteCreateInput(_Document):
    Type: Literal["ACCPAYCREDIT", "ACCRECCREDIT"]
    Status: str | None = None
    CreditNoteNumber: str | None = None


class AllocateCreditNoteInput(OpenModel):
    CreditNoteID: str
    InvoiceID: str
    Amount: float
    Date: str


class DeleteAllocationInput(OpenModel):
    CreditNoteID: str
    AllocationID: str


class AccountCreateInput(OpenModel):
    Code: str = Field(max_length=10)
    Name: str = Field(max_length=150)
    Type: str
    Description: str | None = None
    TaxType: str | None = None
    BankAccountNumber: str | None = None


class RepeatingInvoiceCreateInput(_Document):
    Type: Literal["ACCREC", "ACCPAY"] = "ACCREC"
    Schedule: dict[str, Any]
    Status: Literal["DRAFT", "AUTHORISED"] = "DRAFT"


class EmployeeCreateInput(OpenModel):
    FirstName: str
    LastName: str
    DateOfBirth: str = Field(description="YYYY-MM-DD; sent to Payroll AU as /Date(ms+0000)/")
    StartDate: str | None = None
    Email: str | None = None
    Gender: Literal["N", "M", "F", "I"] | None = None
    JobTitle: str | None = None
    HomeAddress: dict[str, Any] | None = None


class EmployeeUpdateInput(OpenModel):
    EmployeeID: str
    FirstName: str | None = None
    LastName: str | None = None
    DateOfBirth: str | None = None
    StartDate: str | None = None
    Email: str | None = None
    JobTitle: str | None = None


class ProjectCreateInput(OpenModel):
    contactId: str
    name: str
    deadlineUtc: str | None = None
    estimateAmount: float | None = None


class AttachmentUploadInput(OpenModel):
    ResourceType: Literal[
        "Invoices",
        "CreditNotes",
        "BankTransactions",
        "BankTransfers",
        "Contacts",
        "Accounts",
        "ManualJournals",
        "PurchaseOrders",
        "Quotes",
        "Receipts",
        "RepeatingInvoices",
    ]
    ResourceID: str
    FileName: str
    ContentBase64: str = Field(description="The file's bytes, base64")
    MimeType: str = "application/octet-stream"
    IncludeOnline: bool | None = None


class FindInvoiceInput(OpenModel):
    InvoiceID: str | None = None
    InvoiceNumber: str | None = None
    Reference: str | None = None
    IncludePDF: bool = False
    IncludeOnlineInvoiceUrl: bool = False


class FindByNumberInput(OpenModel):
    Number: str | None = None
    ID: str | None = None


class FindAccountInput(OpenModel):
    Code: str | None = None
    Name: str | None = None


class ApiRequestInput(OpenModel):
    Method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = "GET"
    URL: str = Field(description="https://api.xero.com/... only")
    Query: dict[str, str] | None = None
    Headers: dict[str, str] | None = None
    Body: Any = None
    StopOnError: bool = True


class ApiRequestOutput(OpenModel):
    status: int
    headers: dict[str, str]
    body: Any = None


class InvoiceWithExtras(OpenModel):
    InvoiceID: str | None = None
    InvoiceNumber: str | None = None
    Status: str | None = None
    PdfBase64: str | None = None
    OnlineInvoiceUrl: str | None = None


class EmailSent(OpenModel):
    InvoiceID: str
    Sent: bool = True
