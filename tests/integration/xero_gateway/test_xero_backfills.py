"""Backfill jobs: POST /v1/backfills → a persisted job, run at the lowest priority, whose events
carry ``origin=backfill``; GET /v1/backfills/{id} shows progress; bad requests are clear 4xx."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
from integration.xero_gateway.xero_gw_helpers import Results, auth, connect_all
from waiting import wait_for

from kxflow_contracts.topics import Topics
from kxflow_sandboxes.xero import accounting
from kxflow_sandboxes.xero.state import RESOURCES, ms_date

LINE = {"Description": "x", "Quantity": 1, "UnitAmount": 10, "AccountCode": "200"}


async def test_backfill_emits_every_invoice_since_a_date_with_origin_backfill(
    start_gateway, xero_sandbox, kafka_bootstrap, topic_prefix, mongo_client, mongo_db_name
) -> None:
    _, url = await start_gateway()
    await connect_all(url)
    org = xero_sandbox.org("Acme AU")
    contact = accounting.create(org, RESOURCES["Contacts"], {"Name": "Backfill Ltd"})["ContactID"]

    def invoice(kind: str) -> dict:
        body = {"Type": kind, "Contact": {"ContactID": contact}, "Status": "AUTHORISED", "LineItems": [LINE]}
        return accounting.create(org, RESOURCES["Invoices"], body)

    for old in (invoice("ACCREC"), invoice("ACCREC")):  # changed long before the backfill's date
        old["UpdatedDateUTC"] = ms_date(datetime.now(UTC) - timedelta(days=30))
    recent = [invoice("ACCREC")["InvoiceID"] for _ in range(3)]
    bill = invoice("ACCPAY")["InvoiceID"]
    since = (datetime.now(UTC) - timedelta(days=1)).isoformat()

    async with (
        Results(kafka_bootstrap, Topics(topic_prefix).xero_events) as events,
        httpx.AsyncClient(base_url=url, headers=auth(), timeout=30) as client,
    ):
        bad = await client.post(
            "/v1/backfills", json={"connection_id": "xero-acme-au", "resource": "widgets", "since": since}
        )
        assert bad.status_code == 422 and "widgets" in bad.text
        unknown = await client.post(
            "/v1/backfills", json={"connection_id": "xero-nope", "resource": "invoices", "since": since}
        )
        assert unknown.status_code == 404
        assert (await client.post("/v1/backfills", json={"resource": "invoices"})).status_code == 422

        created = await client.post(
            "/v1/backfills", json={"connection_id": "xero-acme-au", "resource": "invoices", "since": since}
        )
        assert created.status_code == 202, created.text
        job_id = created.json()["id"]
        assert await mongo_client[mongo_db_name]["backfills"].find_one({"_id": job_id})

        async def finished() -> dict | None:
            job = (await client.get(f"/v1/backfills/{job_id}")).json()
            return job if job["status"] == "done" else None

        job = await wait_for(finished, timeout=30, message="backfill done")
        assert job["records"] == 4 and job["emitted"] == 4 and job["pages"] == 1
        await wait_for(lambda: len(events.items) == 4, timeout=20, message="4 backfilled events")
        assert {e.data["origin"] for e in events.items} == {"backfill"}
        sales = {e.subject for e in events.items if e.type == "xero.sales_invoice.created.v1"}
        assert sales == set(recent)
        assert [e.subject for e in events.items if e.type == "xero.bill.created.v1"] == [bill]
        assert (await client.get("/v1/backfills/nope")).status_code == 404
