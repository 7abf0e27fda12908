"""A small, self-contained catalog for the router's tests, its benchmark and local demos.

The router takes its catalog as a dependency; these entries mirror the shape of the real Kartra
purchase trigger and Xero contact/invoice/payment actions, so the router can be proven on its own
while the gateways own the real entries.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from kxflow_contracts.catalog import Catalog, CatalogEntry, Kind, OpenModel
from kxflow_contracts.events import TriggerEvent


class Lead(OpenModel):
    id: str | None = None
    email: str | None = None
    first_name: str | None = None
    last_name: str | None = None


class Product(OpenModel):
    id: str
    name: str = ""


class Transaction(OpenModel):
    id: str | None = None
    amount: float = 0.0
    currency: str = "USD"


class Purchase(TriggerEvent):
    lead: Lead
    product: Product
    transaction: Transaction


class ContactInput(BaseModel):
    model_config = ConfigDict(extra="forbid")
    Name: str = Field(min_length=1)
    EmailAddress: str | None = None


class ContactRef(BaseModel):
    ContactID: str


class LineItem(BaseModel):
    Description: str
    Quantity: float = 1
    UnitAmount: float
    AccountCode: str | None = None


class InvoiceInput(BaseModel):
    model_config = ConfigDict(extra="forbid")
    Contact: ContactRef
    LineItems: list[LineItem] = Field(min_length=1)
    Status: str = "DRAFT"
    Reference: str | None = None


class PaymentInput(BaseModel):
    model_config = ConfigDict(extra="forbid")
    Invoice: dict[str, Any]
    Account: dict[str, Any]
    Amount: float
    Date: str


class FindContactInput(BaseModel):
    model_config = ConfigDict(extra="forbid")
    EmailAddress: str


class TagInput(BaseModel):
    model_config = ConfigDict(extra="forbid")
    lead_email: str
    tag: str


class Out(OpenModel):
    pass


def demo_catalog() -> Catalog:
    catalog = Catalog()
    catalog.register(
        CatalogEntry(
            "kartra.product.purchased",
            "kartra",
            Kind.trigger,
            "Product purchased",
            "A lead bought a product",
            Purchase,
            Purchase,
            {},
            param_fields={"product_id": "product.id"},
        ),
        CatalogEntry(
            "kartra.lead.tag.assign",
            "kartra",
            Kind.action,
            "Assign tag",
            "Tag a lead",
            TagInput,
            Out,
            {"status": "Success"},
            writes=True,
        ),
        CatalogEntry(
            "xero.contact.find_or_create",
            "xero",
            Kind.action,
            "Find or create contact",
            "",
            ContactInput,
            Out,
            {"ContactID": "example-contact"},
            writes=True,
        ),
        CatalogEntry(
            "xero.contact.find",
            "xero",
            Kind.search,
            "Find contact",
            "",
            FindContactInput,
            Out,
            {"ContactID": "example-contact"},
        ),
        CatalogEntry(
            "xero.sales_invoice.create",
            "xero",
            Kind.action,
            "Create sales invoice",
            "",
            InvoiceInput,
            Out,
            {"InvoiceID": "example-invoice"},
            writes=True,
        ),
        CatalogEntry(
            "xero.payment.create",
            "xero",
            Kind.action,
            "Create payment",
            "",
            PaymentInput,
            Out,
            {"PaymentID": "example-payment"},
            writes=True,
        ),
    )
    return catalog


def purchase_event(
    *, connection_id: str, product_id: str = "123", amount: float = 49.0, email: str = "ada@example.com"
) -> dict[str, Any]:
    """Data of a ``kartra.product.purchased`` event as the demo catalog models it."""
    return {
        "connection_id": connection_id,
        "origin": "webhook",
        "lead": {"id": "L1", "email": email, "first_name": "Ada", "last_name": "Lovelace"},
        "product": {"id": product_id, "name": "Analytical Engine course"},
        "transaction": {"id": "T1", "amount": amount, "currency": "USD"},
    }
