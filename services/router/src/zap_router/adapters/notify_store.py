"""Notification rules and items in MongoDB.

An item is one (rule, notice) pair, ``_id = "{rule_id}:{notice key}"``: inserting it is the
deduplication (a redelivered run event, or the same event seen by two replicas, inserts nothing).
Items go ``pending`` → ``claimed`` (by one flush, with a token) → ``sent``; a rule's
``last_sent_at`` is advanced by a compare-and-set before a flush, so replicas never send a rule's
items twice nor faster than the rate cap.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from bson.codec_options import CodecOptions
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError

DUPLICATE_KEY = 11000


class NotifyStore:
    def __init__(self, db: AsyncDatabase) -> None:
        db = db.with_options(codec_options=CodecOptions(tz_aware=True, tzinfo=UTC))  # times compared
        self.rules = db["notify_rules"]
        self.items = db["notify_items"]

    # rules -------------------------------------------------------------------------------------
    async def create_rule(self, tenant: str, spec: dict[str, Any], now: datetime) -> dict[str, Any]:
        doc = {"_id": "nr_" + uuid.uuid4().hex[:20], "tenant": tenant, **spec, "created_at": now}
        doc["last_sent_at"] = None
        await self.rules.insert_one(doc)
        return doc

    async def list_rules(self, tenant: str | None = None) -> list[dict[str, Any]]:
        query = {} if tenant is None else {"tenant": tenant}
        return await self.rules.find(query).sort("created_at", 1).to_list(None)

    async def delete_rule(self, tenant: str, rule_id: str) -> bool:
        doc = await self.rules.find_one({"_id": rule_id})
        if doc is None or doc["tenant"] != tenant:
            return False
        await self.rules.delete_one({"_id": rule_id})
        return True

    async def take_send_slot(self, rule_id: str, last_sent: datetime | None, now: datetime) -> bool:
        """Compare-and-set ``last_sent_at``: only one replica wins a rule's flush."""
        result = await self.rules.update_one(
            {"_id": rule_id, "last_sent_at": last_sent}, {"$set": {"last_sent_at": now}}
        )
        return result.modified_count == 1

    # items -------------------------------------------------------------------------------------
    async def add_items(self, docs: list[dict[str, Any]]) -> int:
        """Insert items; those that exist already are the duplicates. How many were new."""
        if not docs:
            return 0
        try:
            await self.items.insert_many(docs, ordered=False)
            return len(docs)
        except BulkWriteError as exc:
            errors = exc.details.get("writeErrors", [])
            other = [e for e in errors if e.get("code") != DUPLICATE_KEY]
            if other:
                raise
            return len(docs) - len(errors)

    async def pending(self) -> list[dict[str, Any]]:
        projection = {"rule_id": 1, "created_at": 1}
        return await self.items.find({"state": "pending"}, projection).to_list(None)

    async def claim(self, rule_id: str, now: datetime) -> tuple[str, list[dict[str, Any]]]:
        token = uuid.uuid4().hex
        await self.items.update_many(
            {"rule_id": rule_id, "state": "pending"},
            {"$set": {"state": "claimed", "claim": token, "claimed_at": now}},
        )
        found = await self.items.find({"claim": token}).sort("created_at", 1).to_list(None)
        return token, found

    async def finish(self, token: str, sent: bool, now: datetime) -> None:
        update = {"state": "sent", "sent_at": now} if sent else {"state": "pending", "claim": None}
        await self.items.update_many({"claim": token}, {"$set": update})

    async def release_stale(self, before: datetime) -> int:
        """Claims left by a replica that died mid-flush go back to pending."""
        result = await self.items.update_many(
            {"state": "claimed", "claimed_at": {"$lt": before}}, {"$set": {"state": "pending", "claim": None}}
        )
        return result.modified_count

    async def purge_sent(self, before: datetime) -> int:
        return (await self.items.delete_many({"state": "sent", "sent_at": {"$lt": before}})).deleted_count

    async def count(self, query: dict[str, Any]) -> int:
        return await self.items.count_documents(query)
