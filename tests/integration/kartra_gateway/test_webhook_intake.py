"""Every Kartra trigger through the real gateway: one event of the right type, key, schema and
normalized fields per sample; duplicates collapsed; malformed deliveries rejected with nothing
published; raw deliveries kept; IPN authenticated by its secret_key."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from integration.kartra_gateway.kartra_samples import (
    IPN_TYPES,
    LEAD,
    OUTBOUND,
    form_body,
    ipn_fields,
    outbound,
)
from integration.kartra_gateway.kartra_stack import TENANT, Stack, dig
from waiting import wait_for

from kxflow_contracts.catalog import CATALOG

pytestmark = [pytest.mark.kafka, pytest.mark.mongo]


def _lead(tag: str) -> dict[str, Any]:
    """The sample lead with a unique id/email, so each test owns its partition key."""
    return {**LEAD, "id": str(uuid.uuid4().int % 10**9), "email": f"{tag}-{uuid.uuid4().hex[:6]}@example.com"}


async def _events_for(stack: Stack, key: str, n: int = 1) -> list:
    return await wait_for(
        lambda: (
            (found := [r for r in stack.on(stack.settings.topics.kartra_events) if r.key == key])
            and len(found) >= n
            and found
        ),
        timeout=20,
        message=f"{n} event(s) keyed {key}",
    )


async def _post_marker(stack: Stack, lead: dict[str, Any]) -> None:
    """A later delivery on the same key (same partition): once it arrived, earlier ones would have too."""
    body = outbound("assign_tag", lead) | {"action_details": {"tag": {"tag_id": 99, "tag_name": "marker"}}}
    resp = await stack.http.post(stack.webhook_url, content=json.dumps(body))
    assert resp.status_code == 200, resp.text
    key = f"{TENANT}:{lead['id']}"
    await wait_for(
        lambda: any(
            r.key == key
            and r.event.data["kartra_action"] == "assign_tag"
            and r.event.data["tag"]["name"] == "marker"
            for r in stack.on(stack.settings.topics.kartra_events)
        ),
        timeout=20,
    )


@pytest.mark.parametrize("encoding", ["json", "form"])
@pytest.mark.parametrize("action", sorted(OUTBOUND))
async def test_outbound_sample_becomes_one_normalized_event(stack: Stack, action: str, encoding: str) -> None:
    lead = _lead(action)
    body = outbound(action, lead)
    if encoding == "json":
        resp = await stack.http.post(stack.webhook_url, content=json.dumps(body))
    else:
        resp = await stack.http.post(
            stack.webhook_url,
            content=form_body(body),
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
    assert resp.status_code == 200, resp.text
    assert resp.json()["status"] == "accepted"
    _, key_name, expected = OUTBOUND[action]
    entry = CATALOG.get(key_name)
    key = f"{TENANT}:{lead['id']}"
    (record,) = await _events_for(stack, key)
    assert record.event.type == entry.ce_type
    assert record.event.id == resp.json()["event_id"]
    assert record.event.tenant == TENANT
    entry.output_model.model_validate(record.event.data)
    assert record.event.data["lead"]["email"] == lead["email"]
    assert record.event.data["lead"]["date_joined"] == "2024-05-02T13:14:00Z"
    for path, value in expected.items():
        assert dig(record.event.data, path) == value, path

    if encoding == "json":
        duplicate = await stack.http.post(stack.webhook_url, content=json.dumps(body))
    else:
        duplicate = await stack.http.post(
            stack.webhook_url,
            content=form_body(body),
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
    assert duplicate.status_code == 200
    assert duplicate.json()["status"] == "duplicate"
    await _post_marker(stack, lead)
    same = [
        r
        for r in stack.on(stack.settings.topics.kartra_events)
        if r.key == key and r.event.type == entry.ce_type
    ]
    if action == "assign_tag":
        same = [r for r in same if r.event.data["tag"]["name"] != "marker"]
    assert len(same) == 1
    raws = [
        r
        for r in stack.on(stack.settings.topics.kartra_webhooks_raw)
        if r.event.id == f"{record.event.id}:raw"
    ]
    assert len(raws) == 1


@pytest.mark.parametrize("tx_type", sorted(IPN_TYPES))
async def test_ipn_post_becomes_one_payment_event(stack: Stack, tx_type: str) -> None:
    lead = _lead(f"ipn-{tx_type}")
    fields = ipn_fields(tx_type, stack.connection["ipn_secret_key"], lead["email"])
    fields["lead_id"] = lead["id"]
    resp = await stack.http.post(stack.ipn_url, data=fields)
    assert resp.status_code == 200, resp.text
    (record,) = await _events_for(stack, f"{TENANT}:{lead['id']}")
    assert record.event.type == CATALOG.get(IPN_TYPES[tx_type]).ce_type
    data = record.event.data
    assert data["channel"] == "ipn"
    assert data["transaction"]["amount"] == 116.4
    assert data["transaction"]["tax"] == 19.4
    assert data["transaction"]["affiliate"] is None  # "N/A"
    assert data["transaction"]["date"] == "2024-05-02T13:14:00Z"
    assert data["product"]["id"] == "223"
    raw = next(
        r
        for r in stack.on(stack.settings.topics.kartra_webhooks_raw)
        if r.event.id == f"{record.event.id}:raw"
    )
    assert stack.connection["ipn_secret_key"] not in json.dumps(raw.event.data)
    again = await stack.http.post(stack.ipn_url, data=fields)
    assert again.json()["status"] == "duplicate"


async def test_malformed_and_unauthenticated_deliveries_publish_nothing(stack: Stack) -> None:
    lead = _lead("bad")
    key = f"{TENANT}:{lead['id']}"
    no_lead = {"action": "assign_tag", "action_details": {"tag": {"tag_id": 1, "tag_name": "x"}}}
    cases = [
        (stack.webhook_url, json.dumps(no_lead), 400, "no lead"),
        (
            stack.webhook_url,
            json.dumps({"lead": {"first_name": "x"}, "action": "assign_tag"}),
            400,
            "no lead",
        ),
        (stack.webhook_url, '{"lead": {', 400, "not valid JSON"),
        (stack.webhook_url, json.dumps({"lead": {"id": lead["id"]}}), 400, "no action"),
        (stack.webhook_url, "", 400, "empty body"),
        (
            stack.webhook_url.rsplit("/", 1)[0] + "/wrong-secret",
            json.dumps(outbound("assign_tag", lead)),
            401,
            "",
        ),
        (
            stack.gateway + "/v1/webhooks/kartra/kc_nope/secret",
            json.dumps(outbound("assign_tag", lead)),
            401,
            "",
        ),
    ]
    for url, body, status, reason in cases:
        resp = await stack.http.post(url, content=body)
        assert resp.status_code == status, (url, body, resp.text)
        assert reason in resp.json()["detail"]
    bad_ipn = ipn_fields("sale", "wrong-secret", lead["email"]) | {"lead_id": lead["id"]}
    assert (await stack.http.post(stack.ipn_url, data=bad_ipn)).status_code == 401
    await _post_marker(stack, lead)
    assert [
        r.event.data["kartra_action"] for r in stack.on(stack.settings.topics.kartra_events) if r.key == key
    ] == ["assign_tag"]
    assert len([r for r in stack.on(stack.settings.topics.kartra_webhooks_raw) if r.key == key]) == 1


async def test_unknown_action_is_accepted_kept_raw_and_counted(stack: Stack) -> None:
    lead = _lead("unknown")
    body = {"lead": lead, "action": "helpdesk_ticket_opened", "action_details": {"ticket": {"id": 1}}}
    resp = await stack.http.post(stack.webhook_url, content=json.dumps(body))
    assert resp.status_code == 200
    assert resp.json()["status"] == "unknown_action"
    key = f"{TENANT}:{lead['id']}"
    raw = await wait_for(
        lambda: [r for r in stack.on(stack.settings.topics.kartra_webhooks_raw) if r.key == key], timeout=20
    )
    assert raw[0].event.data["known"] is False
    await _post_marker(stack, lead)
    assert [
        r.event.data["kartra_action"] for r in stack.on(stack.settings.topics.kartra_events) if r.key == key
    ] == ["assign_tag"]
    metrics = (await stack.http.get(f"{stack.gateway}/metrics")).text
    assert 'kartra_unknown_actions_total{action="helpdesk_ticket_opened"} 1.0' in metrics


async def test_sandbox_purchase_reaches_the_gateway_as_purchase_and_ipn_sale(stack: Stack) -> None:
    resp = await stack.http.post(
        f"{stack.sandbox}/_sandbox/simulate/purchase",
        json={"app_id": stack.kartra_app["app_id"], "email": "buyer@example.com", "first_name": "Bo"},
    )
    assert resp.status_code == 200
    out = resp.json()
    assert sorted(d["status"] for d in out["deliveries"]) == [200, 200]
    events = await _events_for(stack, f"{TENANT}:{out['lead_id']}", 2)
    types = sorted(r.event.type for r in events)
    assert types == ["kartra.payment.sold.v1", "kartra.product.purchased.v1"]
    purchase = next(r for r in events if r.event.type == "kartra.product.purchased.v1").event.data
    assert purchase["transaction"]["amount"] == 97.0
    assert purchase["product"]["name"] == "Pro Course"
    assert purchase["lead"]["first_name"] == "Bo"
