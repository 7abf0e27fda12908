"""Test this step on a real router (real Kafka + FerretDB, a fake gateway): render a step of the
draft or the published version against a past trigger event; execute it for real when asked, with
its own command id, its result recorded on the test and no run touched."""

from __future__ import annotations

import asyncio
import copy
import json
from pathlib import Path
from typing import Any

import pytest
from design_zap import DESIGN_EXAMPLE
from router_harness import ACME, GLOBEX, ok
from test_router_api import send
from typer.testing import CliRunner
from waiting import wait_for

from kxflow_contracts.commands import command_id
from zap_router.domain.runs import run_id_for
from zap_router.entrypoints.cli import app as zapctl

pytestmark = [pytest.mark.kafka, pytest.mark.mongo]


async def test_a_step_renders_against_a_past_event_and_executes_only_when_asked(router):
    gw = router.gateway
    gw.responders.update(
        {
            "xero.contact.find_or_create": ok({"ContactID": "C-REAL"}),
            "xero.sales_invoice.create": ok({"InvoiceID": "INV-TEST", "InvoiceNumber": "INV-0042"}),
            "xero.payment.create": ok({"PaymentID": "P-1"}),
        }
    )
    http = router.http
    zap = (await http.post("/v1/zaps", json=DESIGN_EXAMPLE, headers=ACME)).json()
    await send(router, "s-1", amount=30)
    run_id = run_id_for(zap["id"], "s-1")

    async def run_done() -> bool:
        res = await http.get(f"/v1/runs/{run_id}", headers=ACME)
        return res.status_code == 200 and res.json()["status"] == "succeeded"

    await wait_for(run_done, timeout=45)
    await http.post(f"/v1/zaps/{zap['id']}/disable", headers=ACME)
    await send(router, "s-2", amount=45)  # the most recent event, and no run of it (the zap is off)
    draft = copy.deepcopy(DESIGN_EXAMPLE)
    draft["steps"][1]["input"]["Status"] = "DRAFT"
    draft["steps"][1]["input"]["Reference"] = "test {{ trigger.transaction.amount }}"
    assert (await http.put(f"/v1/zaps/{zap['id']}/draft", json=draft, headers=ACME)).status_code == 200

    # The draft's invoice step against the first event: the contact's real output from its run.
    body = {"step": "invoice", "event_id": "s-1"}
    res = await http.post(f"/v1/zaps/{zap['id']}/test-step", json=body, headers=ACME)
    assert res.status_code == 200, res.text
    shown = res.json()
    assert shown["source"] == "draft" and shown["status"] == "rendered" and shown["executed"] is False
    assert shown["event"]["id"] == "s-1"
    assert shown["input"]["Contact"] == {"ContactID": "C-REAL"} and shown["outputs_from"]["contact"] == "run"
    assert shown["input"]["Status"] == "DRAFT" and shown["input"]["Reference"] == "test 30"
    # The published version, the most recent event (no run: earlier outputs are catalog examples).
    res = await http.post(
        f"/v1/zaps/{zap['id']}/test-step", json={"step": "invoice", "source": "published"}, headers=ACME
    )
    published = res.json()
    assert published["source"] == "published" and published["version"] == 1
    assert published["event"]["id"] == "s-2" and published["input"]["Status"] == "AUTHORISED"
    assert published["outputs_from"]["contact"] == "example"
    # Given outputs win.
    body = {"step": "invoice", "event_id": "s-1", "outputs": {"contact": {"ContactID": "C-GIVEN"}}}
    given = (await http.post(f"/v1/zaps/{zap['id']}/test-step", json=body, headers=ACME)).json()
    assert (
        given["input"]["Contact"] == {"ContactID": "C-GIVEN"} and given["outputs_from"]["contact"] == "given"
    )

    # Execute: a real command with its own id; the result comes back to the test, not to a run.
    body = {"step": "invoice", "event_id": "s-1", "execute": True}
    res = await http.post(f"/v1/zaps/{zap['id']}/test-step", json=body, headers=ACME)
    executed = res.json()
    assert executed["executed"] is True and executed["status"] == "succeeded", executed
    assert executed["result"]["output"] == {"InvoiceID": "INV-TEST", "InvoiceNumber": "INV-0042"}
    test_cmds = [c for c in gw.commands() if c.run_id.startswith("t_")]  # the renders above sent nothing
    assert [c.run_id for c in test_cmds] == [executed["test_id"]] and test_cmds[0].input["Status"] == "DRAFT"
    assert test_cmds[0].command_id != command_id(zap["id"], "s-1", "invoice")
    again = (await http.get(f"/v1/zaps/{zap['id']}/test-step/{executed['test_id']}", headers=ACME)).json()
    assert again["result"] == executed["result"]
    run = (await http.get(f"/v1/runs/{run_id}", headers=ACME)).json()
    assert run["status"] == "succeeded" and run["replays"] == 0
    assert run["steps"]["invoice"]["command_id"] == command_id(zap["id"], "s-1", "invoice")

    # Refusals: a step that does not exist, an event that does not exist, another tenant.
    res = await http.post(f"/v1/zaps/{zap['id']}/test-step", json={"step": "nope"}, headers=ACME)
    assert res.status_code == 422 and "nope" in res.json()["detail"]
    res = await http.post(
        f"/v1/zaps/{zap['id']}/test-step", json={"step": "invoice", "event_id": "missing"}, headers=ACME
    )
    assert res.status_code == 422 and "missing" in res.json()["detail"]
    res = await http.post(f"/v1/zaps/{zap['id']}/test-step", json={"step": "invoice"}, headers=GLOBEX)
    assert res.status_code == 404
    res = await http.get(f"/v1/zaps/{zap['id']}/test-step/{executed['test_id']}", headers=GLOBEX)
    assert res.status_code == 404


async def test_a_rendering_problem_is_shown_not_sent(router):
    http = router.http
    zap = (await http.post("/v1/zaps", json=DESIGN_EXAMPLE, headers=ACME)).json()
    await send(router, "r-1", amount=10)
    body = {"step": "invoice", "event_id": "r-1", "outputs": {"contact": {"Other": 1}}, "execute": True}

    async def answer() -> dict[str, Any] | None:
        res = await http.post(f"/v1/zaps/{zap['id']}/test-step", json=body, headers=ACME)
        return res.json() if res.status_code == 200 else None

    shown = await wait_for(answer, timeout=30, message="the event in the topic")
    assert shown["status"] == "failed" and shown["executed"] is False
    assert "ContactID" in shown["error"]["message"]
    assert not [c for c in router.gateway.commands() if c.run_id.startswith("t_")]


async def test_zapctl_test_step(router, tmp_path: Path, monkeypatch):
    monkeypatch.setenv("ZAPCTL_URL", router.url)
    monkeypatch.setenv("ZAPCTL_TOKEN", "tok-acme-0123456789abcdef")
    monkeypatch.setenv("COLUMNS", "250")
    router.gateway.responders["xero.contact.find_or_create"] = ok({"ContactID": "C-CLI"})
    zap = (await router.http.post("/v1/zaps", json=DESIGN_EXAMPLE, headers=ACME)).json()
    await send(router, "cli-1", amount=12)
    runner = CliRunner()

    async def zapctl_run(*args: str) -> Any:
        return await asyncio.to_thread(runner.invoke, zapctl, list(args))

    async def rendered() -> Any:
        result = await zapctl_run("test-step", zap["id"], "contact", "--event", "cli-1", "-o", "json")
        return result if result.exit_code == 0 else None

    shown = json.loads((await wait_for(rendered, timeout=30)).output)
    assert shown["input"]["Name"] == "Ada Lovelace" and shown["executed"] is False
    executed = await zapctl_run("test-step", zap["id"], "contact", "--event", "cli-1", "--execute")
    assert executed.exit_code == 0 and "C-CLI" in executed.output and "succeeded" in executed.output
    missing = await zapctl_run("test-step", zap["id"], "nope")
    assert missing.exit_code == 1 and "nope" in missing.output
