"""Hydration of thin webhook events: fetch the resources (batched through the list endpoints'
``IDs`` filter), decide which triggers they fire, and publish one event per trigger and
connection. Runs after the webhook was answered, under the scheduler at hydration priority."""

from __future__ import annotations

from collections import defaultdict
from typing import Any, Protocol

from kxflow_contracts.catalog import CATALOG
from kxflow_contracts.envelope import CloudEvent
from kxflow_contracts.events.base import Origin
from kxflow_contracts.runtime.dedupe import SeenKeys
from xero_gateway.adapters.publisher import Publisher
from xero_gateway.adapters.repositories import Repositories
from xero_gateway.adapters.xero_api import XeroApi, XeroUnavailable
from xero_gateway.domain.actions import full_path
from xero_gateway.domain.budget import Priority
from xero_gateway.domain.invoice_changes import Stored, observe
from xero_gateway.domain.webhooks import (
    CATEGORY_COLLECTION,
    RECONCILE_TRIGGER,
    WebhookEvent,
    change_key,
    event_id,
    triggers_for,
)

PAYLOAD_FIELD = {"INVOICE": "invoice", "CONTACT": "contact", "CREDITNOTE": "credit_note"}
ID_FIELD = {"Invoices": "InvoiceID", "Contacts": "ContactID", "CreditNotes": "CreditNoteID"}
UPDATED_INVOICE = "xero.sales_invoice.updated"


class SnapshotStore(Protocol):
    """The last versions of each sales invoice seen (``adapters.invoice_snapshots``)."""

    async def get(self, tenant: str, connection_id: str, invoice_id: str) -> Stored | None: ...

    async def put(self, tenant: str, connection_id: str, invoice_id: str, stored: Stored) -> None: ...


class Hydrator:
    def __init__(
        self,
        api: XeroApi,
        repos: Repositories,
        seen: SeenKeys,
        publisher: Publisher,
        snapshots: SnapshotStore | None = None,
    ) -> None:
        self.api = api
        self.repos = repos
        self.seen = seen
        self.publisher = publisher
        self.snapshots = snapshots

    async def invoice_changed(self, tenant: str, connection_id: str, invoice: dict[str, Any]) -> list[str]:
        """What this version of a sales invoice changed since the one seen before (and remember it).
        Every sighting of a sales invoice goes through here — created, updated, reconciled, overdue,
        backfilled — so the next update has something to compare with."""
        invoice_id = str(invoice.get("InvoiceID") or "")
        if self.snapshots is None or not invoice_id:
            return []
        stored = await self.snapshots.get(tenant, connection_id, invoice_id)
        changed, now = observe(stored, invoice)
        if now is not stored:
            await self.snapshots.put(tenant, connection_id, invoice_id, now)
        return changed

    async def handle(self, events: list[WebhookEvent]) -> int:
        fresh: list[WebhookEvent] = []
        for e in events:
            if await self.seen.first_time(e.dedupe_key):
                fresh.append(e)
        try:
            return await self._hydrate(fresh)
        except BaseException:
            for e in fresh:  # not durable: let the redelivery try again
                await self.seen.forget(e.dedupe_key)
            raise

    async def _hydrate(self, events: list[WebhookEvent]) -> int:
        groups: dict[tuple[str, str], list[WebhookEvent]] = defaultdict(list)
        for e in events:
            groups[(e.tenant_id, e.category)].append(e)
        published = 0
        for (xero_tenant, category), group in groups.items():
            connections = await self.repos.by_xero_tenant(xero_tenant)
            active = [c for c in connections if c.status == "active"]
            if not active:
                continue
            collection = CATEGORY_COLLECTION[category]
            ids = sorted({e.resource_id.lower() for e in group})
            res = await self.api.call(
                active[0],
                "GET",
                full_path(f"/{collection}"),
                params={"IDs": ",".join(ids)},
                priority=Priority.hydration,
            )
            if res.status_code >= 500 or res.status_code == 429:
                raise XeroUnavailable(f"hydration answered {res.status_code}")
            if res.status_code >= 400:
                continue
            by_id = {str(r[ID_FIELD[collection]]).lower(): r for r in res.json().get(collection) or []}
            for e in group:
                resource = by_id.get(e.resource_id.lower())
                if resource is None:
                    continue
                for key in triggers_for(category, e.event_type, resource):
                    for conn in active:
                        await self.publish(
                            conn.tenant,
                            conn.connection_id,
                            xero_tenant,
                            key,
                            PAYLOAD_FIELD[category],
                            resource,
                            Origin.webhook,
                            e.dedupe_key,
                            e.resource_id,
                        )
                        published += 1
                for conn in active:  # the reconciliation poll must not emit this change again
                    if category in RECONCILE_TRIGGER:
                        await self.seen.first_time(
                            change_key(
                                conn.tenant,
                                conn.connection_id,
                                RECONCILE_TRIGGER[category],
                                e.resource_id,
                                str(resource.get("UpdatedDateUTC")),
                            )
                        )
        return published

    async def publish(
        self,
        tenant: str,
        connection_id: str,
        xero_tenant: str,
        trigger: str,
        field: str,
        resource: dict[str, Any],
        origin: Origin,
        change_key: str,
        resource_id: str,
        extra: dict[str, Any] | None = None,
    ) -> None:
        if field == "invoice" and resource.get("Type") == "ACCREC":
            changed = await self.invoice_changed(tenant, connection_id, resource)
            if trigger == UPDATED_INVOICE:
                extra = {**(extra or {}), "changed": changed}
        entry = CATALOG.get(trigger)
        data = entry.output_model.model_validate(
            {
                "connection_id": connection_id,
                "origin": origin.value,
                "xero_tenant_id": xero_tenant,
                "occurred_at": resource.get("UpdatedDateUTCString"),
                field: resource,
                **(extra or {}),
            }
        )
        event = CloudEvent(
            id=event_id(tenant, connection_id, trigger, change_key),
            source=f"/xero-gateway/{connection_id}",
            type=entry.ce_type,
            subject=resource_id,
            tenant=tenant,
            data=data,
        )
        await self.publisher.event(event, f"{tenant}:{xero_tenant}:{resource_id}")
