"""Catch-up jobs in MongoDB: one document per job, its counters and progress updated as it goes,
so any replica can answer ``GET .../catchups/{id}`` while one replica runs it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING, IndexModel, ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase


class CatchupStore:
    def __init__(self, db: AsyncDatabase) -> None:
        self._jobs: AsyncCollection = db["catchup_jobs"]

    async def ensure_indexes(self) -> None:
        await self._jobs.create_indexes(
            [IndexModel([("tenant", ASCENDING), ("zap_id", ASCENDING), ("created_at", DESCENDING)])]
        )

    async def insert(self, doc: dict[str, Any]) -> None:
        await self._jobs.insert_one(doc)

    async def get(self, job_id: str, tenant: str, zap_id: str) -> dict[str, Any] | None:
        return await self._jobs.find_one({"_id": job_id, "tenant": tenant, "zap_id": zap_id})

    async def list(self, tenant: str, zap_id: str, limit: int = 50) -> list[dict[str, Any]]:
        cursor = self._jobs.find({"tenant": tenant, "zap_id": zap_id}).sort("created_at", DESCENDING)
        return await cursor.limit(limit).to_list(None)

    async def running(self, tenant: str, zap_id: str) -> list[dict[str, Any]]:
        return await self._jobs.find({"tenant": tenant, "zap_id": zap_id, "status": "running"}).to_list(None)

    async def update(self, job_id: str, sets: dict[str, Any]) -> dict[str, Any] | None:
        """Record progress; the job as it is now (its ``cancel_requested`` flag included)."""
        return await self._jobs.find_one_and_update(
            {"_id": job_id}, {"$set": sets}, return_document=ReturnDocument.AFTER
        )

    async def request_cancel(self, job_id: str, at: datetime) -> None:
        await self._jobs.update_one(
            {"_id": job_id, "status": "running"}, {"$set": {"cancel_requested": True, "updated_at": at}}
        )
