"""Xero webhook batches: parsing, the dedupe key, and which trigger an event can become."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

CATEGORY_COLLECTION = {"INVOICE": "Invoices", "CONTACT": "Contacts", "CREDITNOTE": "CreditNotes"}


@dataclass(frozen=True)
class WebhookEvent:
    tenant_id: str
    category: str
    resource_id: str
    event_type: str
    event_date_utc: str
    data: dict[str, Any] | None = None

    @property
    def dedupe_key(self) -> str:
        """(tenantId, category, resourceId, eventType, eventDateUtc): a later update of the same
        resource is a new event; a redelivery of this one is not."""
        raw = "|".join(
            (self.tenant_id, self.category, self.resource_id.lower(), self.event_type, self.event_date_utc)
        )
        return "wh:" + hashlib.sha256(raw.encode()).hexdigest()


def parse_batch(payload: dict[str, Any]) -> list[WebhookEvent]:
    """The batch's organisation events; entries that are not well-formed Xero events are skipped."""
    out = []
    events = payload.get("events")
    for e in events if isinstance(events, list) else []:
        if not isinstance(e, dict) or not all(
            isinstance(e.get(k), str) for k in ("tenantId", "resourceId", "eventType", "eventDateUtc")
        ):
            continue
        if e.get("tenantType", "ORGANISATION") != "ORGANISATION":
            continue
        if e.get("eventCategory") not in CATEGORY_COLLECTION:
            continue
        out.append(
            WebhookEvent(
                e["tenantId"],
                e["eventCategory"],
                e["resourceId"],
                e["eventType"],
                e["eventDateUtc"],
                e["data"] if isinstance(e.get("data"), dict) else None,
            )
        )
    return out


def triggers_for(category: str, event_type: str, resource: dict[str, Any]) -> list[str]:
    """Catalog trigger keys a hydrated resource fires."""
    created = event_type == "CREATE"
    if category == "INVOICE":
        if resource.get("Type") == "ACCREC":
            return ["xero.sales_invoice.created" if created else "xero.sales_invoice.updated"]
        if resource.get("Type") == "ACCPAY" and created:
            return ["xero.bill.created"]
        return []
    if category == "CONTACT":
        return ["xero.contact.created" if created else "xero.contact.updated"]
    if category == "CREDITNOTE" and created:
        return ["xero.credit_note.created"]
    return []


def event_id(*parts: str) -> str:
    """Deterministic ``ce_id`` from what identifies the upstream change."""
    return hashlib.sha256("|".join(parts).encode()).hexdigest()


def change_key(tenant: str, connection_id: str, trigger: str, resource_id: str, change: str) -> str:
    """Dedupe key of one observed change of a resource (polls and reconciliation)."""
    return f"poll:{tenant}:{connection_id}:{trigger}:{resource_id.lower()}:{change}"


RECONCILE_TRIGGER = {"INVOICE": "xero.sales_invoice.updated", "CONTACT": "xero.contact.updated"}
