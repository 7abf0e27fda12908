"""Cancel and disable (issue 15): one run or many by query; turning a zap off cancels its waiting
runs; a command already sent finishes but its result no longer moves a cancelled run; backfilled
events start runs only in zaps that opt in."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from router_harness import ACME, GLOBEX, ok, publish_events, trigger_event
from test_router_api import TAG
from test_router_runs_e2e import create_zap, run_of, send
from typer.testing import CliRunner
from waiting import wait_for

from kxflow_contracts.commands import ActionCommand
from kxflow_contracts.results import ActionError, ActionResult
from zap_router.domain.runs import run_id_for
from zap_router.entrypoints.cli import app as zapctl
from zap_router.testing import purchase_event

pytestmark = [pytest.mark.kafka, pytest.mark.mongo]
TAG_ACTION = "kartra.lead.tag.assign"


def busy(cmd: ActionCommand) -> ActionResult:
    error = ActionError(code="rate_limited", message="429", retryable=True, http_status=429)
    return ActionResult(
        command_id=cmd.command_id, run_id=cmd.run_id, step_id=cmd.step_id, status="failed", error=error
    )


async def test_cancel_one_run_and_refuse_finished_or_foreign_ones(router):
    router.gateway.responders[TAG_ACTION] = busy
    zap = await create_zap(router, TAG)
    await send(router, "e-cancel-1")
    run = await run_of(router, zap["id"], "e-cancel-1", "waiting")

    assert (await router.http.post(f"/v1/runs/{run['id']}/cancel", headers=GLOBEX)).status_code == 404
    response = await router.http.post(f"/v1/runs/{run['id']}/cancel", headers=ACME)
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "cancelled"
    assert response.json()["error"]["code"] == "cancelled"
    again = await router.http.post(f"/v1/runs/{run['id']}/cancel", headers=ACME)
    assert again.status_code == 409 and "cancelled" in again.json()["detail"]

    # its retry comes due: nothing is sent, the run stays cancelled
    router.clock.advance(3600)
    assert await router.services.engine.tick() == 0
    assert (await run_of(router, zap["id"], "e-cancel-1"))["status"] == "cancelled"
    assert len(router.gateway.commands(TAG_ACTION)) == 1


async def test_cancel_many_by_query_and_a_late_result_changes_nothing(router):
    zap = await create_zap(router, TAG)  # no responder: the runs stay running
    for i in range(3):
        await send(router, f"e-many-{i}")
    for i in range(3):
        await run_of(router, zap["id"], f"e-many-{i}", "running")
    await wait_for(lambda: len(router.gateway.commands(TAG_ACTION)) == 3 or None, timeout=30)

    response = await router.http.post("/v1/runs/cancel", json={"zap_id": zap["id"]}, headers=GLOBEX)
    assert response.json() == {"cancelled": 0, "skipped": 0}  # another tenant's runs are not seen
    refused = await router.http.post("/v1/runs/cancel", json={"status": "succeeded"}, headers=ACME)
    assert refused.status_code == 422  # only running or waiting runs can be cancelled
    response = await router.http.post("/v1/runs/cancel", json={"zap_id": zap["id"]}, headers=ACME)
    assert response.json() == {"cancelled": 3, "skipped": 0}

    # the command sent before the cancel finishes at the gateway; its result is not applied
    late = router.gateway.commands(TAG_ACTION)[0]
    await router.gateway.publish_result(ok({"status": "Success"})(late), late.attempt)
    await send(router, "e-many-marker")  # a later event on the same path proves the result was read
    router.gateway.responders[TAG_ACTION] = ok({"status": "Success"})
    await run_of(router, zap["id"], "e-many-marker", "succeeded")
    listed = await router.http.get(
        "/v1/runs", params={"zap_id": zap["id"], "status": "cancelled"}, headers=ACME
    )
    assert len(listed.json()["items"]) == 3


async def test_disabling_a_zap_cancels_its_waiting_runs(router):
    router.gateway.responders[TAG_ACTION] = busy
    zap = await create_zap(router, TAG)
    for i in range(2):
        await send(router, f"e-off-{i}")
    for i in range(2):
        await run_of(router, zap["id"], f"e-off-{i}", "waiting")
    assert (await router.http.post(f"/v1/zaps/{zap['id']}/disable", headers=ACME)).status_code == 200
    for i in range(2):
        run = await run_of(router, zap["id"], f"e-off-{i}", "cancelled", timeout=10)
        assert "turned off" in run["error"]["message"]


async def test_backfilled_events_start_runs_only_in_zaps_that_opt_in(router):
    router.gateway.responders[TAG_ACTION] = ok({"status": "Success"})
    plain = await create_zap(router, TAG)
    opted: dict[str, Any] = await create_zap(
        router, {**TAG, "name": "tag backfilled buyers too", "backfill": True}
    )
    topics = router.services.settings.topics
    data = {**purchase_event(connection_id="kartra-main"), "origin": "backfill"}
    await publish_events(
        router.services.settings.kafka_bootstrap_servers,
        topics.kartra_events,
        [("acme:L1", trigger_event("e-backfill", "acme", data))],
    )
    await run_of(router, opted["id"], "e-backfill", "succeeded")
    await send(router, "e-live")  # a live event after it: both zaps run it
    await run_of(router, plain["id"], "e-live", "succeeded")
    missing = await router.http.get(f"/v1/runs/{run_id_for(plain['id'], 'e-backfill')}", headers=ACME)
    assert missing.status_code == 404


async def test_zapctl_cancels_one_run_and_many_by_query(router, monkeypatch):
    monkeypatch.setenv("ZAPCTL_URL", router.url)
    monkeypatch.setenv("ZAPCTL_TOKEN", "tok-acme-0123456789abcdef")
    monkeypatch.setenv("COLUMNS", "250")
    runner = CliRunner()

    async def zapctl_run(*args: str) -> Any:
        return await asyncio.to_thread(runner.invoke, zapctl, list(args))

    router.gateway.responders[TAG_ACTION] = busy
    zap = await create_zap(router, TAG)
    for i in range(3):
        await send(router, f"e-cli-cancel-{i}")
    runs = [await run_of(router, zap["id"], f"e-cli-cancel-{i}", "waiting") for i in range(3)]

    one = await zapctl_run("cancel", runs[0]["id"])
    assert one.exit_code == 0 and "cancelled" in one.output
    refused = await zapctl_run("cancel")
    assert refused.exit_code == 1 and "narrow" in refused.output
    many = await zapctl_run("cancel", "--zap", zap["id"], "--status", "waiting")
    assert many.exit_code == 0 and "cancelled 2 run(s)" in many.output
    for i in range(3):
        assert (await run_of(router, zap["id"], f"e-cli-cancel-{i}"))["status"] == "cancelled"
