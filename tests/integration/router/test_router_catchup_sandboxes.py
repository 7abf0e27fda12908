"""Catch-up over a window that overlaps runs already done, on the whole system: both sandboxes,
both gateways and the router on real Kafka and FerretDB.

Three purchases: two run live; the zap is off for the third. One of the live runs is then lost
from the router's store (as retention would drop it), so catch-up starts it again: its steps get
the same command ids as before, and the gateways answer them from their ledgers. Counting what the
sandboxes were asked to write proves no Kartra or Xero write happened twice.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from security.inprocess_system import ACME, design_zap, running_system
from waiting import wait_for

from zap_router.domain.runs import run_id_for

pytestmark = [pytest.mark.kafka, pytest.mark.mongo]


def catchup_zap(kartra_connection: str, xero_connection: str) -> dict[str, Any]:
    """DESIGN §4's zap (Xero contact, invoice, payment) plus a Kartra write: tag the buyer VIP."""
    zap = copy.deepcopy(design_zap(kartra_connection, xero_connection, name="catch-up"))
    zap["steps"].append(
        {
            "id": "vip",
            "action": "kartra.lead.tag.assign",
            "connection": kartra_connection,
            "input": {"email": "{{ trigger.lead.email }}", "tag_name": "VIP"},
        }
    )
    return zap


async def test_catch_up_over_runs_already_done_writes_nothing_twice(kafka_bootstrap, mongodb_url):
    async with running_system(kafka_bootstrap, mongodb_url) as system, httpx.AsyncClient(timeout=30) as http:
        router = system.urls["router"]
        kartra = system.apps["kartra-sandbox"].state.sandbox
        xero_org = next(o for o in system.xero_sandbox.orgs.values() if o.country == "AU")
        xero_id = next(c["id"] for c in system.xero_connections if "acme" in c["id"])
        await http.post(f"{router}/v1/zaps/{system.zap['id']}/disable", headers=ACME)  # the seed's zap
        since = datetime.now(UTC)  # after the seed's purchase: the window holds this test's events only
        res = await http.post(
            f"{router}/v1/zaps", json=catchup_zap(system.kartra_connection["id"], xero_id), headers=ACME
        )
        assert res.status_code == 201, res.text
        zap_id = res.json()["id"]
        # A sentinel on the same trigger whose filter never passes: its filtered runs (no writes) say
        # the router has consumed a purchase, whatever the catch-up zap's state was.
        sentinel = design_zap(system.kartra_connection["id"], xero_id, name="sentinel")
        sentinel["filter"] = {
            "any": [{"all": [{"field": "trigger.transaction.amount", "op": "lt", "value": 0}]}]
        }
        res = await http.post(f"{router}/v1/zaps", json=sentinel, headers=ACME)
        assert res.status_code == 201, res.text
        sentinel_id = res.json()["id"]

        async def consumed(purchases: int) -> bool:
            params = {"zap_id": sentinel_id, "status": "filtered"}
            items = (await http.get(f"{router}/v1/runs", params=params, headers=ACME)).json()["items"]
            return len(items) >= purchases

        async def purchase(email: str) -> str:
            res = await http.post(
                f"{system.urls['kartra-sandbox']}/_sandbox/simulate/purchase",
                json={"app_id": system.kartra_app["app_id"], "email": email, "first_name": email[:3]},
            )
            res.raise_for_status()
            return str(res.json()["transaction_id"])

        async def runs_of_zap() -> dict[str, dict[str, Any]]:
            """{transaction id: its run}: one run per purchase (the listing has no trigger data)."""
            items = (await http.get(f"{router}/v1/runs", params={"zap_id": zap_id}, headers=ACME)).json()
            out: dict[str, dict[str, Any]] = {}
            for item in items["items"]:
                run = (await http.get(f"{router}/v1/runs/{item['id']}", headers=ACME)).json()
                tx = str(run["trigger"]["transaction"]["id"])
                assert tx not in out, f"two runs for transaction {tx}"
                out[tx] = run
            return out

        async def succeeded(txs: list[str]) -> dict[str, dict[str, Any]] | None:
            runs = await runs_of_zap()
            done = all(runs.get(tx, {}).get("status") == "succeeded" for tx in txs)
            return runs if done else None

        live = [await purchase("buyer1@example.com"), await purchase("buyer2@example.com")]
        runs = await wait_for(lambda: succeeded(live), timeout=120, interval=0.3, message="the live runs")
        await http.post(f"{router}/v1/zaps/{zap_id}/disable", headers=ACME)
        missed = await purchase("buyer3@example.com")  # no run: the zap is off
        await wait_for(lambda: consumed(3), timeout=60, interval=0.3, message="the third purchase consumed")
        await http.post(f"{router}/v1/zaps/{zap_id}/enable", headers=ACME)

        # The second live run is lost from the store; its writes were done.
        lost = runs[live[1]]
        store = system.apps["router"].state.services.runs
        assert (await store._col(lost["id"]).delete_one({"_id": lost["id"]})).deleted_count == 1

        res = await http.post(
            f"{router}/v1/zaps/{zap_id}/catchups", json={"since": since.isoformat()}, headers=ACME
        )
        assert res.status_code == 202, res.text

        async def job_done() -> dict[str, Any] | None:
            url = f"{router}/v1/zaps/{zap_id}/catchups/{res.json()['id']}"
            job = (await http.get(url, headers=ACME)).json()
            return job if job["status"] != "running" else None

        job = await wait_for(job_done, timeout=120, interval=0.3, message="the catch-up")
        assert job["status"] == "succeeded", job
        counts = job["counts"]
        assert counts["started"] == 2 and counts["failed"] == 0, counts  # the lost run and the missed one
        assert counts["skipped"] == counts["scanned"] - 2 >= 1, (
            counts
        )  # the first live run (and any duplicate)

        everything = [*live, missed]
        runs = await wait_for(
            lambda: succeeded(everything), timeout=120, interval=0.3, message="catch-up runs"
        )
        assert runs[live[1]]["id"] == lost["id"] == run_id_for(zap_id, lost["trigger_event_id"])
        for step in ("contact", "invoice", "paid", "vip"):  # the same commands as the first time
            assert runs[live[1]]["steps"][step]["command_id"] == lost["steps"][step]["command_id"]
            assert runs[live[1]]["steps"][step]["output"] == lost["steps"][step]["output"]

        # What the sandboxes were asked to write: each purchase once, whatever ran twice.
        invoices = xero_org.records.get("Invoices", {}).values()
        payments = xero_org.records.get("Payments", {}).values()
        for tx in everything:
            mine = [i for i in invoices if i.get("Reference") == f"kartra-{tx}"]
            assert len(mine) == 1, f"transaction {tx}: {len(mine)} invoices"
            paid = [p for p in payments if (p.get("Invoice") or {}).get("InvoiceID") == mine[0]["InvoiceID"]]
            assert len(paid) == 1, f"transaction {tx}: {len(paid)} payments"
        tags = [
            c
            for c in kartra.call_log
            if c["app_id"] == system.kartra_app["app_id"] and "assign_tag" in c["cmds"]
        ]
        assert len(tags) == 3, tags

        # Test a step for real through the gateway (a real write, as Zapier's test): the result
        # names a new invoice in the sandbox, and the runs are untouched.
        event_id = runs[missed]["trigger_event_id"]
        body = {"step": "invoice", "event_id": event_id, "execute": True, "wait_s": 30}
        res = await http.post(f"{router}/v1/zaps/{zap_id}/test-step", json=body, headers=ACME)
        assert res.status_code == 200, res.text
        tested = res.json()
        assert tested["status"] == "succeeded" and tested["outputs_from"]["contact"] == "run", tested
        new_id = tested["result"]["output"]["InvoiceID"]
        assert new_id != runs[missed]["steps"]["invoice"]["output"]["InvoiceID"]
        assert xero_org.records["Invoices"][new_id]["Reference"] == f"kartra-{missed}"
        after = await runs_of_zap()
        assert after[missed]["steps"]["invoice"] == runs[missed]["steps"]["invoice"]
