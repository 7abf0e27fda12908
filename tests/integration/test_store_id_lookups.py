"""Lookups by ``_id`` use the ``_id`` index, also with further conditions beside ``_id``.

The ledger's and the run store's compare-and-set (``update_one({_id, state: ...})``) and every
read by id rely on it. Stock FerretDB 1.24 scanned the whole collection for these (see
deploy/local/ferretdb/sqlite-id-index.patch, docs/infrastructure.md); this test fails on such a
build. On MongoDB it checks the same plan property.
"""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.mongo

FILTERS = [{"_id": "r7"}, {"_id": "r7", "state": "pending"}, {"_id": "r7", "lease": {"$gt": 5}}]


@pytest.mark.parametrize("query", FILTERS, ids=["id", "id+equality", "id+range"])
async def test_a_filter_on_id_is_answered_from_the_index(mongo_client, mongo_db_name, query) -> None:
    db = mongo_client[mongo_db_name]
    await db["runs"].insert_many([{"_id": f"r{i}", "state": "pending", "lease": i} for i in range(50)])
    explained = await db.command("explain", {"find": "runs", "filter": query})
    plan = json.dumps(explained["queryPlanner"], default=str)
    if "ferretdbVersion" in await db.command("buildInfo"):
        assert "USING INDEX" in plan and "SCAN" not in plan.replace("IXSCAN", ""), plan
    else:
        assert any(stage in plan for stage in ("IDHACK", "IXSCAN", "EXPRESS")), plan
    # And the answer is the whole filter's, not only its _id part.
    assert [d["_id"] for d in await db["runs"].find(query).to_list()] == ["r7"]
    contradicted = {**query, "state": "done"}
    assert await db["runs"].find_one(contradicted) is None


async def test_updates_and_deletes_by_id_with_a_condition(mongo_client, mongo_db_name) -> None:
    runs = mongo_client[mongo_db_name]["runs"]
    await runs.insert_many([{"_id": f"r{i}", "state": "pending"} for i in range(20)])
    assert (await runs.update_one({"_id": "r3", "state": "done"}, {"$set": {"x": 1}})).matched_count == 0
    done = await runs.update_one({"_id": "r3", "state": "pending"}, {"$set": {"state": "done"}})
    assert done.modified_count == 1
    assert (await runs.delete_one({"_id": "r4", "state": "done"})).deleted_count == 0
    assert (await runs.delete_one({"_id": "r3", "state": "done"})).deleted_count == 1
    assert sorted(d["_id"] for d in await runs.find({"state": "pending"}).to_list()) == sorted(
        f"r{i}" for i in range(20) if i != 3
    )
