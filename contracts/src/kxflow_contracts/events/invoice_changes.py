"""Updated Sales Invoice's Change choices (a leaf module: the gateway's pure domain imports it
without building the catalog)."""

from __future__ import annotations

from typing import Literal, get_args

InvoiceChange = Literal[
    "Status",
    "Contact",
    "Total",
    "AmountDue",
    "AmountPaid",
    "AmountCredited",
    "Date",
    "DueDate",
    "Reference",
    "InvoiceNumber",
    "LineItems",
    "CurrencyCode",
    "SentToContact",
    "ExpectedPaymentDate",
    "PlannedPaymentDate",
    "BrandingThemeID",
]
INVOICE_CHANGES: tuple[str, ...] = get_args(InvoiceChange)
"""The invoice fields whose change Updated Sales Invoice reports (``Contact``: its ContactID;
``LineItems``: any line added, removed or edited)."""

__all__ = ["INVOICE_CHANGES", "InvoiceChange"]
