"""Issue 11, item 7: the Kartra gateway purges what they keep only for a while — action ledgers (with
their outputs), seen keys, on a clock the test moves
forward, against the real FerretDB."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from integration.kartra_gateway.kartra_stack import Stack, stack
from pymongo import AsyncMongoClient

pytestmark = [pytest.mark.kafka, pytest.mark.mongo]

__all__ = ["stack"]


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


async def _ids(col) -> set:  # type: ignore[no-untyped-def]
    return {d["_id"] async for d in col.find({}, {"_id": 1})}


async def test_kartra_gateway_purges_ledger_and_seen_deliveries(stack: Stack, mongodb_url: str) -> None:
    mongo = AsyncMongoClient(mongodb_url, tz_aware=True)
    db = mongo[stack.settings.mongodb_database]
    now = datetime.now(UTC)
    await db["action_ledger"].insert_many(
        [
            {"_id": "old", "state": "done", "updated_at": now - timedelta(days=10), "output": "%PDF"},
            {"_id": "abandoned", "state": "pending", "updated_at": now - timedelta(days=10)},
            {"_id": "new", "state": "done", "updated_at": now},
        ]
    )
    await db["seen_deliveries"].insert_many(
        [{"_id": "kartra:old", "seen_at": now - timedelta(hours=2)}, {"_id": "kartra:new", "seen_at": now}]
    )
    retention = stack.app.state.retention
    clock = Clock()
    retention.clock = clock
    clock.now = now + timedelta(days=25)  # ledger: 30 days; seen deliveries: the 1 h dedupe window
    await retention.run_once()
    ledger = await _ids(db["action_ledger"])
    assert {"old", "abandoned"}.isdisjoint(ledger) and "new" in ledger
    assert "kartra:old" not in await _ids(db["seen_deliveries"])
    clock.now = now + timedelta(days=31)
    await retention.run_once()
    assert "new" not in await _ids(db["action_ledger"])
    await mongo.close()
