"""The table of Xero actions: one row per simple action (method, path, how the input becomes the
body, where the output is in the answer). Composite actions (find-or-create, add items, find
invoice with extras, searches, API request) name a ``composite`` the executor implements once.

Everything here is pure: building a request from an input, and reading an output from an answer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from xero_gateway.domain.ids import path_segment
from xero_gateway.domain.msdate import to_msdate

ACCOUNTING = "/api.xro/2.0"
PAYROLL_AU = "/payroll.xro/1.0"
PROJECTS = "/projects.xro/2.0"

Wrap = Literal["collection", "array", "object", "none"]


@dataclass(frozen=True)
class ActionSpec:
    key: str
    method: str = "PUT"
    path: str = ""
    collection: str | None = None
    wrap: Wrap = "collection"
    fixed: dict[str, Any] = field(default_factory=dict)
    path_fields: tuple[str, ...] = ()
    summarize_errors: bool = True
    transform: Callable[[dict[str, Any]], Any] | None = None
    output: Literal["first", "object", "empty"] = "first"
    composite: str | None = None
    local_fields: tuple[str, ...] = ()
    """Input fields that steer the gateway (a search key, an update method, follow-up calls) and are
    never sent in the body."""

    @property
    def writes(self) -> bool:
        return self.method in ("PUT", "POST", "PATCH", "DELETE") and self.composite is None


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    params: dict[str, str]
    json_body: Any = None
    content: bytes | None = None
    content_type: str | None = None
    accept: str = "application/json"
    write: bool = False


def _note(inp: dict[str, Any]) -> Any:
    return {"HistoryRecords": [{"Details": inp["Note"]}]}


def _allocation(inp: dict[str, Any]) -> Any:
    return {
        "Allocations": [
            {"Invoice": {"InvoiceID": inp["InvoiceID"]}, "Amount": inp["Amount"], "Date": inp["Date"]}
        ]
    }


def _employee(inp: dict[str, Any]) -> Any:
    body = dict(inp)
    for name in ("DateOfBirth", "StartDate", "TerminationDate"):
        if body.get(name):
            body[name] = to_msdate(body[name])
    return [body]


_FILES = ("Attachments",)
"""An action's ``Attachments``: uploaded after its write (``attachment_request``), never in its body."""

ATTACHED_TO = {"Invoices": "InvoiceID", "PurchaseOrders": "PurchaseOrderID"}
"""Collection a write's output is in → the id its attachments are uploaded to."""


def attachment_request(
    resource_type: str, resource_id: str, file_name: str, content: bytes, include_online: bool = False
) -> Request:
    """``PUT /{Resource}/{id}/Attachments/{FileName}`` with the raw bytes."""
    return Request(
        "PUT",
        full_path(
            f"/{resource_type}/{path_segment(resource_id, 'the record id')}"
            f"/Attachments/{path_segment(file_name, 'FileName')}"
        ),
        {"IncludeOnline": "true"} if include_online else {},
        content=content,
        # the OpenAPI document only accepts octet-stream bodies (Xero sniffs the real type)
        content_type="application/octet-stream",
        write=True,
    )


SPECS: dict[str, ActionSpec] = {
    s.key: s
    for s in (
        ActionSpec(
            "xero.sales_invoice.create",
            "PUT",
            "/Invoices",
            "Invoices",
            fixed={"Type": "ACCREC"},
            local_fields=_FILES,
        ),
        ActionSpec(
            "xero.bill.create", "PUT", "/Invoices", "Invoices", fixed={"Type": "ACCPAY"}, local_fields=_FILES
        ),
        ActionSpec(
            "xero.sales_invoice.update", "POST", "/Invoices/{InvoiceID}", "Invoices", local_fields=_FILES
        ),
        ActionSpec("xero.sales_invoice.add_items", composite="add_items", collection="Invoices"),
        ActionSpec(
            "xero.sales_invoice.note.add",
            "PUT",
            "/Invoices/{InvoiceID}/History",
            "HistoryRecords",
            path_fields=("InvoiceID",),
            transform=_note,
            summarize_errors=False,
        ),
        ActionSpec(
            "xero.sales_invoice.email",
            "POST",
            "/Invoices/{InvoiceID}/Email",
            None,
            wrap="object",
            path_fields=("InvoiceID",),
            transform=lambda _: {},
            output="empty",
            summarize_errors=False,
        ),
        ActionSpec("xero.item.create", "PUT", "/Items", "Items"),
        ActionSpec("xero.item.upsert", "POST", "/Items", "Items"),
        ActionSpec("xero.item.find_or_create", composite="item_find_or_create", collection="Items"),
        ActionSpec("xero.bank_transaction.create", "PUT", "/BankTransactions", "BankTransactions"),
        ActionSpec("xero.contact.upsert", composite="contact_upsert", collection="Contacts"),
        ActionSpec("xero.contact.find_or_create", composite="contact_find_or_create", collection="Contacts"),
        ActionSpec("xero.quote.create", "PUT", "/Quotes", "Quotes"),
        ActionSpec("xero.quote.update", "POST", "/Quotes/{QuoteID}", "Quotes"),
        ActionSpec("xero.credit_note.create", "PUT", "/CreditNotes", "CreditNotes"),
        ActionSpec(
            "xero.credit_note.allocate",
            "PUT",
            "/CreditNotes/{CreditNoteID}/Allocations",
            "Allocations",
            path_fields=("CreditNoteID",),
            transform=_allocation,
        ),
        ActionSpec(
            "xero.credit_note.allocation.delete",
            "DELETE",
            "/CreditNotes/{CreditNoteID}/Allocations/{AllocationID}",
            None,
            wrap="none",
            path_fields=("CreditNoteID", "AllocationID"),
            output="object",
            summarize_errors=False,
        ),
        ActionSpec("xero.payment.create", "PUT", "/Payments", "Payments"),
        ActionSpec(
            "xero.purchase_order.create", "PUT", "/PurchaseOrders", "PurchaseOrders", local_fields=_FILES
        ),
        ActionSpec(
            "xero.purchase_order.update", composite="purchase_order_update", collection="PurchaseOrders"
        ),
        ActionSpec(
            "xero.bank_transfer.create", "PUT", "/BankTransfers", "BankTransfers", summarize_errors=False
        ),
        ActionSpec(
            "xero.account.create", "PUT", "/Accounts", "Accounts", wrap="object", summarize_errors=False
        ),
        ActionSpec("xero.repeating_invoice.create", "PUT", "/RepeatingInvoices", "RepeatingInvoices"),
        ActionSpec("xero.attachment.upload", composite="attachment_upload", collection="Attachments"),
        ActionSpec(
            "xero.payroll_au.employee.create",
            "POST",
            PAYROLL_AU + "/Employees",
            "Employees",
            wrap="array",
            transform=_employee,
            summarize_errors=False,
        ),
        ActionSpec("xero.payroll_au.employee.update", composite="employee_update", collection="Employees"),
        ActionSpec(
            "xero.project.create",
            "POST",
            PROJECTS + "/Projects",
            None,
            wrap="object",
            output="object",
            summarize_errors=False,
        ),
        ActionSpec("xero.api_request", composite="api_request"),
        ActionSpec("xero.contact.find", composite="contact_find", collection="Contacts"),
        ActionSpec("xero.invoice.find", composite="invoice_find", collection="Invoices"),
        ActionSpec("xero.item.find", composite="item_find", collection="Items"),
        ActionSpec("xero.organisation.find", "GET", "/Organisation", "Organisations", wrap="none"),
        ActionSpec("xero.quote.find", composite="quote_find", collection="Quotes"),
        ActionSpec("xero.purchase_order.find", composite="purchase_order_find", collection="PurchaseOrders"),
        ActionSpec("xero.account.find", composite="account_find", collection="Accounts"),
    )
}


CONTACT_FIELDS_LOCAL = ("ContactGroups", "SearchBy")
CONTACT_UPSERT = ActionSpec(
    "xero.contact.upsert", "POST", "/Contacts", "Contacts", local_fields=CONTACT_FIELDS_LOCAL
)
CONTACT_CREATE = ActionSpec(
    "xero.contact.find_or_create", "PUT", "/Contacts", "Contacts", local_fields=CONTACT_FIELDS_LOCAL
)
PURCHASE_ORDER_UPDATE = ActionSpec(
    "xero.purchase_order.update",
    "POST",
    "/PurchaseOrders/{PurchaseOrderID}",
    "PurchaseOrders",
    local_fields=("LineItemsUpdateMethod",),
)
KEPT_LINE_FIELDS = (
    "LineItemID",
    "Description",
    "Quantity",
    "UnitAmount",
    "AccountCode",
    "ItemCode",
    "TaxType",
    "DiscountRate",
    "Tracking",
)
"""What an existing line keeps when lines are added to a document (Xero recomputes the rest)."""


def kept_lines(document: dict[str, Any]) -> list[dict[str, Any]]:
    """A document's existing lines as an update sends them back to keep them."""
    return [
        {k: v for k, v in line.items() if k in KEPT_LINE_FIELDS} for line in document.get("LineItems") or []
    ]


def contact_group_find(name: str) -> tuple[str, dict[str, str]]:
    """The lookup of a contact group by its name (path, params)."""
    return "/ContactGroups", {"where": where_equals("Name", name)}


def contact_group_create(name: str) -> Request:
    return Request(
        "PUT", full_path("/ContactGroups"), {}, json_body={"ContactGroups": [{"Name": name}]}, write=True
    )


def contact_group_add(group_id: str, contact_id: str) -> Request:
    """Adding a contact to a group: Xero's separate call (the contact's own body cannot do it)."""
    return Request(
        "PUT",
        full_path(f"/ContactGroups/{path_segment(group_id, 'ContactGroupID')}/Contacts"),
        {},
        json_body={"Contacts": [{"ContactID": contact_id}]},
        write=True,
    )


EMPLOYEE_UPDATE = ActionSpec(
    "xero.payroll_au.employee.update",
    "POST",
    PAYROLL_AU + "/Employees/{EmployeeID}",
    "Employees",
    wrap="array",
    path_fields=("EmployeeID",),
    transform=_employee,
    summarize_errors=False,
)
EMPLOYEE_REQUIRED = ("FirstName", "LastName", "DateOfBirth")
"""Payroll AU's update body is a whole Employee: the document requires these even on update."""


def full_path(path: str) -> str:
    """Paths in the table are relative to the Accounting API unless they name another API."""
    return path if path.startswith(("/payroll.xro", "/projects.xro", "/files.xro")) else ACCOUNTING + path


def build_request(spec: ActionSpec, data: dict[str, Any]) -> Request:
    """The HTTP request of a simple action from its validated input (``exclude_none`` dump)."""
    path = full_path(spec.path.format(**{k: path_segment(data.get(k, ""), k) for k in _fields(spec.path)}))
    sent = {k: v for k, v in data.items() if k not in spec.local_fields}
    body_src = {k: v for k, v in sent.items() if k not in spec.path_fields}
    if spec.path_fields == () and "{" in spec.path:
        # update actions keep their id in the body too (Xero accepts and expects it)
        body_src = sent
    body: Any
    if spec.transform is not None:
        body = spec.transform(body_src)
    elif spec.method in ("GET", "DELETE"):
        body = None
    else:
        element = {**body_src, **spec.fixed}
        body = {spec.collection: [element]} if spec.wrap == "collection" else element
        if spec.wrap == "array":
            body = [element]
    params = {"summarizeErrors": "true"} if spec.summarize_errors and spec.method in ("PUT", "POST") else {}
    return Request(spec.method, path, params, json_body=body, write=spec.method in ("PUT", "POST", "PATCH"))


def _fields(template: str) -> list[str]:
    import string

    return [name for _, name, _, _ in string.Formatter().parse(template) if name]


def read_output(spec: ActionSpec, body: Any, data: dict[str, Any] | None = None) -> dict[str, Any] | None:
    """The action's output from Xero's answer (None: nothing there → ``not_found`` for searches).
    An empty answer (204) echoes the ids the request named."""
    if spec.output == "empty":
        return {k: (data or {}).get(k) for k in spec.path_fields}
    if spec.output == "object" or spec.collection is None:
        return body if isinstance(body, dict) else None
    items = body.get(spec.collection) if isinstance(body, dict) else None
    return items[0] if items else None


def where_equals(field_name: str, value: str) -> str:
    escaped = value.replace('"', '\\"')
    return f'{field_name}!=null&&{field_name}=="{escaped}"'
