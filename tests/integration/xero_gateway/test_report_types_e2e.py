"""New Report's Report Type chosen per zap, end to end on real Kafka and FerretDB: a zap that picks
a type the gateway is not configured to poll (TrialBalance) makes the gateway poll it — the router
publishes the zap on ``kxflow.zaps.v1``, the gateway reads the changelog — and the report's event
goes sandbox → gateway → ``xero.events.v1`` → the router's run; disabling the zap stops the polls."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from integration.xero_gateway.xero_gw_helpers import connect_all, wired, xero_zap
from waiting import wait_for

pytestmark = [pytest.mark.kafka, pytest.mark.mongo]

CHOSEN = "TrialBalance"


async def test_a_report_type_a_zap_chooses_is_polled_and_starts_its_runs(
    start_gateway, xero_sandbox, router_for, kafka_bootstrap, topic_prefix, mongo_client, mongo_db_name
) -> None:
    app, url = await start_gateway()  # polls only when the test ticks
    conn = "xero-acme-au"
    assert conn in {c["id"] for c in await connect_all(url)}
    assert CHOSEN not in app.state.poller.settings.poll_report_types
    router = await router_for(conn)
    org = xero_sandbox.org("Acme AU")
    cursors = mongo_client[mongo_db_name]["poll_cursors"]

    async def poll_now() -> None:
        await cursors.update_many({}, {"$set": {"next_due": datetime(2000, 1, 1, tzinfo=UTC)}})
        await app.state.poller.tick()

    def fetched(report_type: str) -> int:
        path = f"/api.xro/2.0/Reports/{report_type}"
        return sum(1 for r in xero_sandbox.sandbox.log if r["path"] == path and r["tenant"] == org.tenant_id)

    await poll_now()
    assert fetched("ProfitAndLoss") == 1 and fetched(CHOSEN) == 0  # configured types only

    async with wired(kafka_bootstrap, topic_prefix) as wire:
        contact = await wire.run("xero.contact.upsert", {"Name": "Report Reader"})
        step_input = {"ContactID": contact["output"]["ContactID"]}
        res = await router.post(
            "/v1/zaps",
            json=xero_zap("trial balance", conn, "xero.report.updated", {"report_type": CHOSEN}, step_input),
        )
        assert res.status_code == 201, res.text
        zap_id = res.json()["id"]

        demand = app.state.report_demand
        await wait_for(lambda: demand.types_for("acme", conn) == [CHOSEN], 30, message="the zap's type")
        await app.state.poller.tick()  # the new type has no schedule yet: due at once
        assert fetched(CHOSEN) == 1

        def chosen_events() -> list[Any]:
            return [
                e
                for e in wire.events.items
                if e.type == "xero.report.updated.v1" and e.data["report_type"] == CHOSEN
            ]

        await wait_for(chosen_events, 30, message="the TrialBalance event")
        assert {e.data["connection_id"] for e in chosen_events()} == {conn}  # only where a zap asked

        async def runs() -> list[dict[str, Any]]:
            return (await router.get("/v1/runs", params={"zap_id": zap_id})).json()["items"]

        found = await wait_for(runs, 30, message="the zap's run")
        detail = (await router.get(f"/v1/runs/{found[0]['id']}")).json()
        assert detail["trigger"]["report_type"] == CHOSEN

        assert (await router.post(f"/v1/zaps/{zap_id}/disable")).status_code == 200
        await wait_for(
            lambda: demand.types_for("acme", conn) == [], 30, message="the disabled zap's type dropped"
        )
        await poll_now()
        assert fetched(CHOSEN) == 1 and fetched("ProfitAndLoss") == 2  # configured types still polled
    await xero_sandbox.sandbox.drain()
