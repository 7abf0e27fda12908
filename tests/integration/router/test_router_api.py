"""The admin API and zapctl on a real router: validation, tenancy, versions, history, DLQ, dry-run."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from router_harness import ACME, GLOBEX, ok, publish_events, read_all, record_json, trigger_event
from typer.testing import CliRunner
from waiting import wait_for

from kxflow_contracts.results import ActionError, ActionResult
from zap_router.domain.runs import run_id_for
from zap_router.entrypoints.cli import app as zapctl
from zap_router.testing import purchase_event

pytestmark = [pytest.mark.kafka, pytest.mark.mongo]

TAG = {
    "name": "tag buyers",
    "trigger": {
        "app": "kartra",
        "event": "kartra.product.purchased",
        "connection": "kartra-main",
        "params": {"product_id": "123"},
    },
    "steps": [
        {
            "id": "tag",
            "action": "kartra.lead.tag.assign",
            "input": {"lead_email": "{{ trigger.lead.email }}", "tag": "buyer"},
        }
    ],
}


async def run_exists(router, run_id: str) -> bool:
    return (await router.http.get(f"/v1/runs/{run_id}", headers=ACME)).status_code == 200


async def send(
    router, event_id: str, tenant: str = "acme", connection: str = "kartra-main", **data: Any
) -> None:
    settings = router.services.settings
    event = trigger_event(event_id, tenant, purchase_event(connection_id=connection, **data))
    await publish_events(
        settings.kafka_bootstrap_servers, settings.topics.kartra_events, [(f"{tenant}:L1", event)]
    )


async def test_save_time_validation_answers_422_with_every_problem(router):
    bad = {
        **TAG,
        "trigger": {**TAG["trigger"], "connection": "nope"},
        "steps": [{"id": "tag", "action": "kartra.lead.tag.assign", "input": {"tag": "{{ steps.later.x }}"}}],
    }
    response = await router.http.post("/v1/zaps", json=bad, headers=ACME)
    assert response.status_code == 422
    locs = {p["loc"] for p in response.json()["detail"]}
    assert {"trigger.connection", "steps[0].input.lead_email", "steps[0].input.tag"} <= locs
    shape = await router.http.post("/v1/zaps", json={"name": "x"}, headers=ACME)
    assert shape.status_code == 422
    assert {tuple(e["loc"])[-1] for e in shape.json()["detail"]} >= {"trigger", "steps"}


async def test_tokens_and_tenants_never_cross(router):
    assert (await router.http.get("/v1/zaps")).status_code == 401
    assert (await router.http.get("/v1/zaps", headers={"Authorization": "Bearer wrong"})).status_code == 401
    zap = (await router.http.post("/v1/zaps", json=TAG, headers=ACME)).json()
    assert (await router.http.get(f"/v1/zaps/{zap['id']}", headers=GLOBEX)).status_code == 404
    assert (await router.http.get("/v1/zaps", headers=GLOBEX)).json()["items"] == []
    assert (await router.http.post(f"/v1/zaps/{zap['id']}/disable", headers=GLOBEX)).status_code == 404
    # globex's connection names are not acme's
    assert (await router.http.post("/v1/zaps", json=TAG, headers=GLOBEX)).status_code == 422

    router.gateway.responders["kartra.lead.tag.assign"] = ok({"status": "Success"})
    await send(router, "e-acme")
    await send(router, "e-globex", tenant="globex")  # same trigger and connection name, other tenant
    run_id = run_id_for(zap["id"], "e-acme")
    await wait_for(lambda: run_exists(router, run_id), timeout=45)
    assert (await router.http.get(f"/v1/runs/{run_id}", headers=GLOBEX)).status_code == 404
    assert (await router.http.get("/v1/runs", headers=GLOBEX)).json()["items"] == []
    assert (await router.http.post(f"/v1/runs/{run_id}/replay", headers=GLOBEX)).status_code == 404
    assert run_id_for(zap["id"], "e-globex") not in {
        r["id"] for r in (await router.http.get("/v1/runs", headers=ACME)).json()["items"]
    }


async def test_versions_enable_disable_delete_and_the_changelog(router):
    zap = (await router.http.post("/v1/zaps", json=TAG, headers=ACME)).json()
    changed = {**TAG, "name": "tag buyers v2"}
    updated = (await router.http.put(f"/v1/zaps/{zap['id']}", json=changed, headers=ACME)).json()
    assert updated["version"] == 2
    stale = await router.http.put(f"/v1/zaps/{zap['id']}", json=TAG, headers={**ACME, "If-Match": "1"})
    assert stale.status_code == 409
    versions = (await router.http.get(f"/v1/zaps/{zap['id']}/versions", headers=ACME)).json()["items"]
    assert [v["version"] for v in versions] == [1, 2]
    old = (await router.http.get(f"/v1/zaps/{zap['id']}", params={"version": 1}, headers=ACME)).json()
    assert old["spec"]["name"] == "tag buyers"

    router.gateway.responders["kartra.lead.tag.assign"] = ok({"status": "Success"})
    sentinel = {**TAG, "name": "sentinel", "trigger": {**TAG["trigger"], "params": {"product_id": "777"}}}
    other = (await router.http.post("/v1/zaps", json=sentinel, headers=ACME)).json()
    assert (await router.http.post(f"/v1/zaps/{zap['id']}/disable", headers=ACME)).json()["enabled"] is False
    await send(router, "e-off")
    await send(router, "e-sentinel", product_id="777")  # same key, so consumed after e-off
    await wait_for(lambda: run_exists(router, run_id_for(other["id"], "e-sentinel")), timeout=45)
    assert (await router.http.post(f"/v1/zaps/{zap['id']}/enable", headers=ACME)).json()["enabled"] is True
    await send(router, "e-on")
    await wait_for(lambda: run_exists(router, run_id_for(zap["id"], "e-on")), timeout=45)
    run = await router.http.get(f"/v1/runs/{run_id_for(zap['id'], 'e-on')}", headers=ACME)
    assert run.json()["zap_version"] == 2
    assert (
        await router.http.get(f"/v1/runs/{run_id_for(zap['id'], 'e-off')}", headers=ACME)
    ).status_code == 404

    assert (await router.http.delete(f"/v1/zaps/{zap['id']}", headers=ACME)).status_code == 204
    assert (await router.http.get(f"/v1/zaps/{zap['id']}", headers=ACME)).status_code == 404
    settings = router.services.settings
    records = await read_all(settings.kafka_bootstrap_servers, settings.topics.zaps, expect=6)
    mine = [r for r in records if r.key == f"acme:{zap['id']}".encode()]
    assert [None if not r.value else record_json(r)["revision"] for r in mine] == [1, 2, 3, 4, None]


async def test_run_history_filters_and_cursor_pagination(router):
    router.gateway.responders["kartra.lead.tag.assign"] = ok({"status": "Success"})
    zap = (await router.http.post("/v1/zaps", json=TAG, headers=ACME)).json()
    for i in range(5):
        await send(router, f"e-page-{i}")
    await send(router, "e-other-product", product_id="999")

    async def five() -> list:
        items = (
            await router.http.get(
                "/v1/runs", params={"zap_id": zap["id"], "status": "succeeded"}, headers=ACME
            )
        ).json()["items"]
        return items if len(items) == 5 else []

    await wait_for(five, timeout=45)
    seen, cursor = [], None
    while True:
        params = {"zap_id": zap["id"], "limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await router.http.get("/v1/runs", params=params, headers=ACME)).json()
        seen += [r["id"] for r in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert len(seen) == len(set(seen)) == 5
    assert "steps" not in page["items"][0]  # listings are light; one run has everything
    assert (await router.http.get("/v1/runs", params={"status": "failed"}, headers=ACME)).json()[
        "items"
    ] == []
    assert (await router.http.get("/v1/runs", params={"cursor": "garbage"}, headers=ACME)).status_code == 400


async def test_poison_events_go_to_the_dlq_with_the_reason_and_the_rest_is_processed(router):
    router.gateway.responders["kartra.lead.tag.assign"] = ok({"status": "Success"})
    zap = (await router.http.post("/v1/zaps", json=TAG, headers=ACME)).json()
    settings = router.services.settings
    good = trigger_event("e-good", "acme", purchase_event(connection_id="kartra-main"))
    headers = [
        ("ce_specversion", b"1.0"),
        ("ce_id", b"bad-1"),
        ("ce_source", b"/x"),
        ("ce_type", b"kartra.product.purchased.v1"),
        ("ce_tenant", b"acme"),
    ]
    await publish_events(
        settings.kafka_bootstrap_servers,
        settings.topics.kartra_events,
        [("acme:L1", good)],
        raw=[(b"{not json", headers), (b"{}", [("ce_id", b"no-type")])],
    )
    await wait_for(lambda: run_exists(router, run_id_for(zap["id"], "e-good")), timeout=45)
    dlq = await read_all(
        settings.kafka_bootstrap_servers, settings.topics.dlq(settings.topics.kartra_events), 2
    )
    reasons = {dict(r.headers)["x-error-class"].decode(): r.value for r in dlq}
    assert set(reasons) == {"EnvelopeError"} and len(dlq) == 2
    assert all(dict(r.headers)["x-original-topic"].decode() == settings.topics.kartra_events for r in dlq)
    metrics = (await router.http.get("/metrics")).text
    assert "kxflow_router_dead_letters_total" in metrics and "kxflow_router_runs_total" in metrics


async def test_dry_run_reports_matches_over_past_events_and_sends_nothing(router):
    await send(router, "e-past-1", amount=10)
    await send(router, "e-past-2", amount=0)
    await send(router, "e-past-3", product_id="999")
    draft = {
        **TAG,
        "filter": {"any": [{"all": [{"field": "trigger.transaction.amount", "op": "gt", "value": 0}]}]},
        "steps": [
            {
                "id": "tag",
                "action": "kartra.lead.tag.assign",
                "input": {
                    "lead_email": "{{ trigger.lead.email }}",
                    "tag": "paid-{{ trigger.transaction.amount }}",
                },
            }
        ],
    }
    body = {"spec": draft, "since": "2020-01-01T00:00:00Z"}
    report = (await router.http.post("/v1/zaps/dry-run", json=body, headers=ACME)).json()
    assert (report["events_read"], report["would_run"], report["filtered"], report["params_mismatch"]) == (
        3,
        1,
        1,
        1,
    )
    [would] = [e for e in report["events"] if e["outcome"] == "would_run"]
    assert would["steps"][0]["input"] == {
        "lead_email": "ada@example.com",
        "tag": "paid-10",
    }  # JSON 10.0 is read back as 10
    assert router.gateway.commands() == []
    assert (await router.http.get("/v1/runs", headers=ACME)).json()["items"] == []


async def test_a_zap_that_keeps_failing_is_turned_off_and_an_event_says_why(router):
    def rejected(cmd):
        return ActionResult(
            command_id=cmd.command_id,
            run_id=cmd.run_id,
            step_id=cmd.step_id,
            status="failed",
            error=ActionError(code="invalid", message="Lead is banned"),
        )

    router.gateway.responders["kartra.lead.tag.assign"] = rejected
    zap = (await router.http.post("/v1/zaps", json=TAG, headers=ACME)).json()
    for i in range(21):
        await send(router, f"e-fail-{i}")

    async def turned_off() -> dict | None:
        body = (await router.http.get(f"/v1/zaps/{zap['id']}", headers=ACME)).json()
        return body if not body["enabled"] else None

    body = await wait_for(turned_off, timeout=60, interval=0.2)
    assert "21 runs failed" in body["disabled_reason"]
    settings = router.services.settings
    records = await read_all(settings.kafka_bootstrap_servers, settings.topics.runs, expect=64)
    disabled = [record_json(r) for r in records if record_json(r)["transition"] == "zap_disabled"]
    assert len(disabled) == 1 and disabled[0]["zap_id"] == zap["id"]
    assert "95%" in disabled[0]["error"]["message"]


async def test_zapctl_apply_list_runs_show_and_catalog(router, tmp_path: Path, monkeypatch):
    monkeypatch.setenv("ZAPCTL_URL", router.url)
    monkeypatch.setenv("ZAPCTL_TOKEN", "tok-acme-0123456789abcdef")
    monkeypatch.setenv("COLUMNS", "250")  # rich tables: room for full ids
    runner = CliRunner()

    async def zapctl_run(*args: str) -> Any:
        return await asyncio.to_thread(runner.invoke, zapctl, list(args))

    path = tmp_path / "zap.yaml"
    path.write_text(yaml.safe_dump(TAG))
    created = await zapctl_run("apply", "-f", str(path))
    assert created.exit_code == 0 and "created" in created.output
    path.write_text(
        yaml.safe_dump({**TAG, "steps": [{**TAG["steps"][0], "input": {"lead_email": "x", "tag": "y"}}]})
    )
    updated = await zapctl_run("apply", "-f", str(path))
    assert updated.exit_code == 0 and "version 2" in updated.output
    listing = await zapctl_run("list")
    assert "tag buyers" in listing.output

    path.write_text(
        yaml.safe_dump({**TAG, "name": "broken", "trigger": {**TAG["trigger"], "event": "kartra.nope"}})
    )
    broken = await zapctl_run("apply", "-f", str(path))
    assert broken.exit_code == 1 and "trigger.event" in broken.output

    router.gateway.responders["kartra.lead.tag.assign"] = ok({"status": "Success"})
    zap_id = json.loads((await zapctl_run("get", created.output.split()[1], "-o", "json")).output)["id"]
    await send(router, "e-cli")
    run_id = run_id_for(zap_id, "e-cli")

    async def done() -> bool:
        r = await router.http.get(f"/v1/runs/{run_id}", headers=ACME)
        return r.status_code == 200 and r.json()["status"] == "succeeded"

    await wait_for(done, timeout=45)
    shown = await zapctl_run("run", "show", run_id)
    assert (
        shown.exit_code == 0
        and "tag" in shown.output
        and "succeeded" in shown.output
        and "Success" in shown.output
    )
    runs = await zapctl_run("runs", "--zap", zap_id)
    assert run_id in runs.output
    catalog = await zapctl_run("catalog", "--app", "xero")
    assert "xero.contact.find" in catalog.output and "kartra." not in catalog.output
    unauth = await asyncio.to_thread(runner.invoke, zapctl, ["list"], env={"ZAPCTL_TOKEN": "nope"})
    assert unauth.exit_code == 1 and "ZAPCTL_TOKEN" in unauth.output
