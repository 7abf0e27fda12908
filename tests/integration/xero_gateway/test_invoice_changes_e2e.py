"""Updated Sales Invoice's Change and Trigger preference, end to end on real Kafka and FerretDB:
the Xero sandbox's webhooks → xero-gateway (hydration, the invoice's stored previous version, the
``changed`` list) → ``xero.events.v1`` → the router's matching → runs.

A zap asking for a status change fires on the status change and not on an unrelated edit (which a
zap asking for a Reference change does fire on, so the edit provably reached the router)."""

from __future__ import annotations

from typing import Any

import pytest
from integration.xero_gateway.xero_gw_helpers import connect_all, wired, xero_zap
from waiting import wait_for

pytestmark = [pytest.mark.kafka, pytest.mark.mongo]

UPDATED = "xero.sales_invoice.updated"


def zap(name: str, connection: str, params: dict[str, Any]) -> dict[str, Any]:
    return xero_zap(
        name, connection, UPDATED, params, {"ContactID": "{{ trigger.invoice.Contact.ContactID }}"}
    )


async def test_a_zap_asking_for_a_status_change_fires_on_it_and_not_on_other_edits(
    start_gateway, xero_sandbox, router_for, kafka_bootstrap, topic_prefix
) -> None:
    _, url = await start_gateway()
    conn = "xero-acme-au"  # the connection the helpers' commands use
    assert conn in {c["id"] for c in await connect_all(url)}
    xero_sandbox.sandbox.config.webhook_url = f"{url}/v1/webhooks/xero"
    router = await router_for(conn)
    zaps = {}
    for name, params in (
        ("status", {"change": "Status"}),
        ("status-and-due", {"change": ["Status", "AmountDue"], "trigger_preference": "all"}),
        ("reference", {"change": ["Reference"]}),
    ):
        res = await router.post("/v1/zaps", json=zap(name, conn, params))
        assert res.status_code == 201, res.text
        zaps[name] = res.json()["id"]
    bad = await router.post("/v1/zaps", json=zap("bad", conn, {"change": "Colour"}))
    assert bad.status_code == 422 and "trigger.params.change" in bad.text

    async def runs(name: str) -> list[dict[str, Any]]:
        res = await router.get("/v1/runs", params={"zap_id": zaps[name]})
        return res.json()["items"]

    async with wired(kafka_bootstrap, topic_prefix) as wire:
        contact = await wire.run("xero.contact.upsert", {"Name": "Grace Hopper"})
        line = {"Description": "x", "Quantity": 1, "UnitAmount": 40, "AccountCode": "200"}
        created = await wire.run(
            "xero.sales_invoice.create",
            {
                "Contact": {"ContactID": contact["output"]["ContactID"]},
                "Status": "DRAFT",
                "Reference": "first",
                "LineItems": [line],
            },
        )
        invoice_id = created["output"]["InvoiceID"].lower()

        def invoice_events(ce_type: str) -> list[Any]:
            return [e for e in wire.events.items if e.type == ce_type and e.subject.lower() == invoice_id]

        # the created event is the previous version the first update is compared with
        await wait_for(lambda: invoice_events("xero.sales_invoice.created.v1"), 30, message="created")

        async def update(**fields: Any) -> None:
            done = await wire.run("xero.sales_invoice.update", {"InvoiceID": invoice_id, **fields})
            assert done["status"] == "succeeded", done

        await update(Reference="second")
        await wait_for(lambda: invoice_events(f"{UPDATED}.v1"), 30, message="the Reference edit's event")
        assert invoice_events(f"{UPDATED}.v1")[0].data["changed"] == ["Reference"]
        await wait_for(lambda: runs("reference"), 30, message="the Reference zap's run")
        assert await runs("status") == [] and await runs("status-and-due") == []  # same event, no run

        await update(Status="AUTHORISED")
        await wait_for(lambda: len(invoice_events(f"{UPDATED}.v1")) == 2, 30, message="the status event")
        assert invoice_events(f"{UPDATED}.v1")[1].data["changed"] == ["Status"]
        status_runs = await wait_for(lambda: runs("status"), 30, message="the Status zap's run")
        assert len(status_runs) == 1
        detail = (await router.get(f"/v1/runs/{status_runs[0]['id']}")).json()
        assert detail["trigger"]["changed"] == ["Status"]  # what the zap was started with
        assert len(await runs("reference")) == 1  # the status change is not a Reference change
        assert await runs("status-and-due") == []  # AmountDue did not change with it
        await xero_sandbox.sandbox.drain()
