"""Catch-up from the log on a real router (real Kafka + FerretDB, a fake gateway): events that
already have a run are skipped, the others start runs with the same command ids a live run uses;
dry-run starts nothing; progress and the summary; refusals; tenancy; zapctl."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from router_harness import ACME, GLOBEX, ok
from test_router_api import TAG, send
from typer.testing import CliRunner
from waiting import wait_for

from kxflow_contracts.commands import command_id
from zap_router.domain.runs import run_id_for
from zap_router.entrypoints.cli import app as zapctl

pytestmark = [pytest.mark.kafka, pytest.mark.mongo]

# The tag zap, with a filter so a catch-up also records a filtered run.
TAG = {**TAG, "filter": {"any": [{"all": [{"field": "trigger.transaction.amount", "op": "gt", "value": 0}]}]}}


async def status_of(router, zap_id: str, event_id: str) -> str | None:
    res = await router.http.get(f"/v1/runs/{run_id_for(zap_id, event_id)}", headers=ACME)
    return res.json()["status"] if res.status_code == 200 else None


async def finished(router, zap_id: str, job_id: str) -> dict[str, Any]:
    async def done() -> dict[str, Any] | None:
        job = (await router.http.get(f"/v1/zaps/{zap_id}/catchups/{job_id}", headers=ACME)).json()
        return job if job["status"] != "running" else None

    return await wait_for(done, timeout=60, message=f"catch-up {job_id}")


async def test_catch_up_skips_events_with_runs_and_starts_the_rest_once(router):
    router.gateway.responders["kartra.lead.tag.assign"] = ok({"status": "Success"})
    http = router.http
    since = datetime.now(UTC) - timedelta(seconds=2)
    zap = (await http.post("/v1/zaps", json=TAG, headers=ACME)).json()
    sentinel = (await http.post("/v1/zaps", json={**TAG, "name": "sentinel"}, headers=ACME)).json()
    for event_id in ("c-1", "c-2"):
        await send(router, event_id, amount=10)
    for event_id in ("c-1", "c-2"):
        await wait_for(lambda e=event_id: status_of(router, zap["id"], e), timeout=45)
    await wait_for(lambda: status_of(router, zap["id"], "c-2"), timeout=45)
    await http.post(f"/v1/zaps/{zap['id']}/disable", headers=ACME)
    await send(router, "c-3", amount=10)
    await send(router, "c-3", amount=10)  # the same event delivered twice
    await send(router, "c-other", product_id="999")  # another product: not this zap's event
    await send(router, "c-globex", tenant="globex")  # another tenant's event on the same topic
    await send(router, "c-4", amount=0)  # filtered by the zap's filter
    # The sentinel's run of c-4 (same key, so consumed after the others) says the router has read
    # them all while the zap was off: none can start a live run once it is back on.
    await wait_for(lambda: status_of(router, sentinel["id"], "c-4"), timeout=45, message="c-4 consumed")
    refused = await http.post(
        f"/v1/zaps/{zap['id']}/catchups", json={"since": since.isoformat()}, headers=ACME
    )
    assert refused.status_code == 409 and "off" in refused.json()["detail"]

    # A dry run is allowed while off, and starts nothing.
    res = await http.post(
        f"/v1/zaps/{zap['id']}/catchups", json={"since": since.isoformat(), "dry_run": True}, headers=ACME
    )
    assert res.status_code == 202, res.text
    dry = await finished(router, zap["id"], res.json()["id"])
    assert dry["status"] == "succeeded" and dry["dry_run"] is True
    assert dry["counts"] == {
        "scanned": 5,
        "started": 1,
        "skipped": 3,
        "filtered": 1,
        "failed": 0,
        "ignored": 0,
    }
    assert await status_of(router, zap["id"], "c-3") is None

    await http.post(f"/v1/zaps/{zap['id']}/enable", headers=ACME)

    def mine() -> list[Any]:  # the catch-up zap's commands (not the sentinel's)
        return [c for c in router.gateway.commands() if c.zap_id == zap["id"]]

    sent_before = len(mine())
    res = await http.post(f"/v1/zaps/{zap['id']}/catchups", json={"since": since.isoformat()}, headers=ACME)
    job = await finished(router, zap["id"], res.json()["id"])
    assert job["status"] == "succeeded", job
    assert job["counts"] == {
        "scanned": 5,
        "started": 1,
        "skipped": 3,
        "filtered": 1,
        "failed": 0,
        "ignored": 0,
    }
    assert job["position"] == job["total"] > 0 and job["progress"] == 1.0
    await wait_for(lambda: status_of(router, zap["id"], "c-3"), timeout=45)
    assert await status_of(router, zap["id"], "c-4") == "filtered"
    assert await status_of(router, zap["id"], "c-other") is None

    async def succeeded() -> bool:
        return await status_of(router, zap["id"], "c-3") == "succeeded"

    await wait_for(succeeded, timeout=45)
    new = mine()[sent_before:]
    assert [c.command_id for c in new] == [command_id(zap["id"], "c-3", "tag")]  # one command, the live id

    # Again over the same window: everything is skipped, nothing is sent.
    res = await http.post(f"/v1/zaps/{zap['id']}/catchups", json={"since": since.isoformat()}, headers=ACME)
    again = await finished(router, zap["id"], res.json()["id"])
    assert again["counts"]["skipped"] == 5 and again["counts"]["started"] == 0
    assert len(mine()) == sent_before + 1
    listed = (await http.get(f"/v1/zaps/{zap['id']}/catchups", headers=ACME)).json()["items"]
    assert {j["id"] for j in listed} == {dry["id"], job["id"], again["id"]}  # (the test's clock stands still)

    # Another tenant sees none of it.
    assert (await http.get(f"/v1/zaps/{zap['id']}/catchups", headers=GLOBEX)).status_code == 404
    assert (await http.get(f"/v1/zaps/{zap['id']}/catchups/{job['id']}", headers=GLOBEX)).status_code == 404
    res = await http.post(f"/v1/zaps/{zap['id']}/catchups", json={"since": since.isoformat()}, headers=GLOBEX)
    assert res.status_code == 404


async def test_catch_up_refuses_an_empty_window_and_cancel_of_a_finished_job(router):
    http = router.http
    zap = (await http.post("/v1/zaps", json=TAG, headers=ACME)).json()
    future = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    res = await http.post(f"/v1/zaps/{zap['id']}/catchups", json={"since": future}, headers=ACME)
    assert res.status_code == 409 and "empty" in res.json()["detail"]
    res = await http.post(f"/v1/zaps/{zap['id']}/catchups", json={"since": "not a date"}, headers=ACME)
    assert res.status_code == 422
    since = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    res = await http.post(f"/v1/zaps/{zap['id']}/catchups", json={"since": since}, headers=ACME)
    job = await finished(router, zap["id"], res.json()["id"])
    res = await http.post(f"/v1/zaps/{zap['id']}/catchups/{job['id']}/cancel", headers=ACME)
    assert res.status_code == 409 and "succeeded" in res.json()["detail"]
    assert (await http.get(f"/v1/zaps/{zap['id']}/catchups/cu_nope", headers=ACME)).status_code == 404


async def test_zapctl_catchup_shows_progress_and_the_summary(router, tmp_path: Path, monkeypatch):
    monkeypatch.setenv("ZAPCTL_URL", router.url)
    monkeypatch.setenv("ZAPCTL_TOKEN", "tok-acme-0123456789abcdef")
    monkeypatch.setenv("COLUMNS", "250")
    router.gateway.responders["kartra.lead.tag.assign"] = ok({"status": "Success"})
    since = (datetime.now(UTC) - timedelta(seconds=2)).replace(microsecond=0)
    path = tmp_path / "zap.yaml"
    path.write_text(yaml.safe_dump({**TAG, "enabled": False}))
    runner = CliRunner()

    async def zapctl_run(*args: str) -> Any:
        return await asyncio.to_thread(runner.invoke, zapctl, list(args))

    created = await zapctl_run("apply", "-f", str(path))
    zap_id = created.output.split()[1]
    await send(router, "z-1", amount=5)
    await send(router, "z-2", amount=5)
    await router.http.post(f"/v1/zaps/{zap_id}/enable", headers=ACME)
    dry = await zapctl_run("catchup", "--zap", zap_id, "--since", since.isoformat(), "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "WOULD START" in dry.output and "succeeded" in dry.output
    result = await zapctl_run("catchup", "--zap", zap_id, "--since", since.isoformat())
    assert result.exit_code == 0, result.output
    row = next(line for line in result.output.splitlines() if "succeeded" in line)
    assert [c.strip() for c in row.split("│")[2:5]] == ["2", "2", "0"], result.output
    for event_id in ("z-1", "z-2"):
        await wait_for(lambda e=event_id: status_of(router, zap_id, e), timeout=45)
    missing = await zapctl_run("catchup", "--zap", zap_id)
    assert missing.exit_code == 1 and "--since" in missing.output
