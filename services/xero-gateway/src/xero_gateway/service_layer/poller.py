"""Polling triggers (resources Xero sends no webhook for) and the reconciliation poll.

One lease per (connection, resource) in MongoDB, so exactly one replica polls it; one poll per
resource feeds every trigger on it (the router matches trigger parameters); the interval comes
from the organisation's daily budget (``domain.budget.poll_interval``). Cursors (the highest
``UpdatedDateUTC`` seen) and per-change dedupe keys live in MongoDB and survive restarts.
"""

from __future__ import annotations

import asyncio
import logging
import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from kxflow_contracts.events.base import Origin
from kxflow_contracts.runtime.dedupe import SeenKeys
from xero_gateway.adapters.repositories import Connection, Repositories
from xero_gateway.domain import msdate
from xero_gateway.domain.actions import full_path
from xero_gateway.domain.budget import Priority, poll_interval
from xero_gateway.domain.clock import Clock
from xero_gateway.domain.webhooks import change_key

if TYPE_CHECKING:
    from xero_gateway.adapters.xero_api import XeroApi
    from xero_gateway.service_layer.hydrator import Hydrator
    from xero_gateway.settings import XeroGatewaySettings

log = logging.getLogger("xero_gateway.poller")
OVERLAP = timedelta(minutes=2)


@dataclass(frozen=True)
class PollSpec:
    name: str
    collection: str
    id_field: str
    field: str
    triggers: tuple[tuple[str, tuple[str, ...]], ...]
    """(trigger key, resource fields whose values make a change new) per trigger."""
    priority: Priority = Priority.polling
    origin: Origin = Origin.poll
    params: tuple[tuple[str, str], ...] = ()


POLLS = (
    PollSpec(
        "payments",
        "Payments",
        "PaymentID",
        "payment",
        (("xero.payment.created", ()), ("xero.payment.reconciled", ("IsReconciled",))),
    ),
    PollSpec(
        "purchase_orders",
        "PurchaseOrders",
        "PurchaseOrderID",
        "purchase_order",
        (("xero.purchase_order.status_entered", ("Status",)),),
    ),
    PollSpec("quotes", "Quotes", "QuoteID", "quote", (("xero.quote.created", ("Status",)),)),
    PollSpec(
        "bank_transactions",
        "BankTransactions",
        "BankTransactionID",
        "bank_transaction",
        (("xero.bank_transaction.created", ()),),
    ),
    PollSpec(
        "invoices_reconcile",
        "Invoices",
        "InvoiceID",
        "invoice",
        (("xero.sales_invoice.updated", ("UpdatedDateUTC",)),),
        Priority.reconcile,
        Origin.reconcile,
    ),
    PollSpec(
        "contacts_reconcile",
        "Contacts",
        "ContactID",
        "contact",
        (("xero.contact.updated", ("UpdatedDateUTC",)),),
        Priority.reconcile,
        Origin.reconcile,
    ),
)


class Poller:
    def __init__(
        self,
        api: XeroApi,
        repos: Repositories,
        seen: SeenKeys,
        hydrator: Hydrator,
        settings: XeroGatewaySettings,
        clock: Clock,
    ) -> None:
        self.api = api
        self.repos = repos
        self.seen = seen
        self.hydrator = hydrator
        self.settings = settings
        self.clock = clock
        self.owner = f"{os.getpid()}-{id(self)}"
        self.polls_done = 0

    def interval(self, conn: Connection) -> timedelta:
        seconds = poll_interval(
            conn.daily_limit or self.settings.per_day,
            len(POLLS),
            self.settings.poll_budget_share,
            self.settings.poll_min_interval_seconds,
        )
        return timedelta(seconds=self.clock.real(seconds))

    async def run(self) -> None:
        while True:
            try:
                await self.tick()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("poll tick failed")
            await asyncio.sleep(self.settings.poll_tick_seconds)

    async def tick(self) -> int:
        done = 0
        for conn in await self.repos.list():
            if conn.status != "active":
                continue
            for spec in POLLS:
                if spec.origin is Origin.reconcile and not self.settings.reconcile_enabled:
                    continue
                key = f"{conn.tenant}/{conn.connection_id}/{spec.name}"
                now = datetime.now(UTC)
                if not await self.repos.take_poll_lease(key, self.owner, now, now, 300):
                    continue
                cursor = await self.repos.cursor(key)
                try:
                    watermark = await self.poll(conn, spec, cursor.get("watermark"))
                finally:
                    await self.repos.finish_poll(
                        key,
                        self.owner,
                        datetime.now(UTC) + self.interval(conn),
                        **({"watermark": watermark} if watermark else {}),
                    )
                done += 1
        self.polls_done += done
        return done

    async def poll(self, conn: Connection, spec: PollSpec, watermark: str | None) -> str | None:
        headers = {}
        if watermark:
            since = (msdate.parse(watermark) or datetime.now(UTC)) - OVERLAP
            headers["If-Modified-Since"] = msdate.http_date(since)
        best = msdate.parse(watermark) if watermark else None
        page = 1
        while True:
            params = {"page": str(page), **dict(spec.params)}
            if spec.collection != "Quotes":
                params["pageSize"] = "100"
            res = await self.api.call(
                conn,
                "GET",
                full_path(f"/{spec.collection}"),
                params=params,
                headers=headers,
                priority=spec.priority,
            )
            if res.status_code != 200:
                return watermark
            items: list[dict[str, Any]] = res.json().get(spec.collection) or []
            for item in items:
                await self._emit(conn, spec, item)
                updated = msdate.parse(item.get("UpdatedDateUTC"))
                if updated and (best is None or updated > best):
                    best = updated
            if len(items) < 100:
                break
            page += 1
        return msdate.to_msdate(best) if best else watermark

    async def _emit(self, conn: Connection, spec: PollSpec, item: dict[str, Any]) -> None:
        rid = str(item.get(spec.id_field, "")).lower()
        for trigger, change_fields in spec.triggers:
            if trigger == "xero.payment.reconciled" and not item.get("IsReconciled"):
                continue
            if (
                spec.origin is Origin.reconcile
                and trigger.startswith("xero.sales_invoice")
                and item.get("Type") != "ACCREC"
            ):
                continue
            change = "|".join(str(item.get(f)) for f in change_fields)
            key = change_key(conn.tenant, conn.connection_id, trigger, rid, change)
            if not await self.seen.first_time(key):
                continue
            try:
                await self.hydrator.publish(
                    conn.tenant,
                    conn.connection_id,
                    conn.xero_tenant_id,
                    trigger,
                    spec.field,
                    item,
                    spec.origin,
                    key,
                    rid,
                )
            except BaseException:
                await self.seen.forget(key)
                raise
