"""DESIGN.md §4's example zap, verbatim, as the tests' shared fixture data (one copy)."""

from __future__ import annotations

from typing import Any

DESIGN_EXAMPLE: dict[str, Any] = {
    "name": "Kartra purchase → Xero invoice and payment",
    "trigger": {
        "app": "kartra",
        "event": "kartra.product.purchased",
        "connection": "kartra-main",
        "params": {"product_id": "123"},
    },
    "filter": {"any": [{"all": [{"field": "trigger.transaction.amount", "op": "gt", "value": 0}]}]},
    "steps": [
        {
            "id": "contact",
            "action": "xero.contact.find_or_create",
            "connection": "xero-acme-au",
            "input": {
                "Name": "{{ trigger.lead.first_name }} {{ trigger.lead.last_name }}",
                "EmailAddress": "{{ trigger.lead.email }}",
            },
        },
        {
            "id": "invoice",
            "action": "xero.sales_invoice.create",
            "input": {
                "Contact": {"ContactID": "{{ steps.contact.ContactID }}"},
                "Status": "AUTHORISED",
                "LineItems": [
                    {
                        "Description": "{{ trigger.product.name }}",
                        "Quantity": 1,
                        "UnitAmount": "{{ trigger.transaction.amount }}",
                        "AccountCode": "200",
                    }
                ],
            },
        },
        {
            "id": "paid",
            "action": "xero.payment.create",
            "input": {
                "Invoice": {"InvoiceID": "{{ steps.invoice.InvoiceID }}"},
                "Account": {"Code": "090"},
                "Amount": "{{ trigger.transaction.amount }}",
                "Date": "{{ trigger.time | date('%Y-%m-%d') }}",
            },
        },
    ],
}
