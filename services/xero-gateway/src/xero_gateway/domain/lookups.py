"""Looking a write's record up in Xero instead of trusting an expired Idempotency-Key (issue 4).

For a keyed write, :func:`policy_for` says what may happen once its outcome is unknown and Xero may
have forgotten the key (``domain.write_attempts``), and :func:`lookup_for` builds the search for
the record the write would have created (``shared/reference/xero.md`` §4.1: by ``Reference``,
``InvoiceNumber``, ``Code`` or ``createdByMyApp=true``, narrowed with ``If-Modified-Since`` at the
first send minus a margin), with the content match that decides whether a record found is the
one that write made:

* ``PUT /Invoices`` (sales invoices, bills): ``where`` Type, Contact.ContactID, Reference;
  ``InvoiceNumbers``; ``createdByMyApp=true``; paged. Match: Type, Contact, Reference, number,
  dates, currency, LineItems (description, quantity, unit amount, codes).
* ``PUT /CreditNotes``, ``PUT /BankTransactions``: ``where`` Type, Contact, Reference; paged; the
  same match (+ BankAccount).
* ``PUT /Quotes``: ``ContactID``, ``QuoteNumber``; ``PUT /PurchaseOrders``: no filter but
  ``If-Modified-Since`` (the endpoint has no ``where``); the same match (+ Title, expiry/delivery).
* ``PUT /Payments``: ``where`` Invoice (or CreditNote) id / number. Match: Amount, Account, Date.
* ``PUT /BankTransfers``: ``If-Modified-Since``. Match: both accounts, Amount, Date, Reference.
* ``PUT /Contacts``: ``where`` Name (unique in Xero). ``PUT /Items``, ``PUT /Accounts``: ``where``
  Code (unique).
* ``PUT /Invoices/{id}/History``: the invoice's history, notes dated after the first send, same
  Details. ``PUT …/{id}/Attachments/{name}``: the attachments, same FileName and size.

Every search but the last two sends ``If-Modified-Since`` = first send − margin.

Writes that set a state (``POST /X/{id}`` updates, ``POST /Contacts`` and ``POST /Items`` upserts
by their unique name or code, ``POST /Employees/{id}``) are :attr:`Policy.repeatable`; every other
write (e-mailing an invoice, allocating a credit note, repeating invoices, Payroll AU employees,
projects, API Request, add items to an invoice) has :attr:`Policy.none`.

Everything here is pure: the service layer sends the GETs and keeps the matching records.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from xero_gateway.domain import msdate
from xero_gateway.domain.actions import ACCOUNTING, PAYROLL_AU, Request, where_equals
from xero_gateway.domain.write_attempts import Policy

MAX_PAGES = 10
PAGE_SIZE = 100  # Xero's page (the default ``pageSize``)
_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")

Doc = dict[str, Any]


@dataclass(frozen=True)
class Lookup:
    """One search for the record a write would have created."""

    what: str
    collection: str  # the envelope key of the GET's answer (and of the write's answer)
    path: str  # full path of the GET
    params: dict[str, str]
    element: Doc  # what the write sent
    matches: Callable[[Doc, Doc], bool]  # (sent, found)
    id_field: str | None = None
    modified_since: bool = True
    paged: bool = False
    time_field: str | None = None  # records without If-Modified-Since: keep those dated after
    extra: dict[str, Any] = field(default_factory=dict)

    def id_of(self, doc: Doc) -> str | None:
        if self.id_field:
            value = doc.get(self.id_field)
            return str(value).lower() if value else None
        # History records have no id: the time and the text name one
        return f"{doc.get(self.time_field or 'DateUTC')}|{doc.get('Details')}"

    def candidates(self, found: list[Doc], since: datetime) -> list[Doc]:
        out = [d for d in found if isinstance(d, dict) and self.matches(self.element, d)]
        if self.time_field:
            out = [d for d in out if (_when(d.get(self.time_field)) or since) >= since]
        return out


# -- comparing what was sent with what Xero holds ------------------------------------------------


def _text(value: Any) -> str:
    return str(value if value is not None else "").strip()


def _same_text(sent: Any, found: Any) -> bool:
    return _text(sent) == _text(found)


def _same_name(sent: Any, found: Any) -> bool:
    return _text(sent).casefold() == _text(found).casefold()


def _same_id(sent: Any, found: Any) -> bool:
    return _text(sent).lower() == _text(found).lower()


def _same_number(sent: Any, found: Any, places: int = 4) -> bool:
    try:
        return round(float(sent), places) == round(float(found), places)
    except (TypeError, ValueError):
        return False


def _when(value: Any) -> datetime | None:
    return msdate.parse(value) if isinstance(value, str) else None


def _day(value: Any) -> date | None:
    if not isinstance(value, str) or not value:
        return None
    parsed = msdate.parse(value)
    if parsed is not None:
        return parsed.date()
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None


def _same_day(sent: Any, found: Any) -> bool:
    return _day(sent) is not None and _day(sent) == _day(found)


def _same_ref(sent: Any, found: Any, id_field: str, other: tuple[str, ...] = ()) -> bool:
    """A reference to another record (Contact, Account, Invoice): by id, else by its other keys."""
    if not isinstance(sent, dict):
        return sent is None
    found = found if isinstance(found, dict) else {}
    if sent.get(id_field):
        return _same_id(sent[id_field], found.get(id_field))
    given = [k for k in other if sent.get(k)]
    return bool(given) and all(_same_name(sent[k], found.get(k)) for k in given)


def _same_contact(sent: Doc, found: Doc) -> bool:
    return _same_ref(sent.get("Contact"), found.get("Contact"), "ContactID", ("Name",))


def _same_account(sent: Any, found: Any) -> bool:
    return _same_ref(sent, found, "AccountID", ("Code",))


_LINE_TEXT = ("Description", "ItemCode", "AccountCode", "TaxType")
_LINE_NUMBERS = ("Quantity", "UnitAmount", "DiscountRate")


def _same_lines(sent: Doc, found: Doc) -> bool:
    mine = sent.get("LineItems") or []
    theirs = found.get("LineItems") or []
    if len(mine) != len(theirs):
        return False
    for a, b in zip(mine, theirs, strict=True):
        if any(k in a and not _same_text(a[k], b.get(k)) for k in _LINE_TEXT):
            return False
        if any(k in a and not _same_number(a[k], b.get(k)) for k in _LINE_NUMBERS):
            return False
    return True


def _given(
    sent: Doc,
    found: Doc,
    text: tuple[str, ...] = (),
    days: tuple[str, ...] = (),
    numbers: tuple[str, ...] = (),
) -> bool:
    """Every field the write gave has the same value in the record (fields it left out are
    Xero's to fill in, so they are not compared)."""
    return (
        all(_same_text(sent[k], found.get(k)) for k in text if sent.get(k) is not None)
        and all(_same_day(sent[k], found.get(k)) for k in days if sent.get(k))
        and all(_same_number(sent[k], found.get(k), 2) for k in numbers if sent.get(k) is not None)
    )


def _opt(name: str | None) -> tuple[str, ...]:
    return (name,) if name else ()


def _document(number_field: str | None, extra_text: tuple[str, ...] = (), extra_days: tuple[str, ...] = ()):
    def matches(sent: Doc, found: Doc) -> bool:
        return (
            _same_contact(sent, found)
            and _given(
                sent,
                found,
                text=(
                    "Type",
                    "Reference",
                    "CurrencyCode",
                    "LineAmountTypes",
                    *_opt(number_field),
                    *extra_text,
                ),
                days=("Date", "DueDate", *extra_days),
            )
            and _same_lines(sent, found)
        )

    return matches


def _payment(sent: Doc, found: Doc) -> bool:
    if sent.get("Invoice"):
        target = _same_ref(sent["Invoice"], found.get("Invoice"), "InvoiceID", ("InvoiceNumber",))
    else:
        target = _same_ref(
            sent.get("CreditNote"), found.get("CreditNote"), "CreditNoteID", ("CreditNoteNumber",)
        )
    return (
        target
        and _same_account(sent.get("Account"), found.get("Account"))
        and _given(sent, found, text=("Reference",), days=("Date",), numbers=("Amount",))
    )


def _transfer(sent: Doc, found: Doc) -> bool:
    return (
        _same_account(sent.get("FromBankAccount"), found.get("FromBankAccount"))
        and _same_account(sent.get("ToBankAccount"), found.get("ToBankAccount"))
        and _given(sent, found, text=("Reference",), days=("Date",), numbers=("Amount",))
    )


def _contact(sent: Doc, found: Doc) -> bool:
    email = sent.get("EmailAddress")
    return _same_name(sent.get("Name"), found.get("Name")) and (
        not email or _same_name(email, found.get("EmailAddress"))
    )


def _coded(sent: Doc, found: Doc) -> bool:
    return _same_text(sent.get("Code"), found.get("Code")) and (
        not sent.get("Name") or _same_text(sent.get("Name"), found.get("Name"))
    )


def _note(sent: Doc, found: Doc) -> bool:
    return _same_text(sent.get("Details"), found.get("Details"))


def _attachment(sent: Doc, found: Doc) -> bool:
    return _same_text(sent.get("FileName"), found.get("FileName")) and _same_number(
        sent.get("ContentLength"), found.get("ContentLength"), 0
    )


# -- building the searches ------------------------------------------------------------------------


def _eq(field_name: str, value: str) -> str:
    escaped = str(value).replace('"', '\\"')
    return f'{field_name}=="{escaped}"'


def _guid(field_name: str, value: Any) -> str | None:
    text = _text(value)
    return f'{field_name}==Guid("{text}")' if _GUID.match(text) else None


def _where(*clauses: str | None) -> dict[str, str]:
    kept = [c for c in clauses if c]
    return {"where": "&&".join(kept)} if kept else {}


def _contact_clause(element: Doc) -> str | None:
    contact = element.get("Contact")
    return _guid("Contact.ContactID", contact.get("ContactID")) if isinstance(contact, dict) else None


def _reference_clause(element: Doc) -> str | None:
    return where_equals("Reference", element["Reference"]) if element.get("Reference") else None


def _element(body: Any, collection: str) -> Doc | None:
    """The one element a write sent (``{"Invoices": [element]}`` or the element itself)."""
    if isinstance(body, dict) and isinstance(body.get(collection), list):
        items = body[collection]
        return items[0] if len(items) == 1 and isinstance(items[0], dict) else None
    return body if isinstance(body, dict) and collection not in body else None


def _accounting_parts(path: str) -> list[str] | None:
    prefix = ACCOUNTING + "/"
    if not path.startswith(prefix):
        return None
    return [p for p in path[len(prefix) :].split("/") if p]


def lookup_for(req: Request) -> Lookup | None:
    """The search for the record a keyed write creates; None when there is none."""
    if req.method != "PUT":
        return None
    parts = _accounting_parts(req.path)
    if not parts:
        return None
    if len(parts) == 4 and parts[2] == "Attachments" and req.content is not None:
        sent = {"FileName": parts[3], "ContentLength": len(req.content)}
        path = f"{ACCOUNTING}/{parts[0]}/{parts[1]}/Attachments"
        return Lookup("attachment", "Attachments", path, {}, sent, _attachment, "AttachmentID", False)
    if len(parts) == 3 and parts[0] == "Invoices" and parts[2] == "History":
        sent = _element(req.json_body, "HistoryRecords")
        if sent is None:
            return None
        return Lookup(
            "invoice note", "HistoryRecords", req.path, {}, sent, _note, None, False, time_field="DateUTC"
        )
    if len(parts) != 1:
        return None
    head = parts[0]
    sent = _element(req.json_body, head)
    if sent is None:
        return None
    full = f"{ACCOUNTING}/{head}"
    if head == "Invoices":
        params = {"createdByMyApp": "true"}
        if sent.get("InvoiceNumber"):
            params["InvoiceNumbers"] = str(sent["InvoiceNumber"])
        params |= _where(
            _eq("Type", sent["Type"]) if sent.get("Type") else None,
            _contact_clause(sent),
            _reference_clause(sent),
        )
        what = "bill" if sent.get("Type") == "ACCPAY" else "sales invoice"
        return Lookup(what, head, full, params, sent, _document("InvoiceNumber"), "InvoiceID", paged=True)
    if head == "CreditNotes":
        params = _where(
            _eq("Type", sent["Type"]) if sent.get("Type") else None,
            _contact_clause(sent),
            _reference_clause(sent),
        )
        return Lookup(
            "credit note", head, full, params, sent, _document("CreditNoteNumber"), "CreditNoteID", paged=True
        )
    if head == "Quotes":
        params = {}
        contact = sent.get("Contact") or {}
        if _GUID.match(_text(contact.get("ContactID"))):
            params["ContactID"] = _text(contact["ContactID"])
        if sent.get("QuoteNumber"):
            params["QuoteNumber"] = str(sent["QuoteNumber"])
        matches = _document("QuoteNumber", ("Title",), ("ExpiryDate",))
        return Lookup("quote", head, full, params, sent, matches, "QuoteID", paged=True)
    if head == "PurchaseOrders":
        matches = _document("PurchaseOrderNumber", extra_days=("DeliveryDate",))
        return Lookup("purchase order", head, full, {}, sent, matches, "PurchaseOrderID", paged=True)
    if head == "BankTransactions":
        params = _where(
            _eq("Type", sent["Type"]) if sent.get("Type") else None,
            _contact_clause(sent),
            _reference_clause(sent),
        )

        def bank_matches(s: Doc, f: Doc) -> bool:
            return _document(None)(s, f) and _same_account(s.get("BankAccount"), f.get("BankAccount"))

        return Lookup(
            "bank transaction", head, full, params, sent, bank_matches, "BankTransactionID", paged=True
        )
    if head == "Payments":
        if sent.get("Invoice"):
            ref, id_field, number_field = sent["Invoice"], "Invoice.InvoiceID", "Invoice.InvoiceNumber"
            number = ref.get("InvoiceNumber") if isinstance(ref, dict) else None
        else:
            ref, id_field, number_field = (
                sent.get("CreditNote"),
                "CreditNote.CreditNoteID",
                "CreditNote.CreditNoteNumber",
            )
            number = ref.get("CreditNoteNumber") if isinstance(ref, dict) else None
        if not isinstance(ref, dict):
            return None
        key_id = id_field.rsplit(".", 1)[1]
        clause = _guid(id_field, ref.get(key_id)) or (_eq(number_field, number) if number else None)
        if clause is None:
            return None
        return Lookup("payment", head, full, _where(clause), sent, _payment, "PaymentID", paged=True)
    if head == "BankTransfers":
        return Lookup("bank transfer", head, full, {}, sent, _transfer, "BankTransferID")
    if head == "Contacts" and sent.get("Name"):
        params = {"page": "1"} | _where(where_equals("Name", sent["Name"]))
        return Lookup("contact", head, full, params, sent, _contact, "ContactID")
    if head == "Items" and sent.get("Code"):
        return Lookup("item", head, full, _where(where_equals("Code", sent["Code"])), sent, _coded, "ItemID")
    if head == "Accounts" and sent.get("Code"):
        return Lookup(
            "account", head, full, _where(where_equals("Code", sent["Code"])), sent, _coded, "AccountID"
        )
    return None


def policy_for(req: Request) -> Policy:
    """What a keyed write allows once its outcome is unknown past Xero's window."""
    if lookup_for(req) is not None:
        return Policy.lookup
    if req.method == "POST":
        parts = _accounting_parts(req.path)
        if parts is not None and (len(parts) == 2 or (len(parts) == 1 and parts[0] in ("Contacts", "Items"))):
            return Policy.repeatable  # update by id, or upsert by the unique name / code
        payroll = PAYROLL_AU + "/Employees/"
        if req.path.startswith(payroll) and "/" not in req.path[len(payroll) :]:
            return Policy.repeatable  # Payroll AU's update is the whole employee
    return Policy.none


def created_id(lookup: Lookup | None, body: Any) -> str | None:
    """The id of the record a write's 2xx answer names (for claims)."""
    if lookup is None or not isinstance(body, dict):
        return None
    items = body.get(lookup.collection)
    if isinstance(items, list) and items and isinstance(items[0], dict):
        return lookup.id_of(items[0])
    return None
