"""Unique indexes on the MongoDB-wire server (FerretDB locally, MongoDB 7 in production).

The idempotent-consumer design (`processed_events` unique on (consumer, event_id)) and rule identity
(unique (tenant_id, rule_id)) rely on exactly this behaviour through PyMongo's AsyncMongoClient.
"""

from __future__ import annotations

import pytest
from pymongo import ASCENDING
from pymongo.errors import DuplicateKeyError

pytestmark = pytest.mark.mongo


async def test_unique_index_rejects_duplicate(mongo_client, mongo_db_name):
    coll = mongo_client[mongo_db_name]["processed_events"]
    await coll.create_index([("event_id", ASCENDING)], unique=True, name="event_id_unique")

    await coll.insert_one({"event_id": "evt-1", "n": 1})
    with pytest.raises(DuplicateKeyError):
        await coll.insert_one({"event_id": "evt-1", "n": 2})
    await coll.insert_one({"event_id": "evt-2", "n": 3})

    docs = await coll.find({}, {"_id": 0}).sort("event_id", ASCENDING).to_list()
    assert docs == [{"event_id": "evt-1", "n": 1}, {"event_id": "evt-2", "n": 3}]
    info = await coll.index_information()
    assert info["event_id_unique"].get("unique") is True


async def test_compound_unique_index(mongo_client, mongo_db_name):
    coll = mongo_client[mongo_db_name]["rules"]
    await coll.create_index([("tenant_id", ASCENDING), ("rule_id", ASCENDING)], unique=True)

    await coll.insert_one({"tenant_id": "a", "rule_id": "r1"})
    await coll.insert_one({"tenant_id": "a", "rule_id": "r2"})  # same tenant, other rule
    await coll.insert_one({"tenant_id": "b", "rule_id": "r1"})  # other tenant, same rule
    with pytest.raises(DuplicateKeyError):
        await coll.insert_one({"tenant_id": "a", "rule_id": "r1"})

    # An upsert on the key pair is the idempotent write path.
    await coll.update_one({"tenant_id": "a", "rule_id": "r1"}, {"$set": {"version": 2}}, upsert=True)
    assert await coll.count_documents({}) == 3
    doc = await coll.find_one({"tenant_id": "a", "rule_id": "r1"}, {"_id": 0})
    assert doc == {"tenant_id": "a", "rule_id": "r1", "version": 2}
