"""Zaps in MongoDB: a head document per zap plus one immutable document per version.

The head carries ``revision``, bumped by every change (new version, enable, disable, delete); it is
the optimistic-concurrency token of the API and orders changelog records against store reloads.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING, IndexModel, ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase


class ZapStore:
    def __init__(self, db: AsyncDatabase) -> None:
        self._heads: AsyncCollection = db["zaps"]
        self._versions: AsyncCollection = db["zap_versions"]
        self._drafts: AsyncCollection = db["zap_drafts"]  # at most one per zap: ``_id`` is the zap id

    async def ensure_indexes(self) -> None:
        await self._heads.create_indexes([IndexModel([("tenant", ASCENDING), ("updated_at", DESCENDING)])])
        await self._versions.create_indexes(
            [IndexModel([("zap_id", ASCENDING), ("version", ASCENDING)], unique=True)]
        )
        await self._drafts.create_indexes([IndexModel([("tenant", ASCENDING)])])

    async def insert(self, head: dict[str, Any], version: dict[str, Any]) -> None:
        await self._versions.insert_one(version)
        await self._heads.insert_one(head)

    async def insert_many(self, heads: list[dict[str, Any]], versions: list[dict[str, Any]]) -> None:
        for i in range(0, len(heads), 1000):
            await self._versions.insert_many(versions[i : i + 1000], ordered=False)
            await self._heads.insert_many(heads[i : i + 1000], ordered=False)

    async def add_version(
        self, zap_id: str, expect_revision: int, version: dict[str, Any], head_set: dict[str, Any]
    ) -> dict[str, Any] | None:
        """Store a new version and move the head to it; ``None`` if the head changed meanwhile."""
        await self._versions.insert_one(version)
        updated = await self.update_head(zap_id, expect_revision, head_set)
        if updated is None:
            await self._versions.delete_one({"_id": version["_id"]})
        return updated

    async def update_head(
        self, zap_id: str, expect_revision: int, head_set: dict[str, Any]
    ) -> dict[str, Any] | None:
        return await self._heads.find_one_and_update(
            {"_id": zap_id, "revision": expect_revision},
            {"$set": head_set, "$inc": {"revision": 1}},
            return_document=ReturnDocument.AFTER,
        )

    async def head(self, zap_id: str, tenant: str | None = None) -> dict[str, Any] | None:
        query: dict[str, Any] = {"_id": zap_id, "deleted": False}
        if tenant is not None:
            query["tenant"] = tenant
        return await self._heads.find_one(query)

    async def version(self, zap_id: str, version: int) -> dict[str, Any] | None:
        return await self._versions.find_one({"_id": version_id(zap_id, version)})

    async def versions(self, zap_id: str) -> list[dict[str, Any]]:
        return await self._versions.find({"zap_id": zap_id}).sort("version", ASCENDING).to_list(None)

    async def list(self, tenant: str) -> list[dict[str, Any]]:
        cursor = self._heads.find({"tenant": tenant, "deleted": False}).sort("updated_at", DESCENDING)
        return await cursor.to_list(None)

    async def all_heads(self) -> list[dict[str, Any]]:
        """Every head (enabled or not, deleted included): the index reconciles revisions with them."""
        projection = {"_id": 1, "tenant": 1, "version": 1, "revision": 1, "enabled": 1, "deleted": 1}
        return await self._heads.find({}, projection).to_list(None)

    async def versions_by_ids(self, ids: list[str]) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for i in range(0, len(ids), 1000):
            async for doc in self._versions.find({"_id": {"$in": ids[i : i + 1000]}}):
                out[doc["_id"]] = doc
        return out

    async def set_disabled_reason(self, zap_id: str, reason: str, at: datetime) -> dict[str, Any] | None:
        return await self._heads.find_one_and_update(
            {"_id": zap_id, "enabled": True},
            {
                "$set": {"enabled": False, "disabled_reason": reason, "updated_at": at},
                "$inc": {"revision": 1},
            },
            return_document=ReturnDocument.AFTER,
        )

    # ------------------------------------------------------------------ drafts

    async def draft(self, zap_id: str, tenant: str) -> dict[str, Any] | None:
        return await self._drafts.find_one({"_id": zap_id, "tenant": tenant})

    async def save_draft(self, doc: dict[str, Any]) -> None:
        """Create or replace the zap's one draft."""
        await self._drafts.replace_one({"_id": doc["_id"]}, doc, upsert=True)

    async def delete_draft(self, zap_id: str, updated_at: datetime | None = None) -> bool:
        """Drop the draft (only if it is still the one saved at ``updated_at``, when given)."""
        query: dict[str, Any] = {"_id": zap_id}
        if updated_at is not None:
            query["updated_at"] = updated_at
        return (await self._drafts.delete_one(query)).deleted_count == 1

    async def drafted(self, tenant: str) -> dict[str, datetime]:
        """{zap id: when its draft was last saved} for the tenant's zaps that have one."""
        cursor = self._drafts.find({"tenant": tenant}, {"_id": 1, "updated_at": 1})
        return {d["_id"]: d["updated_at"] async for d in cursor}


def version_id(zap_id: str, version: int) -> str:
    return f"{zap_id}:{version}"
