"""Executed step tests in MongoDB: what was sent, and the gateway's result once it comes back
(recorded by whichever replica consumes it, read by whichever replica is asked)."""

from __future__ import annotations

from typing import Any

from pymongo import ASCENDING, IndexModel
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from kxflow_contracts.results import ActionResult


class StepTestStore:
    def __init__(self, db: AsyncDatabase) -> None:
        self._tests: AsyncCollection = db["step_tests"]

    async def ensure_indexes(self) -> None:
        await self._tests.create_indexes([IndexModel([("tenant", ASCENDING), ("zap_id", ASCENDING)])])

    async def insert(self, doc: dict[str, Any]) -> None:
        await self._tests.insert_one(doc)

    async def get(self, test_id: str, tenant: str, zap_id: str) -> dict[str, Any] | None:
        return await self._tests.find_one({"_id": test_id, "tenant": tenant, "zap_id": zap_id})

    async def record(self, result: ActionResult) -> bool:
        """Keep a test's result (the first one: a redelivered result changes nothing)."""
        outcome = await self._tests.update_one(
            {"_id": result.run_id, "command_id": result.command_id, "result": None},
            {"$set": {"status": result.status.value, "result": result.model_dump(mode="json")}},
        )
        return outcome.modified_count == 1
