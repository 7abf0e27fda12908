"""Inputs and outputs of the Xero actions and searches, named as Zapier names their fields.

Inputs are the Xero request fields themselves (PascalCase), so a rendered step input is sent to
Xero as is; only what an action needs beyond the Xero body (``InvoiceID`` in a path, a file's
content, a search's flags) is an extra field, named as Zapier names it.
"""

from __future__ import annotations

import base64
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from kxflow_contracts.catalog.base import OpenModel
from kxflow_contracts.models.xero import (
    AccountRef,
    Address,
    ContactPaymentTerms,
    ContactPerson,
    ContactRef,
    CreditNoteRef,
    InlineContact,
    InvoiceRef,
    LineItem,
    Phone,
)

_DATE = "YYYY-MM-DD"
_AMOUNTS = "Whether line amounts include tax: Exclusive, Inclusive or NoTax"
_QUOTE_AMOUNTS = "Whether line amounts include tax: EXCLUSIVE, INCLUSIVE or NOTAX (quotes spell it so)"


_URL = (
    "Or the file's https URL: the gateway fetches it (public hosts only, size-capped, allowed content "
    "types; see the operator guide's attachment settings) instead of ContentBase64"
)


def _one_source(content: str | None, url: str | None) -> None:
    """A file comes as content or by URL: exactly one of them."""
    if bool(content) == bool(url):
        raise ValueError("give exactly one of ContentBase64 (the file's bytes) and URL (where to fetch it)")


def _checked_base64(value: str | None) -> str | None:
    """Checked before anything is written: a bad file must not fail a step after its document."""
    if value:
        try:
            base64.b64decode(value, validate=True)
        except ValueError:
            raise ValueError("ContentBase64 is not base64") from None
    return value


class AttachmentFile(OpenModel):
    """A file attached to the document the action writes, after the write (Xero's separate call)."""

    FileName: str = Field(min_length=1, max_length=255, description="File name with its extension")
    ContentBase64: str | None = Field(
        default=None,
        max_length=14_000_000,
        description="The file's bytes, base64 (Xero takes up to 10 MB a file); or give URL",
    )
    URL: str | None = Field(default=None, max_length=2048, description=_URL)
    MimeType: str = Field(default="application/octet-stream", description="The file's content type")
    IncludeOnline: bool | None = Field(default=None, description="Show it on the online invoice")

    _base64 = field_validator("ContentBase64")(_checked_base64)

    @model_validator(mode="after")
    def _one(self) -> AttachmentFile:
        _one_source(self.ContentBase64, self.URL)
        return self


_ATTACHMENTS = "Files attached after the write, one PUT /{Resource}/{id}/Attachments/{FileName} each (≤ 10)"


class _Document(OpenModel):
    Contact: ContactRef = Field(description="The contact: ContactID, or a Name Xero finds or creates")
    Date: str | None = Field(default=None, description=_DATE)
    CurrencyCode: str | None = Field(
        default=None, description="Currency, e.g. AUD (default: the base currency)"
    )
    Reference: str | None = Field(default=None, description="Reference")
    LineAmountTypes: str | None = Field(default=None, description=_AMOUNTS)
    LineItems: list[LineItem] = Field(default_factory=list, description="The lines")
    BrandingThemeID: str | None = Field(default=None, description="The branding theme's id (Theme)")


class SalesInvoiceCreateInput(_Document):
    Contact: InlineContact = Field(
        description="The contact: ContactID, or Name (and details) Xero finds or creates"
    )
    Status: Literal["DRAFT", "SUBMITTED", "AUTHORISED"] = Field(default="DRAFT", description="Status")
    DueDate: str | None = Field(default=None, description=_DATE)
    InvoiceNumber: str | None = Field(default=None, description="Number (default: Xero's next number)")
    Url: str | None = Field(default=None, description="A link to the source document shown on the invoice")
    SentToContact: bool | None = Field(default=None, description="Mark the invoice as sent")
    Attachments: list[AttachmentFile] | None = Field(default=None, max_length=10, description=_ATTACHMENTS)


class BillCreateInput(SalesInvoiceCreateInput):
    pass


class SalesInvoiceUpdateInput(OpenModel):
    InvoiceID: str = Field(description="The invoice to update")
    Contact: ContactRef | None = Field(default=None, description="A new contact")
    Status: str | None = Field(default=None, description="New status, e.g. AUTHORISED or VOIDED")
    Date: str | None = Field(default=None, description=_DATE)
    DueDate: str | None = Field(default=None, description=_DATE)
    ExpectedPaymentDate: str | None = Field(default=None, description=f"Expected payment date, {_DATE}")
    Reference: str | None = Field(default=None, description="Reference")
    BrandingThemeID: str | None = Field(default=None, description="The branding theme's id")
    Url: str | None = Field(default=None, description="A link to the source document")
    CurrencyCode: str | None = Field(default=None, description="Currency")
    SentToContact: bool | None = Field(default=None, description="Mark the invoice as sent")
    InvoiceNumber: str | None = Field(default=None, description="New number")
    LineAmountTypes: str | None = Field(default=None, description=_AMOUNTS)
    LineItems: list[LineItem] | None = Field(
        default=None, description="Replaces every line (keep LineItemID to keep a line)"
    )
    Attachments: list[AttachmentFile] | None = Field(default=None, max_length=10, description=_ATTACHMENTS)


class AddItemsInput(OpenModel):
    InvoiceID: str = Field(description="The invoice the lines are added to")
    LineItems: list[LineItem] = Field(description="The lines to add (the existing ones are kept)")


class InvoiceNoteInput(OpenModel):
    InvoiceID: str = Field(description="The invoice")
    Note: str = Field(max_length=2500, description="The note added to its history (≤ 2,500 characters)")


class InvoiceEmailInput(OpenModel):
    InvoiceID: str = Field(description="The invoice to email to its contact")


class ContactInput(OpenModel):
    Name: str = Field(description="Contact name (unique in the organisation)")
    ContactID: str | None = Field(default=None, description="The contact to update (else matched by name)")
    FirstName: str | None = Field(default=None, description="Primary person's first name")
    LastName: str | None = Field(default=None, description="Primary person's last name")
    EmailAddress: str | None = Field(default=None, description="Primary person's email")
    AccountNumber: str | None = Field(default=None, description="Account number")
    ContactNumber: str | None = Field(default=None, description="Contact number (an external id)")
    CompanyNumber: str | None = Field(default=None, description="Company registration number")
    TaxNumber: str | None = Field(default=None, description="Tax number (ABN, GST, VAT…)")
    BankAccountDetails: str | None = Field(default=None, description="Bank account number")
    SalesDefaultAccountCode: str | None = Field(default=None, description="Default account code of sales")
    PurchasesDefaultAccountCode: str | None = Field(
        default=None, description="Default account code of purchases"
    )
    Phones: list[Phone] | None = Field(
        default=None, description="Phone (DEFAULT), fax (FAX), mobile (MOBILE), direct dial (DDI)"
    )
    Addresses: list[Address] | None = Field(
        default=None, description="Postal (POBOX) and street (STREET) addresses"
    )
    ContactPersons: list[ContactPerson] | None = Field(
        default=None, description="Secondary persons (up to 5)"
    )
    PaymentTerms: ContactPaymentTerms | None = Field(
        default=None, description="Default payment terms of bills and sales invoices"
    )
    ContactGroups: list[str] | None = Field(
        default=None,
        description="Names of contact groups to add the contact to (a separate Xero call per group; "
        "a group that does not exist is created)",
    )


class FindOrCreateContactInput(ContactInput):
    SearchBy: Literal["Name", "EmailAddress", "AccountNumber", "ContactNumber"] = Field(
        default="Name",
        description="The field an existing contact is found by (exact match) before one is created",
    )


class FindContactInput(OpenModel):
    ContactID: str | None = Field(default=None, description="Find by id")
    Name: str | None = Field(default=None, description="Find by name (exact)")
    EmailAddress: str | None = Field(default=None, description="Find by email (exact)")
    IncludeArchived: bool = Field(default=False, description="Also find archived contacts")


class ItemDetails(OpenModel):
    UnitPrice: float | None = Field(default=None, description="Unit price")
    AccountCode: str | None = Field(default=None, description="Account code")
    TaxType: str | None = Field(default=None, description="Tax type, e.g. OUTPUT or INPUT")
    COGSAccountCode: str | None = Field(
        default=None, description="Cost of goods sold account (purchases of a tracked item only)"
    )


class ItemInput(OpenModel):
    Code: str = Field(max_length=30, description="Item code (≤ 30 characters; what the item is found by)")
    Name: str | None = Field(default=None, max_length=50, description="Name (≤ 50 characters)")
    Description: str | None = Field(default=None, description="Sales description")
    IsSold: bool | None = Field(default=None, description="A sales item")
    IsPurchased: bool | None = Field(default=None, description="A purchase item")
    PurchaseDescription: str | None = Field(default=None, description="Purchase description")
    SalesDetails: ItemDetails | None = Field(default=None, description="Sales unit price, account, tax type")
    PurchaseDetails: ItemDetails | None = Field(
        default=None, description="Purchase unit price, account, tax type, COGS account"
    )
    IsTrackedAsInventory: bool | None = Field(
        default=None,
        description="Tracked inventory: needs InventoryAssetAccountCode and PurchaseDetails.COGSAccountCode",
    )
    InventoryAssetAccountCode: str | None = Field(default=None, description="Inventory asset account code")


class FindItemInput(OpenModel):
    Code: str | None = Field(default=None, description="Search by code (exact)")
    Name: str | None = Field(default=None, description="Search by name (exact)")


class PaymentCreateInput(OpenModel):
    Invoice: InvoiceRef | None = Field(default=None, description="The invoice paid (Document Type invoice)")
    CreditNote: CreditNoteRef | None = Field(
        default=None, description="The credit note refunded (Document Type credit note)"
    )
    Account: AccountRef = Field(description="The bank account paid to or from (Paid To)")
    Amount: float = Field(description="Amount")
    Date: str | None = Field(default=None, description=_DATE)
    CurrencyRate: float | None = Field(default=None, description="Exchange rate (foreign currency)")
    Reference: str | None = Field(default=None, description="Reference")


class BankTransactionCreateInput(_Document):
    Type: Literal[
        "RECEIVE",
        "SPEND",
        "RECEIVE-OVERPAYMENT",
        "SPEND-OVERPAYMENT",
        "RECEIVE-PREPAYMENT",
        "SPEND-PREPAYMENT",
    ] = Field(description="Transaction type")
    BankAccount: AccountRef = Field(description="The bank account")
    Status: str | None = Field(default=None, description="AUTHORISED (default) or DELETED")


class BankTransferCreateInput(OpenModel):
    FromBankAccount: AccountRef = Field(description="From account")
    ToBankAccount: AccountRef = Field(description="To account")
    Amount: float = Field(description="Amount")
    Date: str | None = Field(default=None, description=_DATE)
    Reference: str | None = Field(default=None, description="Reference")


class QuoteCreateInput(_Document):
    LineAmountTypes: str | None = Field(default=None, description=_QUOTE_AMOUNTS)
    Date: str = Field(description=_DATE)
    ExpiryDate: str | None = Field(default=None, description=f"Expiry, {_DATE}")
    QuoteNumber: str | None = Field(default=None, description="Quote number (default: Xero's next)")
    Title: str | None = Field(default=None, description="Title")
    Summary: str | None = Field(default=None, description="Summary")
    Terms: str | None = Field(default=None, description="Terms")
    Status: str | None = Field(default=None, description="DRAFT (default), SENT, ACCEPTED, DECLINED…")


class QuoteUpdateInput(OpenModel):
    QuoteID: str = Field(description="The quote to update")
    Contact: ContactRef = Field(description="The contact (Xero requires it on every update)")
    Date: str = Field(description=f"{_DATE} (Xero requires it on every update)")
    Status: str | None = Field(default=None, description="DRAFT, SENT, ACCEPTED, DECLINED, INVOICED")
    Title: str | None = Field(default=None, description="Title")
    Summary: str | None = Field(default=None, description="Summary")
    QuoteNumber: str | None = Field(default=None, description="Quote number")
    ExpiryDate: str | None = Field(default=None, description=f"Expiry, {_DATE}")
    Reference: str | None = Field(default=None, description="Reference")
    BrandingThemeID: str | None = Field(default=None, description="The branding theme's id (Theme)")
    CurrencyCode: str | None = Field(default=None, description="Currency")
    LineAmountTypes: str | None = Field(default=None, description=_QUOTE_AMOUNTS)
    Terms: str | None = Field(default=None, description="Terms")
    LineItems: list[LineItem] | None = Field(default=None, description="Replaces every line")


class PurchaseOrderCreateInput(_Document):
    DeliveryDate: str | None = Field(default=None, description=f"Delivery date, {_DATE}")
    PurchaseOrderNumber: str | None = Field(default=None, description="Order number (default: Xero's next)")
    DeliveryAddress: str | None = Field(default=None, description="Delivery address")
    AttentionTo: str | None = Field(default=None, description="Attention")
    Telephone: str | None = Field(default=None, description="Telephone")
    DeliveryInstructions: str | None = Field(
        default=None, max_length=500, description="Delivery instructions (≤ 500 characters)"
    )
    Status: str | None = Field(default=None, description="DRAFT (default), SUBMITTED or AUTHORISED")
    Attachments: list[AttachmentFile] | None = Field(default=None, max_length=10, description=_ATTACHMENTS)


class PurchaseOrderUpdateInput(OpenModel):
    PurchaseOrderID: str = Field(description="The purchase order to update")
    Contact: ContactRef | None = Field(default=None, description="A new supplier")
    LineItemsUpdateMethod: Literal["replace", "add"] = Field(
        default="replace",
        description="With LineItems: replace every line (Xero's own update), or add them to the "
        "existing lines (the gateway reads the order and sends its lines plus these)",
    )
    LineItems: list[LineItem] | None = Field(default=None, description="Lines, as the update method says")
    Status: str | None = Field(default=None, description="DRAFT, SUBMITTED, AUTHORISED, BILLED or DELETED")
    Date: str | None = Field(default=None, description=_DATE)
    DeliveryDate: str | None = Field(default=None, description=f"Delivery date, {_DATE}")
    ExpectedArrivalDate: str | None = Field(default=None, description=f"Expected arrival, {_DATE}")
    LineAmountTypes: str | None = Field(default=None, description=_AMOUNTS)
    PurchaseOrderNumber: str | None = Field(default=None, description="Order number")
    Reference: str | None = Field(default=None, description="Reference")
    BrandingThemeID: str | None = Field(default=None, description="The branding theme's id")
    CurrencyCode: str | None = Field(default=None, description="Currency")
    SentToContact: bool | None = Field(default=None, description="Mark the order as sent")
    DeliveryAddress: str | None = Field(default=None, description="Delivery address")
    AttentionTo: str | None = Field(default=None, description="Attention")
    Telephone: str | None = Field(default=None, description="Telephone")
    DeliveryInstructions: str | None = Field(
        default=None, max_length=500, description="Delivery instructions (≤ 500 characters)"
    )


class CreditNoteCreateInput(_Document):
    Type: Literal["ACCPAYCREDIT", "ACCRECCREDIT"] = Field(description="ACCRECCREDIT (sales) or ACCPAYCREDIT")
    Status: str | None = Field(default=None, description="DRAFT (default), SUBMITTED or AUTHORISED")
    CreditNoteNumber: str | None = Field(default=None, description="Credit note number")


class AllocateCreditNoteInput(OpenModel):
    CreditNoteID: str = Field(description="The credit note (AUTHORISED)")
    InvoiceID: str = Field(description="The invoice it is allocated to")
    Amount: float = Field(description="Amount")
    Date: str = Field(description=_DATE)


class DeleteAllocationInput(OpenModel):
    CreditNoteID: str = Field(description="The credit note")
    AllocationID: str = Field(description="The allocation to delete")


class AccountCreateInput(OpenModel):
    Code: str = Field(max_length=10, description="Code (≤ 10 characters, unique)")
    Name: str = Field(max_length=150, description="Name (≤ 150 characters, unique)")
    Type: str = Field(description="Account type, e.g. REVENUE, EXPENSE, BANK")
    Description: str | None = Field(default=None, description="Description")
    TaxType: str | None = Field(default=None, description="Default tax type")
    BankAccountNumber: str | None = Field(default=None, description="Bank account number (BANK accounts)")


class RepeatingSchedule(OpenModel):
    """When a repeating invoice's invoices are created and fall due (Xero's ``Schedule``)."""

    Period: int | None = Field(default=None, ge=1, description="Invoice creation: frequency (every N units)")
    Unit: Literal["WEEKLY", "MONTHLY"] | None = Field(
        default=None, description="Invoice creation: frequency type"
    )
    DueDate: int | None = Field(default=None, ge=0, description="Set due dates (days)")
    DueDateType: (
        Literal["DAYSAFTERBILLDATE", "DAYSAFTERBILLMONTH", "OFCURRENTMONTH", "OFFOLLOWINGMONTH"] | None
    ) = Field(default=None, description="Due date type (payment terms)")
    StartDate: str | None = Field(default=None, description=f"First invoice date, {_DATE}")
    EndDate: str | None = Field(default=None, description=f"Last invoice date, {_DATE}")


class RepeatingInvoiceCreateInput(_Document):
    Type: Literal["ACCREC", "ACCPAY"] = Field(
        default="ACCREC", description="ACCREC (sales) or ACCPAY (bills)"
    )
    Schedule: RepeatingSchedule = Field(description="The schedule")
    Status: Literal["DRAFT", "AUTHORISED"] = Field(default="DRAFT", description="DRAFT or AUTHORISED")
    ApprovedForSending: bool | None = Field(
        default=None, description="Mark as approved for sending (the invoices are emailed)"
    )
    SendCopy: bool | None = Field(default=None, description="Email a copy to the sender")
    MarkAsSent: bool | None = Field(default=None, description="Mark the created invoices as sent")
    IncludePDF: bool | None = Field(default=None, description="Attach a PDF to the emails")


class EmployeeHomeAddress(OpenModel):
    AddressLine1: str | None = Field(default=None, description="Address line 1")
    AddressLine2: str | None = Field(default=None, description="Address line 2")
    City: str | None = Field(default=None, description="City / suburb")
    Region: Literal["ACT", "NSW", "NT", "QLD", "SA", "TAS", "VIC", "WA"] | None = Field(
        default=None, description="State (AU state code)"
    )
    PostalCode: str | None = Field(default=None, description="Postal code")
    Country: str | None = Field(default=None, description="Country")


class EmployeeTaxDeclaration(OpenModel):
    EmploymentBasis: (
        Literal["FULLTIME", "PARTTIME", "CASUAL", "LABOURHIRE", "SUPERINCOMESTREAM", "NONEMPLOYEE"] | None
    ) = Field(default=None, description="Employment basis")
    TaxFileNumber: str | None = Field(default=None, description="Tax file number (TFN)")
    TFNExemptionType: Literal["NOTQUOTED", "PENDING", "PENSIONER", "UNDER18"] | None = Field(
        default=None, description="TFN exemption type (instead of a TFN)"
    )
    ResidencyStatus: Literal["AUSTRALIANRESIDENT", "FOREIGNRESIDENT", "WORKINGHOLIDAYMAKER"] | None = Field(
        default=None, description="Residency status"
    )
    TaxScaleType: (
        Literal[
            "REGULAR",
            "ACTORSARTISTSENTERTAINERS",
            "HORTICULTURISTORSHEARER",
            "SENIORORPENSIONER",
            "WORKINGHOLIDAYMAKER",
            "FOREIGN",
        ]
        | None
    ) = Field(default=None, description="Tax scale type")
    TaxFreeThresholdClaimed: bool | None = Field(default=None, description="Tax-free threshold claimed")
    TaxOffsetEstimatedAmount: float | None = Field(default=None, description="Tax offset estimated amount")
    UpwardVariationTaxWithholdingAmount: float | None = Field(
        default=None, description="Upward variation tax withholding amount"
    )
    ApprovedWithholdingVariationPercentage: float | None = Field(
        default=None, ge=0, le=100, description="Approved withholding variation percentage"
    )


class EmployeeBankAccount(OpenModel):
    StatementText: str | None = Field(default=None, description="Statement text")
    AccountName: str | None = Field(default=None, description="Account name")
    BSB: str | None = Field(default=None, description="BSB number (6 digits)")
    AccountNumber: str | None = Field(default=None, description="Account number")
    Remainder: bool | None = Field(default=None, description="This account takes the remainder of the pay")
    Amount: float | None = Field(default=None, description="Fixed amount (when not the remainder)")


class SuperMembership(OpenModel):
    SuperFundID: str | None = Field(default=None, description="The super fund's id (Super Fund)")
    EmployeeNumber: str | None = Field(default=None, description="The employee's number at the fund")


class _EmployeeFields(OpenModel):
    Title: str | None = Field(default=None, description="Title, e.g. Ms")
    MiddleNames: str | None = Field(default=None, description="Middle names")
    StartDate: str | None = Field(default=None, description=f"Start date, {_DATE}")
    Gender: Literal["N", "M", "F", "I"] | None = Field(default=None, description="N, M, F or I")
    Phone: str | None = Field(default=None, description="Phone number")
    Mobile: str | None = Field(default=None, description="Mobile number")
    TwitterUserName: str | None = Field(default=None, description="Twitter username")
    JobTitle: str | None = Field(default=None, description="Job title")
    Classification: str | None = Field(default=None, description="Classification")
    TerminationDate: str | None = Field(default=None, description=f"Termination date, {_DATE}")
    TerminationReason: str | None = Field(default=None, description="Termination reason (STP code)")
    IncomeType: (
        Literal["SALARYANDWAGES", "WORKINGHOLIDAYMAKER", "NONEMPLOYEE", "CLOSELYHELDPAYEES", "LABOURHIRE"]
        | None
    ) = Field(default=None, description="Income type")
    EmploymentType: Literal["EMPLOYEE", "CONTRACTOR"] | None = Field(
        default=None, description="Employment type"
    )
    Status: Literal["ACTIVE", "TERMINATED"] | None = Field(default=None, description="ACTIVE or TERMINATED")
    PayrollCalendarID: str | None = Field(default=None, description="The payroll calendar's id")
    EmployeeGroupName: str | None = Field(default=None, description="Employee group name")
    IsAuthorisedToApproveLeave: bool | None = Field(default=None, description="Authorised to approve leave")
    IsAuthorisedToApproveTimesheets: bool | None = Field(
        default=None, description="Authorised to approve timesheets"
    )
    TaxDeclaration: EmployeeTaxDeclaration | None = Field(default=None, description="Tax declaration")
    BankAccounts: list[EmployeeBankAccount] | None = Field(default=None, description="Bank accounts")
    SuperMemberships: list[SuperMembership] | None = Field(default=None, description="Super fund memberships")
    HomeAddress: EmployeeHomeAddress | None = Field(default=None, description="Home address")


class EmployeeCreateInput(_EmployeeFields):
    FirstName: str = Field(description="First name")
    LastName: str = Field(description="Last name")
    DateOfBirth: str = Field(description="YYYY-MM-DD; sent to Payroll AU as /Date(ms+0000)/")
    Email: str | None = Field(default=None, description="Email")


class EmployeeUpdateInput(_EmployeeFields):
    EmployeeID: str = Field(description="The employee to update")
    FirstName: str | None = Field(default=None, description="First name")
    LastName: str | None = Field(default=None, description="Last name")
    DateOfBirth: str | None = Field(default=None, description=f"Date of birth, {_DATE}")
    Email: str | None = Field(default=None, description="Email")


class ProjectCreateInput(OpenModel):
    contactId: str = Field(description="The contact's id")
    name: str = Field(description="Project name")
    deadlineUtc: str | None = Field(default=None, description="Deadline, ISO 8601 (UTC)")
    estimateAmount: float | None = Field(default=None, description="Project estimate")


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
    ] = Field(description="Resource type")
    ResourceID: str = Field(description="The resource's id")
    FileName: str = Field(description="File name")
    # Required in the published v1 schema, so it stays a required string: "" when URL is given.
    ContentBase64: str = Field(description='The file\'s bytes, base64 ("" when URL is given)')
    URL: str | None = Field(default=None, max_length=2048, description=_URL)
    MimeType: str = Field(default="application/octet-stream", description="The file's content type")
    IncludeOnline: bool | None = Field(default=None, description="Show on the online invoice")

    _base64 = field_validator("ContentBase64")(_checked_base64)

    @model_validator(mode="after")
    def _one(self) -> AttachmentUploadInput:
        _one_source(self.ContentBase64, self.URL)
        return self


class FindInvoiceInput(OpenModel):
    InvoiceID: str | None = Field(default=None, description="Find by id")
    InvoiceNumber: str | None = Field(default=None, description="Find by number")
    Reference: str | None = Field(default=None, description="Find by reference (exact)")
    IncludePDF: bool = Field(default=False, description="Add the invoice's PDF (base64) to the output")
    IncludeOnlineInvoiceUrl: bool = Field(
        default=False, description="Add the online invoice's URL (sales invoices, not drafts)"
    )


class FindByNumberInput(OpenModel):
    Number: str | None = Field(default=None, description="Find by number, e.g. QU-0001 or PO-0001")
    ID: str | None = Field(default=None, description="Find by id")


class FindAccountInput(OpenModel):
    Code: str | None = Field(default=None, description="Find by code (exact)")
    Name: str | None = Field(default=None, description="Find by name (exact)")


class ApiRequestInput(OpenModel):
    Method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = Field(default="GET", description="HTTP method")
    URL: str = Field(description="https://api.xero.com/... only")
    Query: dict[str, str] | None = Field(default=None, description="Query string parameters")
    Headers: dict[str, str] | None = Field(
        default=None, description="Additional request headers (authorisation and tenant are injected)"
    )
    Body: Any = Field(default=None, description="Body (JSON)")
    StopOnError: bool = Field(
        default=True, description="Fail the step when Xero answers an error (else return the answer)"
    )


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
