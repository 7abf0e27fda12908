"""Issue 11, item 7: the Xero gateway purges what they keep only for a while — action ledgers (with
their outputs), seen keys, expired OAuth states, orphan token sets, invoices' last seen versions —
on a clock the test moves forward, against the real FerretDB."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from integration.xero_gateway.xero_gw_helpers import connect_all

pytestmark = [pytest.mark.kafka, pytest.mark.mongo]


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


async def _ids(col) -> set:  # type: ignore[no-untyped-def]
    return {d["_id"] async for d in col.find({}, {"_id": 1})}


async def test_xero_gateway_purges_ledger_keys_states_and_orphan_token_sets(
    start_gateway, mongo_client, mongo_db_name
) -> None:
    app, url = await start_gateway()
    await connect_all(url)  # a token set that connections use
    db = mongo_client[mongo_db_name]
    now = datetime.now(UTC)
    await db["action_ledger"].insert_one(
        {"_id": "l-old", "state": "done", "updated_at": now - timedelta(days=40)}
    )
    await db["seen_keys"].insert_one({"_id": "k-old", "seen_at": now - timedelta(days=40)})
    await db["token_sets"].insert_one(
        {"_id": "acme/orphan", "enc": "x", "updated_at": now - timedelta(days=2)}
    )
    await db["oauth_states"].insert_one({"_id": "s-old", "tenant": "acme", "expires_at": now.timestamp() - 1})
    await db["oauth_states"].insert_one(
        {"_id": "s-new", "tenant": "acme", "expires_at": now.timestamp() + 600}
    )
    await db["invoice_snapshots"].insert_many(
        [
            {"_id": "acme/x/old", "current": {}, "seen_at": now - timedelta(days=200)},
            {"_id": "acme/x/new", "current": {}, "seen_at": now - timedelta(days=10)},
        ]
    )
    used = await _ids(db["token_sets"]) - {"acme/orphan"}
    assert used
    retention = app.state.retention
    retention.clock = Clock()
    done = await retention.run_once()
    assert done["action_ledger"] >= 1 and done["seen_keys"] >= 1
    assert "l-old" not in await _ids(db["action_ledger"])
    assert "k-old" not in await _ids(db["seen_keys"])
    assert await _ids(db["oauth_states"]) == {"s-new"}
    assert await _ids(db["invoice_snapshots"]) == {"acme/x/new"}  # bounded: unseen invoices go
    assert await _ids(db["token_sets"]) == used  # the orphan went, the used ones stay
