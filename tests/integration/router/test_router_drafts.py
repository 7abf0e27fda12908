"""Drafts on a real router: the published version runs while a draft is edited; publish, discard,
diff, stale drafts, 422 with every problem, tenancy, runs keep their version, and zapctl."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from design_zap import DESIGN_EXAMPLE
from router_harness import ACME, GLOBEX, ok
from test_router_api import TAG, send
from typer.testing import CliRunner
from waiting import wait_for

from kxflow_contracts.results import ActionResult
from zap_router.domain.runs import run_id_for
from zap_router.entrypoints.cli import app as zapctl

pytestmark = [pytest.mark.kafka, pytest.mark.mongo]


def with_tag(tag: str) -> dict[str, Any]:
    return {**TAG, "steps": [{**TAG["steps"][0], "input": {**TAG["steps"][0]["input"], "tag": tag}}]}


async def run_of(router, zap_id: str, event_id: str, status: str) -> dict[str, Any]:
    async def fetch() -> dict[str, Any] | None:
        res = await router.http.get(f"/v1/runs/{run_id_for(zap_id, event_id)}", headers=ACME)
        return res.json() if res.status_code == 200 and res.json()["status"] == status else None

    return await wait_for(fetch, timeout=45, message=f"run of {event_id} {status}")


async def test_the_published_version_runs_while_the_draft_is_edited_then_publish(router):
    router.gateway.responders["kartra.lead.tag.assign"] = ok({"status": "Success"})
    http = router.http
    zap = (await http.post("/v1/zaps", json=TAG, headers=ACME)).json()
    assert (await http.get(f"/v1/zaps/{zap['id']}/draft", headers=ACME)).status_code == 404

    saved = await http.put(f"/v1/zaps/{zap['id']}/draft", json=with_tag("vip"), headers=ACME)
    assert saved.status_code == 200, saved.text
    assert saved.json()["base_version"] == 1 and saved.json()["stale"] is False
    shown = (await http.get(f"/v1/zaps/{zap['id']}", headers=ACME)).json()
    assert shown["version"] == 1 and shown["draft"]["base_version"] == 1
    assert shown["spec"]["steps"][0]["input"]["tag"] == "buyer"
    listed = (await http.get("/v1/zaps", headers=ACME)).json()["items"]
    assert [z["has_draft"] for z in listed if z["id"] == zap["id"]] == [True]

    await send(router, "d-1")
    run = await run_of(router, zap["id"], "d-1", "succeeded")
    assert run["zap_version"] == 1
    assert router.gateway.commands(step_id="tag")[-1].input["tag"] == "buyer"  # the draft is not live

    diff = (await http.get(f"/v1/zaps/{zap['id']}/draft/diff", headers=ACME)).json()
    assert [(c["path"], c["op"], c["published"], c["draft"]) for c in diff["changes"]] == [
        ("steps[tag].input.tag", "changed", "buyer", "vip")
    ]
    assert "-    tag: buyer" in diff["unified"] and "+    tag: vip" in diff["unified"]

    published = await http.post(f"/v1/zaps/{zap['id']}/draft/publish", headers=ACME)
    assert published.status_code == 200, published.text
    assert published.json()["version"] == 2
    assert (await http.get(f"/v1/zaps/{zap['id']}/draft", headers=ACME)).status_code == 404
    assert (await http.get(f"/v1/zaps/{zap['id']}", headers=ACME)).json()["draft"] is None
    await send(router, "d-2")
    run = await run_of(router, zap["id"], "d-2", "succeeded")
    assert run["zap_version"] == 2
    assert router.gateway.commands(step_id="tag")[-1].input["tag"] == "vip"

    # Discard: the draft goes, the published version stays.
    await http.put(f"/v1/zaps/{zap['id']}/draft", json=with_tag("gone"), headers=ACME)
    assert (await http.delete(f"/v1/zaps/{zap['id']}/draft", headers=ACME)).status_code == 204
    assert (await http.delete(f"/v1/zaps/{zap['id']}/draft", headers=ACME)).status_code == 404
    assert (await http.get(f"/v1/zaps/{zap['id']}", headers=ACME)).json()["version"] == 2
    # Deleting the zap takes its draft with it.
    await http.put(f"/v1/zaps/{zap['id']}/draft", json=with_tag("orphan"), headers=ACME)
    assert (await http.delete(f"/v1/zaps/{zap['id']}", headers=ACME)).status_code == 204
    assert zap["id"] not in await router.services.zaps.store.drafted("acme")


async def test_an_invalid_draft_answers_422_with_every_problem_and_is_not_stored(router):
    zap = (await router.http.post("/v1/zaps", json=TAG, headers=ACME)).json()
    bad = {
        **TAG,
        "trigger": {**TAG["trigger"], "connection": "nope"},
        "steps": [{"id": "tag", "action": "kartra.lead.tag.assign", "input": {"tag": "{{ steps.later.x }}"}}],
    }
    res = await router.http.put(f"/v1/zaps/{zap['id']}/draft", json=bad, headers=ACME)
    assert res.status_code == 422
    locs = {p["loc"] for p in res.json()["detail"]}
    assert "trigger.connection" in locs and any(loc.startswith("steps[0].input") for loc in locs), locs
    assert len(res.json()["detail"]) >= 2
    assert (await router.http.get(f"/v1/zaps/{zap['id']}/draft", headers=ACME)).status_code == 404


async def test_a_stale_draft_is_refused_unless_forced(router):
    http = router.http
    zap = (await http.post("/v1/zaps", json=TAG, headers=ACME)).json()
    await http.put(f"/v1/zaps/{zap['id']}/draft", json=with_tag("draft"), headers=ACME)
    # A client that PUTs the zap still publishes at once (the API's meaning before drafts).
    put = await http.put(f"/v1/zaps/{zap['id']}", json=with_tag("direct"), headers=ACME)
    assert put.json()["version"] == 2
    diff = (await http.get(f"/v1/zaps/{zap['id']}/draft/diff", headers=ACME)).json()
    assert diff["stale"] is True and diff["base_version"] == 1 and diff["published_version"] == 2
    refused = await http.post(f"/v1/zaps/{zap['id']}/draft/publish", headers=ACME)
    assert refused.status_code == 409 and "version 2" in refused.json()["detail"]
    forced = await http.post(f"/v1/zaps/{zap['id']}/draft/publish", json={"force": True}, headers=ACME)
    assert forced.status_code == 200 and forced.json()["version"] == 3
    assert forced.json()["spec"]["steps"][0]["input"]["tag"] == "draft"


async def test_another_tenant_cannot_see_or_touch_a_draft(router):
    http = router.http
    zap = (await http.post("/v1/zaps", json=TAG, headers=ACME)).json()
    await http.put(f"/v1/zaps/{zap['id']}/draft", json=with_tag("secret-tag"), headers=ACME)
    base = f"/v1/zaps/{zap['id']}/draft"
    for method, path in (
        ("GET", base),
        ("GET", f"{base}/diff"),
        ("POST", f"{base}/publish"),
        ("DELETE", base),
    ):
        res = await http.request(method, path, headers=GLOBEX)
        assert res.status_code == 404 and "secret-tag" not in res.text, (method, path, res.text)
    res = await http.put(base, json=with_tag("globex"), headers=GLOBEX)
    assert res.status_code == 404
    assert (await http.get(base, headers=ACME)).json()["spec"]["steps"][0]["input"]["tag"] == "secret-tag"


async def test_a_run_keeps_the_version_it_started_on_when_a_draft_is_published(router):
    """Step 1's result arrives after v2 (a different invoice input) is published: step 2 is
    rendered from v1, the version the run started on."""
    http = router.http
    zap = (await http.post("/v1/zaps", json=DESIGN_EXAMPLE, headers=ACME)).json()
    await send(router, "v-1", amount=20)
    await wait_for(lambda: router.gateway.commands(step_id="contact"), timeout=45, message="contact command")
    contact = router.gateway.commands(step_id="contact")[0]

    draft = json.loads(json.dumps(DESIGN_EXAMPLE))
    draft["steps"][1]["input"]["Status"] = "DRAFT"
    assert (await http.put(f"/v1/zaps/{zap['id']}/draft", json=draft, headers=ACME)).status_code == 200
    assert (await http.post(f"/v1/zaps/{zap['id']}/draft/publish", headers=ACME)).json()["version"] == 2

    result = ActionResult(
        command_id=contact.command_id,
        run_id=contact.run_id,
        step_id="contact",
        status="succeeded",
        output={"ContactID": "C-1"},
    )
    await router.gateway.publish_result(result, 1)
    await wait_for(lambda: router.gateway.commands(step_id="invoice"), timeout=45, message="invoice command")
    invoice = router.gateway.commands(step_id="invoice")[0]
    assert invoice.zap_version == 1 and invoice.input["Status"] == "AUTHORISED"


async def test_zapctl_drafts(router, tmp_path: Path, monkeypatch):
    monkeypatch.setenv("ZAPCTL_URL", router.url)
    monkeypatch.setenv("ZAPCTL_TOKEN", "tok-acme-0123456789abcdef")
    monkeypatch.setenv("COLUMNS", "250")
    runner = CliRunner()

    async def zapctl_run(*args: str) -> Any:
        return await asyncio.to_thread(runner.invoke, zapctl, list(args))

    path = tmp_path / "zap.yaml"
    path.write_text(yaml.safe_dump(TAG))
    created = await zapctl_run("apply", "-f", str(path))
    zap_id = created.output.split()[1]
    path.write_text(yaml.safe_dump(with_tag("vip")))
    drafted = await zapctl_run("apply", "-f", str(path), "--draft")
    assert drafted.exit_code == 0 and "draft saved" in drafted.output, drafted.output
    assert "+draft" in (await zapctl_run("list")).output
    diff = await zapctl_run("draft", "diff", zap_id)
    assert diff.exit_code == 0 and "vip" in diff.output and "buyer" in diff.output
    shown = await zapctl_run("draft", "show", zap_id, "-o", "json")
    assert json.loads(shown.output)["spec"]["steps"][0]["input"]["tag"] == "vip"
    published = await zapctl_run("draft", "publish", zap_id)
    assert published.exit_code == 0 and "version 2" in published.output
    missing = await zapctl_run("draft", "discard", zap_id)
    assert missing.exit_code == 1 and "no draft" in missing.output
    path.write_text(yaml.safe_dump(with_tag("again")))
    await zapctl_run("apply", "-f", str(path), "--draft")
    discarded = await zapctl_run("draft", "discard", zap_id)
    assert discarded.exit_code == 0 and "discarded" in discarded.output
    path.write_text(yaml.safe_dump({**TAG, "trigger": {**TAG["trigger"], "event": "kartra.nope"}}))
    invalid = await zapctl_run("apply", "-f", str(path), "--draft")
    assert invalid.exit_code == 1 and "trigger.event" in invalid.output
