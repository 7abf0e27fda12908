"""The last versions of each sales invoice the gateway saw (``invoice_snapshots``), so Updated
Sales Invoice can say what changed. One small document per (tenant, connection, invoice): the
compared fields only, each value capped (``domain.invoice_changes``); documents not seen for the
retention period are purged, so the collection stays bounded."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection

from xero_gateway.domain.invoice_changes import Stored


def _id(tenant: str, connection_id: str, invoice_id: str) -> str:
    return f"{tenant}/{connection_id}/{invoice_id.lower()}"


class InvoiceSnapshots:
    def __init__(self, collection: AsyncCollection[Any]) -> None:
        self._col = collection

    async def get(self, tenant: str, connection_id: str, invoice_id: str) -> Stored | None:
        doc = await self._col.find_one({"_id": _id(tenant, connection_id, invoice_id)})
        if doc is None:
            return None
        return Stored(str(doc.get("version") or ""), dict(doc.get("current") or {}), doc.get("previous"))

    async def put(self, tenant: str, connection_id: str, invoice_id: str, stored: Stored) -> None:
        await self._col.replace_one(
            {"_id": _id(tenant, connection_id, invoice_id)},
            {
                "tenant": tenant,
                "connection_id": connection_id,
                "version": stored.version,
                "current": stored.current,
                "previous": stored.previous,
                "seen_at": datetime.now(UTC),
            },
            upsert=True,
        )

    async def purge(self, older_than: timedelta, now: datetime) -> int:
        """Forget invoices not seen for ``older_than`` (the retention task calls it)."""
        res = await self._col.delete_many({"seen_at": {"$lt": now - older_than}})
        return res.deleted_count
