"""The sandbox's organisations and their records, with Xero's encodings.

Dates go out in the .NET form ``/Date(ms+0000)/`` (plus ``DateString`` / ``UpdatedDateUTCString``
helpers); request dates are accepted as ``YYYY-MM-DD``, ISO-8601 or ``/Date(ms)/``.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

_MSDATE = re.compile(r"^/Date\((-?\d+)([+-]\d{4})?\)/$")


def ms_date(dt: datetime) -> str:
    return f"/Date({int(dt.timestamp() * 1000)}+0000)/"


def parse_date(value: Any) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    text = str(value)
    m = _MSDATE.match(text)
    if m:
        return datetime.fromtimestamp(int(m.group(1)) / 1000, UTC)
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        parsed = datetime.combine(date.fromisoformat(text[:10]), datetime.min.time())
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def now() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    return str(uuid.uuid4())


@dataclass(frozen=True)
class Resource:
    """One accounting collection: its id field, its document number and what it computes."""

    collection: str
    id_field: str
    number_field: str | None = None
    number_prefix: str = ""
    default_status: str | None = None
    has_lines: bool = False
    webhook_category: str | None = None
    date_fields: tuple[str, ...] = ("Date", "DueDate")


RESOURCES: dict[str, Resource] = {
    r.collection: r
    for r in (
        Resource(
            "Invoices",
            "InvoiceID",
            "InvoiceNumber",
            "INV-",
            "DRAFT",
            True,
            "INVOICE",
            date_fields=("Date", "DueDate", "ExpectedPaymentDate"),
        ),
        Resource("Contacts", "ContactID", webhook_category="CONTACT", date_fields=()),
        Resource("Payments", "PaymentID", default_status="AUTHORISED"),
        Resource("Items", "ItemID", date_fields=()),
        Resource("CreditNotes", "CreditNoteID", "CreditNoteNumber", "CN-", "DRAFT", True, "CREDITNOTE"),
        Resource(
            "Quotes", "QuoteID", "QuoteNumber", "QU-", "DRAFT", True, date_fields=("Date", "ExpiryDate")
        ),
        Resource(
            "PurchaseOrders",
            "PurchaseOrderID",
            "PurchaseOrderNumber",
            "PO-",
            "DRAFT",
            True,
            date_fields=("Date", "DeliveryDate", "ExpectedArrivalDate"),
        ),
        Resource("BankTransactions", "BankTransactionID", default_status="AUTHORISED", has_lines=True),
        Resource("BankTransfers", "BankTransferID", default_status="AUTHORISED"),
        Resource("Accounts", "AccountID", default_status="ACTIVE", date_fields=()),
        Resource(
            "RepeatingInvoices", "RepeatingInvoiceID", default_status="DRAFT", has_lines=True, date_fields=()
        ),
        Resource("ContactGroups", "ContactGroupID", default_status="ACTIVE", date_fields=()),
    )
}


@dataclass
class Org:
    tenant_id: str
    name: str
    country: str = "AU"
    records: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    counters: dict[str, int] = field(default_factory=dict)
    history: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    attachments: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    emails_sent: list[str] = field(default_factory=list)
    employees: dict[str, dict[str, Any]] = field(default_factory=dict)
    pay_runs: dict[str, dict[str, Any]] = field(default_factory=dict)
    projects: dict[str, dict[str, Any]] = field(default_factory=dict)
    created_by: dict[str, str] = field(default_factory=dict)  # record id → the app that created it

    def coll(self, name: str) -> dict[str, dict[str, Any]]:
        return self.records.setdefault(name, {})

    def next_number(self, prefix: str) -> str:
        self.counters[prefix] = self.counters.get(prefix, 0) + 1
        return f"{prefix}{self.counters[prefix]:04d}"

    def organisation(self) -> dict[str, Any]:
        return {
            "OrganisationID": self.tenant_id,
            "Name": self.name,
            "LegalName": self.name,
            "BaseCurrency": "AUD" if self.country == "AU" else "NZD",
            "CountryCode": self.country,
            "Timezone": "AUSEASTERNSTANDARDTIME",
            "OrganisationType": "COMPANY",
            "Class": "DEMO",
            "IsDemoCompany": True,
            "ShortCode": "!" + self.tenant_id[:5],
            "Version": self.country,
        }


DEFAULT_ACCOUNTS = [
    {"Code": "090", "Name": "Business Bank Account", "Type": "BANK", "BankAccountNumber": "032000123"},
    {"Code": "091", "Name": "Business Savings Account", "Type": "BANK", "BankAccountNumber": "032000456"},
    {"Code": "200", "Name": "Sales", "Type": "REVENUE", "TaxType": "OUTPUT"},
    {"Code": "310", "Name": "Cost of Goods Sold", "Type": "DIRECTCOSTS", "TaxType": "INPUT"},
    {"Code": "400", "Name": "Advertising", "Type": "EXPENSE", "TaxType": "INPUT"},
    {"Code": "630", "Name": "Inventory", "Type": "INVENTORY", "TaxType": "BASEXCLUDED"},
    {"Code": "880", "Name": "Owner Drawings", "Type": "EQUITY", "EnablePaymentsToAccount": True},
]


def seed_org(org: Org) -> None:
    for account in DEFAULT_ACCOUNTS:
        account_id = new_id()
        org.coll("Accounts")[account_id] = {
            "AccountID": account_id,
            "Status": "ACTIVE",
            "Class": "ASSET" if account["Type"] == "BANK" else "REVENUE",
            "EnablePaymentsToAccount": False,
            "UpdatedDateUTC": ms_date(now()),
            **account,
        }
    calendar_id = new_id()
    org.counters["payroll_calendar"] = 1
    org.records["PayrollCalendars"] = {
        calendar_id: {"PayrollCalendarID": calendar_id, "Name": "Weekly", "CalendarType": "WEEKLY"}
    }
