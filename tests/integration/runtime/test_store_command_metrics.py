"""Store command counting (``runtime.mongo``, issue 13) on the real MongoDB-wire server: what
``make bench`` reads as store commands per purchase by service and command."""

from __future__ import annotations

from typing import Any

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from kxflow_contracts.runtime.mongo import StoreCommandCounter, mongo_client

pytestmark = pytest.mark.mongo


def _count(registry: CollectorRegistry, command: str, collection: str) -> float:
    labels = {"command": command, "collection": collection}
    return registry.get_sample_value("kxflow_store_commands_total", labels) or 0.0


async def test_every_command_is_counted_by_command_and_collection(
    mongodb_url: str, mongo_db_name: str
) -> None:
    registry = CollectorRegistry()
    client: Any = mongo_client(mongodb_url, count_commands_in=registry, tz_aware=True)
    try:
        db = client[mongo_db_name]
        await db["runs_3"].insert_one({"_id": "a", "state": "running"})
        await db["runs_11"].insert_one({"_id": "b", "state": "running"})
        await db["runs_3"].update_one({"_id": "a"}, {"$set": {"state": "succeeded"}})
        assert await db["ledger"].find_one({"_id": "nothing"}) is None
    finally:
        await client.close()

    assert _count(registry, "insert", "runs") == 2  # run shards are one collection for the count
    assert _count(registry, "update", "runs") == 1
    assert _count(registry, "find", "ledger") == 1
    assert b"kxflow_store_commands_total" in generate_latest(registry)


async def test_off_by_default_no_listener_on_the_client(mongodb_url: str) -> None:
    client: Any = mongo_client(mongodb_url, tz_aware=True)
    try:
        listeners = client.options.event_listeners
        assert not any(isinstance(x, StoreCommandCounter) for x in listeners)
    finally:
        await client.close()
