"""The step graph of DESIGN.md §4.1 on the real system (every process, real Kafka and FerretDB)
against the Kartra and Xero sandboxes (issue 16 item 5):

- a purchase routed by amount down one of two paths (the lead gets the tag of its path only);
- a delay that survives a router restart (the run waits, the router restarts, the run goes on);
- a loop creating three Xero items exactly once even when the run is replayed;
- an error branch tagging the Kartra lead when a step fails for good (the run ends ``handled``).

Each zap has a trigger filter on the buyer's email, so one purchase starts one scenario's run.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from system_harness import ROOT, System
from waiting import wait_for

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "drills"))

from drill_kit import Drill

from kxflow_contracts.runs import FINISHED_STATES

EXAMPLES = ROOT / "examples" / "zaps"


def only(prefix: str) -> dict[str, Any]:
    return {"any": [{"all": [{"field": "trigger.lead.email", "op": "starts_with", "value": prefix}]}]}


def tag(step_id: str, name: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": step_id,
        "action": "kartra.lead.tag.assign",
        "input": {"email": "{{ trigger.lead.email }}", "tag_name": name},
        **extra,
    }


class Graph:
    """The system set up once: Kartra and Xero connected, the design zap turned off."""

    def __init__(self, system: System, drill: Drill) -> None:
        self.system = system
        self.drill = drill
        self.zaps: dict[str, str] = {}

    @property
    def router(self) -> str:
        return self.system.url("router")

    async def apply(self, key: str, spec: dict[str, Any]) -> str:
        res = await self.drill.api.post(f"{self.router}/v1/zaps", json=spec, headers=self.system.auth)
        assert res.status_code == 201, res.text
        self.zaps[key] = res.json()["id"]
        return self.zaps[key]

    async def buy(self, email: str, amount: float) -> str:
        res = await self.drill.http.post(
            f"{self.system.url('kartra-sandbox')}/_sandbox/simulate/purchase",
            json={"app_id": self.drill.kartra_app["app_id"], "email": email, "amount": amount},
        )
        res.raise_for_status()
        assert all(d.get("status") == 200 for d in res.json()["deliveries"]), res.text
        return str(res.json()["transaction_id"])

    async def run_of(self, key: str, email: str) -> dict[str, Any] | None:
        res = await self.drill.api.get(
            f"{self.router}/v1/runs",
            params={"zap_id": self.zaps[key], "limit": 100},
            headers=self.system.auth,
        )
        res.raise_for_status()
        for item in res.json()["items"]:
            if item["status"] == "filtered":
                continue  # another scenario's purchase (the listing has no trigger data)
            full = (
                await self.drill.api.get(f"{self.router}/v1/runs/{item['id']}", headers=self.system.auth)
            ).json()
            if (full.get("trigger") or {}).get("lead", {}).get("email") == email:
                return dict(full)
        return None

    async def settled(self, key: str, email: str, timeout: float = 90) -> dict[str, Any]:
        async def done() -> dict[str, Any] | None:
            run = await self.run_of(key, email)
            return run if run is not None and run["status"] in FINISHED_STATES else None

        return await wait_for(done, timeout=timeout, interval=0.3)

    async def tags(self, email: str) -> set[str]:
        sb = self.system.url("kartra-sandbox")
        leads = (
            await self.drill.http.get(f"{sb}/_sandbox/apps/{self.drill.kartra_app['app_id']}/leads")
        ).json()
        lead = next(lead for lead in leads["leads"] if lead["email"] == email)
        return {t["tag_name"] for t in lead["tags"]}

    async def item_writes(self) -> list[tuple[str, str]]:
        """(method, Idempotency-Key) of every write to Xero's Items the sandbox has seen."""
        res = await self.drill.http.get(
            f"{self.system.url('xero-sandbox')}/_sandbox/requests", params={"limit": 5000}
        )
        return [
            (r["method"], r.get("idempotency_key") or "")
            for r in res.json()
            if r["method"] in ("POST", "PUT") and "/Items" in r["path"]
        ]


@pytest.fixture(scope="module")
async def graph(system: System) -> AsyncIterator[Graph]:
    drill = Drill(system)
    try:
        await drill.setup()
        res = await drill.api.post(
            f"{system.url('router')}/v1/zaps/{drill.zap_id}/disable", headers=system.auth
        )
        res.raise_for_status()
        yield Graph(system, drill)
    finally:
        await drill.close()


async def test_a_purchase_is_routed_by_amount_down_one_of_two_paths(graph: Graph) -> None:
    spec = yaml.safe_load((EXAMPLES / "paths-by-amount.yaml").read_text())
    spec["filter"] = only("paths-")
    for branch, tag_name in zip(spec["steps"][0]["paths"], ("VIP", "Customer"), strict=True):
        branch["steps"][0]["input"]["tag_name"] = tag_name  # tags the Kartra sandbox's account has
    await graph.apply("paths", spec)
    await graph.buy("paths-big@example.com", 750)
    await graph.buy("paths-small@example.com", 20)
    big = await graph.settled("paths", "paths-big@example.com")
    small = await graph.settled("paths", "paths-small@example.com")
    assert big["status"] == "succeeded" and small["status"] == "succeeded", (big, small)
    assert big["steps"]["route"]["chosen"] == ["vip"] and small["steps"]["route"]["chosen"] == ["regular"]
    assert "route/vip/vip_tag" in big["steps"] and "route/regular/regular_tag" not in big["steps"]
    assert "VIP" in await graph.tags("paths-big@example.com")
    small_tags = await graph.tags("paths-small@example.com")
    assert "Customer" in small_tags and "VIP" not in small_tags
    node = big["tree"][0]
    assert node["path"] == "route" and node["children"][0]["branch"] == "vip"


async def test_a_delay_survives_a_router_restart(graph: Graph) -> None:
    await graph.apply(
        "delay",
        {
            "name": "delay then tag",
            "trigger": {"app": "kartra", "event": "kartra.product.purchased", "connection": "kartra-main"},
            "filter": only("delay-"),
            "steps": [{"id": "wait", "delay": {"for": "8s"}}, tag("later", "VIP")],
        },
    )
    email = "delay-1@example.com"
    await graph.buy(email, 30)

    async def waiting() -> dict[str, Any] | None:
        run = await graph.run_of("delay", email)
        return run if run is not None and run["status"] == "waiting" else None

    run = await wait_for(waiting, timeout=60, interval=0.2)
    assert run["steps"]["wait"]["status"] == "waiting"
    graph.system.restart("router", hard=True)  # SIGKILL: nothing of the wait is held in memory
    await wait_for(lambda: graph.run_of("delay", email), timeout=60, interval=0.5)  # the router answers
    done = await graph.settled("delay", email)
    assert done["status"] == "succeeded", done
    assert done["steps"]["wait"]["status"] == "succeeded" and done["steps"]["later"]["status"] == "succeeded"
    assert "VIP" in await graph.tags(email)


async def test_a_loop_creates_three_xero_items_exactly_once_even_when_replayed(graph: Graph) -> None:
    prefix = "LOOP-{{ trigger.transaction.id }}"
    spec = {
        "name": "three items",
        "trigger": {"app": "kartra", "event": "kartra.product.purchased", "connection": "kartra-main"},
        "filter": only("loop-"),
        "steps": [
            {
                "id": "items",
                "loop": {"over": "{{ ['A', 'B', 'C'] }}", "max": 10},
                "steps": [
                    {
                        "id": "item",
                        "action": "xero.item.find_or_create",
                        "connection": "xero-acme-au",
                        "input": {"Code": prefix + "-{{ loop.item }}", "Name": "Item {{ loop.item }}"},
                    }
                ],
            },
            # Fails the run after the loop: the tag does not exist in the Kartra account.
            tag("done", "NoSuchTag"),
        ],
    }
    zap_id = await graph.apply("loop", spec)
    before = len(await graph.item_writes())  # only this zap writes items
    email = "loop-1@example.com"
    transaction = await graph.buy(email, 40)
    failed = await graph.settled("loop", email)
    assert failed["status"] == "failed" and failed["current_step"] == "done", failed
    assert [failed["steps"][f"items[{i}]/item"]["status"] for i in range(3)] == ["succeeded"] * 3
    # The user fixes the zap and replays the run: the loop's items are not sent again.
    spec["steps"][1]["input"]["tag_name"] = "VIP"
    res = await graph.drill.api.put(f"{graph.router}/v1/zaps/{zap_id}", json=spec, headers=graph.system.auth)
    assert res.status_code == 200, res.text
    res = await graph.drill.api.post(
        f"{graph.router}/v1/runs/{failed['id']}/replay", headers=graph.system.auth
    )
    assert res.status_code == 200, res.text
    done = await graph.settled("loop", email)
    assert done["status"] == "succeeded", done
    writes = (await graph.item_writes())[before:]
    assert len(writes) == 3 and len(set(writes)) == 3, writes  # one write per item, none repeated
    assert [done["steps"][f"items[{i}]/item"]["input"]["Code"] for i in range(3)] == [
        f"LOOP-{transaction}-{c}" for c in "ABC"
    ]
    outputs = [done["steps"][f"items[{i}]/item"]["output"] for i in range(3)]
    assert len({o.get("ItemID") for o in outputs}) == 3


async def test_an_error_branch_tags_the_kartra_lead_and_the_run_ends_handled(graph: Graph) -> None:
    await graph.apply(
        "on_error",
        {
            "name": "flag on error",
            "trigger": {"app": "kartra", "event": "kartra.product.purchased", "connection": "kartra-main"},
            "filter": only("oops-"),
            "steps": [tag("gold", "NoSuchTag", on_error={"steps": [tag("flag", "VIP")]})],
        },
    )
    email = "oops-1@example.com"
    await graph.buy(email, 10)
    run = await graph.settled("on_error", email)
    assert run["status"] == "handled", run
    assert (
        run["steps"]["gold"]["status"] == "failed"
        and run["steps"]["gold/on_error/flag"]["status"] == "succeeded"
    )
    assert "VIP" in await graph.tags(email)
    zap = (
        await graph.drill.api.get(
            f"{graph.router}/v1/zaps/{graph.zaps['on_error']}", headers=graph.system.auth
        )
    ).json()
    assert zap["enabled"] is True
