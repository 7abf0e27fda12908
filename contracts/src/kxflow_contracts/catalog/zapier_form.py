"""Zapier's forms, field by field: where each field of each block of the "Kartra + Xero" page lives.

``BLOCKS`` lists the page's blocks in the page's order (``../shared/seed/``; the reference documents
decode which block is which entry). Each maps every field label the form shows to its place in the
entry's input model (trigger parameters or action input):

- a dotted path (``Contact.Phones[PhoneType=FAX].PhoneNumber``): the field, nested as Xero nests it;
  a ``[...]`` qualifier says which element of a list holds it (Xero's ``PhoneType``, ``AddressType``)
  and is not part of the path;
- alternatives ``A | B``: Zapier's single "search by" / "document" pickers, expressed here by which of
  the fields a user fills;
- ``CONNECTION``: the step's ``connection`` (one kxflow Xero connection is one organisation);
- ``UI``: a pure UI element (heading, help text, a picker that only narrows the next picker) — the
  label must be in ``UI_FIELDS`` with the reason.

``tests/unit/contracts/test_zapier_form.py`` parses the seed page and fails when a field of a block
has no entry here or its path does not resolve in the model; ``docs/catalog.md`` is generated from
this table (``python -m kxflow_contracts.catalog.docs``).
"""

from __future__ import annotations

from typing import Any, get_args

from pydantic import BaseModel
from pydantic.fields import FieldInfo

CONNECTION = "@connection"
UI = "@ui"

UI_FIELDS: dict[str, str] = {
    "Info": "help text shown at the top of the form",
    "Trigger_info": "help text shown at the top of the form",
    "Warning_message": "a warning shown on the form (deleting an allocation cannot be undone)",
    "Copy": "a section heading",
    "CopyEmployment": "a section heading (Employment)",
    "CopyTaxDeclaration": "a section heading (Tax declaration)",
    "CopyBankAccount": "a section heading (Bank account)",
    "CopyAddress": "a section heading (Home address)",
    "Contact Requirements": "help text (which contact fields Xero requires)",
    "Repeated Invoice Schedule": "a section heading (the schedule fields follow)",
    "Lead Details": "help text heading the search",
    "Retrieve All the Lists in Your Account": "the action's title; the action takes no input",
    "Retrieve All the Sequences in Your Account": "the action's title; the action takes no input",
    "Retrieve All the Custom Fields in Your Account": "the action's title; the action takes no input",
    "Retrieve All the Pages in Your Account": "the action's title; the action takes no input",
    "Retrieve All the Tags in Your Account": "the action's title; the action takes no input",
    "Product Funnels": "a picker that narrows the Product picker; the product id is what is matched or sent",
    "Tag Categories": "a picker that narrows the Tags picker",
    "Tag Category": "a picker that narrows the tag picker",
    "Video Categories": "a picker that narrows the Videos picker",
    "Page Category": "a picker that narrows the Page picker",
    "Tracking Link Category": "a picker that narrows the Tracking Links picker",
    "Kartra Page Website": "a picker that narrows the Page picker",
}

_PRODUCT = {"Product Funnels": UI, "Product": "product_id", "Product Price Point": "price_point"}
_CALENDAR_TRIGGER = {"Calendars": "calendar_id", "Calendar Class": "class_id"}
_MEMBERSHIP = {"Memberships": "membership_id", "Membership Levels": "level_id"}
_TAGS = {"Tag Categories": UI, "Tags": "tag_id | tag_name"}
_VIDEOS = {"Video Categories": UI, "Videos": "video_id"}
_LEAD = {"Email": "email", "Lead ID": "lead_id"}
_LEAD_FIELDS = {
    "First Name": "first_name",
    "Middle Name": "middle_name",
    "Last Name": "last_name",
    "Second Last Name": "last_name2",
    "Phone": "phone",
    "Phone Country Code": "phone_country_code",
    "IP Address": "ip",
    "Address": "address",
    "Zip": "zip",
    "City": "city",
    "State": "state",
    "Country": "country",
    "Company": "company",
    "Lead Picture URL": "lead_picture",
    "Website": "website",
    "Preferred time zone": "lead_preferred_time_zone",
    "Facebook Account": "facebook",
    "Twitter Account": "twitter",
    "Linkedin Account": "linkedin",
}
_ORG = {"Organization": CONNECTION}
_SEARCH_BY_CODE_OR_NAME = {**_ORG, "Search_by": "Code | Name"}
_SEARCH_BY_NUMBER_OR_ID = {**_ORG, "Search_by": "Number | ID"}


def _phones(prefix: str = "") -> dict[str, str]:
    out: dict[str, str] = {}
    for label, kind in (("Phone", "DEFAULT"), ("Fax", "FAX"), ("Mobile", "MOBILE"), ("Direct Dial", "DDI")):
        base = f"{prefix}Phones[PhoneType={kind}]"
        number_label = "Phone Number" if kind == "DEFAULT" else f"{label} - Number"
        out[f"{label} - Country Code"] = f"{base}.PhoneCountryCode"
        out[f"{label} - Area Code"] = f"{base}.PhoneAreaCode"
        out[number_label] = f"{base}.PhoneNumber"
    return out


def _address(prefix: str = "", type_label: str = "Address__type_of") -> dict[str, str]:
    base = f"{prefix}Addresses[]"
    return {
        type_label: f"{base}.AddressType",
        "Address - Attention": f"{base}.AttentionTo",
        "Address - Line 1": f"{base}.AddressLine1",
        "Address - Line 2": f"{base}.AddressLine2",
        "Address - City/Town": f"{base}.City",
        "Address - State/Region": f"{base}.Region",
        "Address - Postal/Zip Code": f"{base}.PostalCode",
        "Address - Country": f"{base}.Country",
    }


_CONTACT = {
    **_ORG,
    "Contact Name": "Name",
    "Account_number": "AccountNumber",
    "Sales Default Account Code": "SalesDefaultAccountCode",
    "Purchases Default Account Code": "PurchasesDefaultAccountCode",
    "Contact Requirements": UI,
    "Primary Person - First Name": "FirstName",
    "Primary Person - Last Name": "LastName",
    "Primary Person - Email": "EmailAddress",
    "Secondary Person - First Name": "ContactPersons[].FirstName",
    "Secondary Person - Last Name": "ContactPersons[].LastName",
    "Secondary Person - Email": "ContactPersons[].EmailAddress",
    "Include secondary person in emails sent to contact?": "ContactPersons[].IncludeInEmails",
    **_phones(),
    **_address(),
    "Tax_number": "TaxNumber",
    "Bank Account Number": "BankAccountDetails",
    "Groups": "ContactGroups",
    "Contact_number": "ContactNumber",
    "Company_number": "CompanyNumber",
    "Payment Terms - Invoice Due (days)": "PaymentTerms.Sales.Day",
    "Payment Terms - Type for Sales Invoices": "PaymentTerms.Sales.Type",
    "Payment Terms - Bill Due (days)": "PaymentTerms.Bills.Day",
    "Payment Terms - Type for Purchase Invoices": "PaymentTerms.Bills.Type",
}

_LINE_ITEMS = {
    "Line_items_type": "LineAmountTypes",
    "Item Code": "LineItems[].ItemCode",
    "Description": "LineItems[].Description",
    "Quantity": "LineItems[].Quantity",
    "Unit Price": "LineItems[].UnitAmount",
    "Account": "LineItems[].AccountCode",
    "Tax Rate": "LineItems[].TaxType",
    "Tracking": "LineItems[].Tracking",
}

_INVOICE = {
    "Status": "Status",
    "Date": "Date",
    "Due_date": "DueDate",
    "Currency": "CurrencyCode",
    "Url": "Url",
    "Attachment": "Attachments[].ContentBase64",
    "Branding_theme": "BrandingThemeID",
}

_QUOTE = {
    **_ORG,
    "Contact": "Contact",
    "Date": "Date",
    "Expiry": "ExpiryDate",
    "Quote Number": "QuoteNumber",
    "Reference": "Reference",
    "Theme": "BrandingThemeID",
    "Title": "Title",
    "Summary": "Summary",
    "Currency": "CurrencyCode",
    "Amounts Are": "LineAmountTypes",
    "Terms": "Terms",
}

_EMPLOYEE = {
    "Info": UI,
    **_ORG,
    "First Name": "FirstName",
    "Middle Names": "MiddleNames",
    "Last Name": "LastName",
    "Date of Birth": "DateOfBirth",
    "Title": "Title",
    "Email": "Email",
    "Gender": "Gender",
    "Phone Number": "Phone",
    "Mobile Number": "Mobile",
    "Twitter Username": "TwitterUserName",
    "Job Title": "JobTitle",
    "Classification": "Classification",
    "Termination Date": "TerminationDate",
    "Termination Reason": "TerminationReason",
    "Income Type": "IncomeType",
    "Employment Type": "EmploymentType",
    "Status": "Status",
    "CopyEmployment": UI,
    "Employment Basis": "TaxDeclaration.EmploymentBasis",
    "Start Date": "StartDate",
    "Payroll Calendar": "PayrollCalendarID",
    "Employee Group Name": "EmployeeGroupName",
    "Is Authorised to Approve Leave": "IsAuthorisedToApproveLeave",
    "Is Authorised to Approve Timesheets": "IsAuthorisedToApproveTimesheets",
    "Super Fund": "SuperMemberships[].SuperFundID",
    "Employee Number": "SuperMemberships[].EmployeeNumber",
    "CopyTaxDeclaration": UI,
    "Tax File Number": "TaxDeclaration.TaxFileNumber",
    "TFN Exemption Type": "TaxDeclaration.TFNExemptionType",
    "Residency Status": "TaxDeclaration.ResidencyStatus",
    "Tax Scale Type": "TaxDeclaration.TaxScaleType",
    "Tax Offset Estimated Amount": "TaxDeclaration.TaxOffsetEstimatedAmount",
    "Upward Variation Tax Withholding Amount": "TaxDeclaration.UpwardVariationTaxWithholdingAmount",
    "Approved Withholding Variation Percentage": "TaxDeclaration.ApprovedWithholdingVariationPercentage",
    "CopyBankAccount": UI,
    "Statement Text": "BankAccounts[].StatementText",
    "Account Name": "BankAccounts[].AccountName",
    "BSB Number": "BankAccounts[].BSB",
    "Account Number": "BankAccounts[].AccountNumber",
    "Remainder": "BankAccounts[].Remainder",
    "CopyAddress": UI,
    "Address Line 1": "HomeAddress.AddressLine1",
    "Address Line 2": "HomeAddress.AddressLine2",
    "City/Suburb": "HomeAddress.City",
    "State/Region": "HomeAddress.Region",
    "Postal Code": "HomeAddress.PostalCode",
    "Country": "HomeAddress.Country",
}

_ITEM_FLAGS = {
    **_ORG,
    "Mark Item as a Sales Item?": "IsSold",
    "Mark Item as a Purchase Item?": "IsPurchased",
    "Item Name": "Name",
    "Item Code": "Code",
}

BLOCKS: list[tuple[str, dict[str, str]]] = [
    # ------------------------------------------------------------------ first part of the page
    ("kartra.product.purchased", _PRODUCT),
    ("kartra.calendar.registered", _CALENDAR_TRIGGER),
    ("kartra.product.refunded", _PRODUCT),
    ("kartra.membership.granted", _MEMBERSHIP),
    ("kartra.product.partially_refunded", _PRODUCT),
    ("kartra.subscription.cancelled", _PRODUCT),
    ("kartra.tag.assigned", _TAGS),
    ("kartra.video.played", _VIDEOS),
    ("kartra.external_page.visited", {"Page Category": UI, "Page": "page_id"}),
    ("kartra.lead.tag.assign", {"Tag Category": UI, "Assign a Tag": "tag_name", **_LEAD}),
    (
        "kartra.lead.calendar.subscribe",
        {
            "Calendar": "calendar_name",
            "Calendar Class": "class_name",
            "Starting Date": "starting_date",
            **_LEAD,
        },
    ),
    (
        "kartra.custom_field.create",
        {
            "Custom Field Identifier": "custom_field_identifier",
            "Custom Field Type": "custom_field_type",
            "Custom Field Options": "custom_field_options",
        },
    ),
    ("kartra.lead.update", {**_LEAD, "New Email": "new_email", **_LEAD_FIELDS}),
    (
        "kartra.subscription.status.change",
        {"Subscription ID": "subscription_id", "Subscription Status": "status"},
    ),
    ("kartra.transaction.refund", {"Transaction ID": "transaction_id", "Amount": "amount", **_LEAD}),
    ("kartra.lists.retrieve", {"Retrieve All the Lists in Your Account": UI}),
    ("kartra.sequences.retrieve", {"Retrieve All the Sequences in Your Account": UI}),
    ("kartra.custom_fields.retrieve", {"Retrieve All the Custom Fields in Your Account": UI}),
    (
        "kartra.lead.sequence.subscribe",
        {"Subscribe Lead to Sequence": "sequence_name", "Sequence Step": "step", **_LEAD},
    ),
    ("kartra.lead.list.unsubscribe", {"Unsubscribe Lead From List": "list_name", **_LEAD}),
    (
        "kartra.api.request",
        {
            "Stop on error": "stop_on_error",
            "HTTP Method": "method",
            "URL": "url",
            "Query string parameters": "query",
            "Additional request headers": "headers",
            "Body": "body",
        },
    ),
    ("kartra.subscription.find", {"Subscription ID": "subscription_id"}),
    ("kartra.lead.find", _LEAD),
    ("xero.sales_invoice.overdue", {**_ORG, "Days_overdue": "days_overdue"}),
    (
        "xero.payslip.created",
        {
            "Trigger_info": UI,
            **_ORG,
            "PayRun Status": "pay_run_status",
            "PayRun Period Start Date": "pay_run_period_start_date",
            "PayRun Period End Date": "pay_run_period_end_date",
        },
    ),
    ("xero.purchase_order.status_entered", {**_ORG, "Purchase Order Status": "status"}),
    ("xero.payment.created", {**_ORG, "Payment_type": "payment_type"}),
    (
        "xero.sales_invoice.updated",
        {
            **_ORG,
            "Status": "status",
            "Change": "change",
            "Contact": "contact",
            "Trigger_preference": "trigger_preference",
            "Copy": UI,
        },
    ),
    ("xero.sales_invoice.add_items", {**_ORG, "Invoice": "InvoiceID"}),
    (
        "xero.item.create",
        {
            **_ORG,
            "Item Code": "Code",
            "Name": "Name",
            "Description": "Description",
            "Is Sold": "IsSold",
            "Sales Unit Price": "SalesDetails.UnitPrice",
            "Sales Account": "SalesDetails.AccountCode",
            "Sales Tax Type": "SalesDetails.TaxType",
            "Is Purchased": "IsPurchased",
            "Purchase Description": "PurchaseDescription",
            "Purchase Unit Price": "PurchaseDetails.UnitPrice",
            "Purchase Account": "PurchaseDetails.AccountCode",
            "Purchase Tax Type": "PurchaseDetails.TaxType",
            "Is Tracked": "IsTrackedAsInventory",
            "Inventory Asset Account": "InventoryAssetAccountCode",
            "Cost of Goods Sold Account": "PurchaseDetails.COGSAccountCode",
        },
    ),
    (
        "xero.bank_transaction.create",
        {
            **_ORG,
            "Transaction_type": "Type",
            "Contact": "Contact",
            "Bank Account": "BankAccount",
            "Date": "Date",
        },
    ),
    ("xero.contact.upsert", _CONTACT),
    ("xero.quote.create", _QUOTE),
    (
        "xero.credit_note.allocation.delete",
        {
            **_ORG,
            "Warning_message": UI,
            "Credit Note ID": "CreditNoteID",
            "Allocation ID": "AllocationID",
        },
    ),
    ("xero.payroll_au.employee.create", _EMPLOYEE),
    (
        "xero.bill.create",
        {
            **_ORG,
            "Contact_name": "Contact.Name",
            "Email_address": "Contact.EmailAddress",
            **_INVOICE,
            "Reference": "Reference",
            **_LINE_ITEMS,
        },
    ),
    (
        "xero.payment.create",
        {
            **_ORG,
            "Document Type": "Invoice | CreditNote",
            "Document ID or Number": (
                "Invoice.InvoiceID | Invoice.InvoiceNumber"
                " | CreditNote.CreditNoteID | CreditNote.CreditNoteNumber"
            ),
            "Paid To": "Account",
            "Date": "Date",
            "Currency_rate": "CurrencyRate",
            "Amount": "Amount",
            "Reference": "Reference",
        },
    ),
    (
        "xero.purchase_order.create",
        {
            **_ORG,
            "Contact (supplier)": "Contact",
            "Date": "Date",
            "Delivery_date": "DeliveryDate",
            "Order Number": "PurchaseOrderNumber",
            "Reference": "Reference",
            "Theme": "BrandingThemeID",
            "Currency": "CurrencyCode",
            "Tax_type": "LineAmountTypes",
            "Delivery_address": "DeliveryAddress",
            "Attention": "AttentionTo",
            "Telephone": "Telephone",
            "Delivery_instructions": "DeliveryInstructions",
            "Attachments": "Attachments[].ContentBase64",
            "Purchase Order Status": "Status",
        },
    ),
    ("xero.payroll_au.employee.update", {**_EMPLOYEE, "Employee": "EmployeeID"}),
    ("xero.quote.update", {**_QUOTE, "Quote ID": "QuoteID", "Status": "Status"}),
    ("xero.attachment.upload", {**_ORG, "Resource type": "ResourceType", "File": "ContentBase64"}),
    ("xero.item.find", _SEARCH_BY_CODE_OR_NAME),
    ("xero.contact.find", {**_ORG, "Email": "EmailAddress"}),
    ("xero.organisation.find", _ORG),
    ("xero.invoice.find", {**_ORG, "Invoice ID": "InvoiceID"}),
    ("xero.quote.find", _SEARCH_BY_NUMBER_OR_ID),
    ("xero.contact.find_or_create", {**_CONTACT, "Search_by": "SearchBy"}),
    # ------------------------------------------------------------------ second part of the page
    ("kartra.tag.unassigned", _TAGS),
    ("kartra.calendar.completed", _CALENDAR_TRIGGER),
    ("kartra.calendar.cancelled", _CALENDAR_TRIGGER),
    ("kartra.membership.revoked", _MEMBERSHIP),
    ("kartra.split_test_link.clicked", {"Page Split Test Link": "split_test_link_id", "Version": "version"}),
    (
        "kartra.tracking_link.clicked",
        {"Tracking Link Category": UI, "Tracking Links": "tracking_link_id"},
    ),
    ("kartra.video.completed", _VIDEOS),
    ("kartra.page.visited", {"Kartra Page Website": UI, "Page": "page_id"}),
    ("kartra.lead.calendar.cancel", {"Calendar": "calendar_name", "Calendar Class": "class_name", **_LEAD}),
    (
        "kartra.subscription.cancel",
        {"Subscription ID": "subscription_id", "Transaction ID": "transaction_id", **_LEAD},
    ),
    ("kartra.lead.create", {"Email": "email", **_LEAD_FIELDS}),
    (
        "kartra.subscription.update",
        {
            "Subscription ID": "subscription_id",
            "Product Funnels": UI,
            "Product": "product_id",
            "Product Price Point": "price_point",
            "Next Payment Date": "next_payment_date",
            "Amount": "amount",
            "Recurrence": "recurring_period_1 | recurring_period_2",
            "Quantity": "quantity",
            "Installments Left": "installments_left",
        },
    ),
    ("kartra.lead.points.give", {"Add Points to a Lead": "points", **_LEAD}),
    ("kartra.lead.points.remove", {"Remove Points From a Lead": "points", **_LEAD}),
    ("kartra.pages.retrieve", {"Retrieve All the Pages in Your Account": UI}),
    ("kartra.tags.retrieve", {"Retrieve All the Tags in Your Account": UI}),
    ("kartra.lead.list.subscribe", {"Subscribe Lead to List": "list_name", **_LEAD}),
    ("kartra.lead.tag.unassign", {"Tag Category": UI, "Unassign a Tag": "tag_name", **_LEAD}),
    ("kartra.lead.sequence.unsubscribe", {"Unsubscribe Lead From Sequence": "sequence_name", **_LEAD}),
    ("kartra.lead_details.find", {"Lead Details": UI, **_LEAD}),
    ("kartra.transaction.find", {"Transaction ID": "transaction_id"}),
    ("kartra.lead.find_or_create", {**_LEAD, **_LEAD_FIELDS}),
    ("xero.bank_transaction.created", {**_ORG, "Status": "status", "Type": "type"}),
    ("xero.report.updated", {**_ORG, "Report Type": "report_type"}),
    ("xero.payment.reconciled", {**_ORG, "Payment_type": "payment_type"}),
    ("xero.project.created", {**_ORG, "Project State": "state"}),
    ("xero.quote.created", {**_ORG, "Quote Status": "status"}),
    ("xero.sales_invoice.created", {**_ORG, "Status": "status"}),
    ("xero.sales_invoice.note.add", {**_ORG, "Invoice ID": "InvoiceID", "Note": "Note"}),
    (
        "xero.credit_note.allocate",
        {**_ORG, "Credit Note ID": "CreditNoteID", "Invoice ID": "InvoiceID", "Amount": "Amount"},
    ),
    (
        "xero.bank_transfer.create",
        {
            **_ORG,
            "From Account": "FromBankAccount",
            "To Account": "ToBankAccount",
            "Amount": "Amount",
            "Date": "Date",
        },
    ),
    ("xero.account.create", {**_ORG, "Code": "Code", "Name": "Name", "Type": "Type"}),
    ("xero.credit_note.create", {**_ORG, "Type": "Type", "Contact": "Contact", "Date": "Date"}),
    ("xero.sales_invoice.email", {**_ORG, "Invoice ID": "InvoiceID"}),
    ("xero.item.upsert", _ITEM_FLAGS),
    (
        "xero.sales_invoice.create",
        {
            **_ORG,
            "Contact_name": "Contact.Name",
            "Email_address": "Contact.EmailAddress",
            "Contact_account_number": "Contact.AccountNumber",
            "Primary Person - First Name": "Contact.FirstName",
            "Primary Person - Last Name": "Contact.LastName",
            **_phones("Contact."),
            **_address("Contact.", "Contact Address Type"),
            "Contact_tax_number": "Contact.TaxNumber",
            "Bank Account Number": "Contact.BankAccountDetails",
            "Contact Number": "Contact.ContactNumber",
            **_INVOICE,
            "Number": "InvoiceNumber",
            "Reference": "Reference",
            "Sent_to_contact": "SentToContact",
            **_LINE_ITEMS,
            "Discount %": "LineItems[].DiscountRate",
            "Discount Amount": "LineItems[].DiscountAmount",
        },
    ),
    (
        "xero.project.create",
        {
            **_ORG,
            "Contact": "contactId",
            "Project Name": "name",
            "Deadline for the project": "deadlineUtc",
            "Project Estimate": "estimateAmount",
        },
    ),
    (
        "xero.repeating_invoice.create",
        {
            **_ORG,
            "Contact": "Contact",
            "Repeated Invoice Schedule": UI,
            "Invoice Creation: Frequency Type": "Schedule.Unit",
            "Invoice Creation: Frequency (Period)": "Schedule.Period",
            "Due Date Type: Payment Terms": "Schedule.DueDateType",
            "Set Due Dates (Days)": "Schedule.DueDate",
            "Start Date:": "Schedule.StartDate",
            "End Date": "Schedule.EndDate",
            "Status": "Status",
            "Currency": "CurrencyCode",
            "Branding_theme": "BrandingThemeID",
            "Reference": "Reference",
            "Mark as approved for sending?": "ApprovedForSending",
            "Email a copy to Sender?": "SendCopy",
            "Include PDF": "IncludePDF",
            "Line Amount Types": "LineAmountTypes",
        },
    ),
    (
        "xero.purchase_order.update",
        {
            **_ORG,
            "Purchase Order": "PurchaseOrderID",
            "Contact": "Contact",
            "Update Method for Line Items": "LineItemsUpdateMethod",
            "Date": "Date",
            "Delivery_date": "DeliveryDate",
            "Line Amount Types": "LineAmountTypes",
            "Purchase Order Number": "PurchaseOrderNumber",
            "Reference": "Reference",
            "Branding Theme": "BrandingThemeID",
            "Currency": "CurrencyCode",
            "Status": "Status",
            "Sent to Contact": "SentToContact",
            "Delivery Address": "DeliveryAddress",
            "Attention To": "AttentionTo",
            "Telephone": "Telephone",
            "Delivery Instructions": "DeliveryInstructions",
            "Expected_arrival_date": "ExpectedArrivalDate",
        },
    ),
    (
        "xero.sales_invoice.update",
        {
            "Info": UI,
            **_ORG,
            "Invoice_id": "InvoiceID",
            "Contact": "Contact",
            "Status": "Status",
            "Date": "Date",
            "Due_date": "DueDate",
            "Expected_payment_date": "ExpectedPaymentDate",
            "Reference": "Reference",
            "Branding_theme": "BrandingThemeID",
            "Url": "Url",
            "Currency": "CurrencyCode",
            "Sent_to_contact": "SentToContact",
            "Attachments": "Attachments[].ContentBase64",
            "Invoice_number": "InvoiceNumber",
            "Line_amount_types": "LineAmountTypes",
        },
    ),
    (
        "xero.api_request",
        {
            "Stop on error": "StopOnError",
            "HTTP Method": "Method",
            "URL": "URL",
            "Query string parameters": "Query",
            "Additional request headers": "Headers",
            "Body": "Body",
        },
    ),
    ("xero.purchase_order.find", _SEARCH_BY_NUMBER_OR_ID),
    (
        "xero.invoice.find",
        {
            **_ORG,
            "Invoice ID": "InvoiceID",
            "Include PDF File": "IncludePDF",
            "Include Online Invoice URL": "IncludeOnlineInvoiceUrl",
        },
    ),
    ("xero.contact.find", {**_ORG, "Contact ID": "ContactID"}),
    (
        "xero.invoice.find",
        {
            **_ORG,
            "Search_by": "InvoiceNumber | Reference | InvoiceID",
            "Include Online Invoice URL": "IncludeOnlineInvoiceUrl",
        },
    ),
    ("xero.account.find", _SEARCH_BY_CODE_OR_NAME),
    ("xero.item.find_or_create", {**_ITEM_FLAGS, "Search_by": "Code"}),
]
"""(catalog key, {form label → place in the input model}) for every block, in the page's order."""


def alternatives(target: str) -> list[str]:
    """The model paths a target names (none for ``CONNECTION`` and ``UI``)."""
    if target in (CONNECTION, UI):
        return []
    return [part.strip() for part in target.split("|")]


def resolve(model: type[BaseModel], path: str) -> FieldInfo | None:
    """The model field a dotted path names, through nested models and lists of models; ``[...]``
    qualifiers are ignored. None when any step is not a declared field (an untyped dict or an
    undeclared extra does not count)."""
    current: type[BaseModel] | None = model
    info: FieldInfo | None = None
    for segment in path.split("."):
        name = segment.split("[", 1)[0]
        if current is None or name not in current.model_fields:
            return None
        info = current.model_fields[name]
        current = _nested_model(info.annotation)
    return info


def _nested_model(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in get_args(annotation):
        if arg is type(None):
            continue
        found = _nested_model(arg)
        if found is not None:
            return found
    return None


NOT_YET: dict[tuple[str, str], str] = {}
"""Seed fields known not to be declared yet, with why: the guard test fails when one not listed
here is missing, and when one listed here is declared (so the list only shrinks)."""
