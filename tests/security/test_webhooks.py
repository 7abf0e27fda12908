"""Webhook endpoints: a wrong secret or signature is a 401 and publishes nothing; oversized bodies and
malformed encodings are a clear 4xx, never a 5xx (a 5xx makes the sender retry the same junk forever)
and never a record on Kafka."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json

import httpx
import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.structs import TopicPartition
from security.inprocess_system import System

from kxflow_contracts.runtime.http import MAX_WEBHOOK_BODY_BYTES


async def _end_offsets(kafka: str, topics: list[str]) -> int:
    consumer = AIOKafkaConsumer(bootstrap_servers=kafka)
    await consumer.start()
    try:
        parts = [TopicPartition(t, p) for t in topics for p in (consumer.partitions_for_topic(t) or set())]
        if not parts:
            await consumer.topics()  # refresh metadata
            parts = [
                TopicPartition(t, p) for t in topics for p in (consumer.partitions_for_topic(t) or set())
            ]
        return sum((await consumer.end_offsets(parts)).values())
    finally:
        await consumer.stop()


def records_on_webhook_topics(system: System) -> int:
    """Records ever written to every topic a webhook can publish to (raw deliveries and events)."""
    t = system.topics
    topics = [t.kartra_webhooks_raw, t.kartra_events, t.xero_webhooks_raw, t.xero_events]
    return asyncio.run(_end_offsets(system.kafka, topics))


def xero_signature(system: System, body: bytes) -> str:
    key = system.xero_sandbox.config.webhook_key.encode()
    return base64.b64encode(hmac.new(key, body, hashlib.sha256).digest()).decode()


PURCHASE = {
    "lead": {"id": "991", "email": "sec@example.com", "first_name": "Sec"},
    "action": "buy_product",
    "action_details": {"transaction_details": {"transaction_id": "991", "product_id": "223"}},
}


def test_wrong_secret_or_signature_is_401_and_publishes_nothing(system: System) -> None:
    gw, conn = system.urls["kartra-gateway"], system.kartra_connection
    other_secret = "x" * len(conn["webhook_secret"])
    form_ipn = f"transaction_type=sale&lead_email=sec@example.com&secret_key={other_secret}"
    body = json.dumps({"events": [], "firstEventSequence": 0, "lastEventSequence": 0}).encode()
    before = records_on_webhook_topics(system)
    with httpx.Client(timeout=30) as http:
        answers = {
            "wrong secret": http.post(f"{gw}/v1/webhooks/kartra/{conn['id']}/{other_secret}", json=PURCHASE),
            "secret of another connection id": http.post(
                f"{gw}/v1/webhooks/kartra/not-{conn['id']}/{conn['webhook_secret']}", json=PURCHASE
            ),
            "empty secret": http.post(f"{gw}/v1/webhooks/kartra/{conn['id']}/%20", json=PURCHASE),
            "IPN wrong secret_key": http.post(
                system.kartra_ipn_url,
                content=form_ipn,
                headers={"content-type": "application/x-www-form-urlencoded"},
            ),
            "IPN no secret_key": http.post(
                system.kartra_ipn_url,
                content="transaction_type=sale&lead_email=sec@example.com",
                headers={"content-type": "application/x-www-form-urlencoded"},
            ),
            "Xero bad signature": http.post(
                f"{system.urls['xero-gateway']}/v1/webhooks/xero",
                content=body,
                headers={"x-xero-signature": xero_signature(system, body + b" ")},
            ),
            "Xero no signature": http.post(f"{system.urls['xero-gateway']}/v1/webhooks/xero", content=body),
        }
    wrong = {name: r.status_code for name, r in answers.items() if r.status_code != 401}
    assert not wrong, f"expected 401 for each: {wrong}"
    # Every answer was given after any publish would have been acknowledged (DESIGN §3).
    assert records_on_webhook_topics(system) == before


def _malformed_kartra_bodies() -> dict[str, tuple[bytes, str]]:
    deep = b"[" * 100_000 + b"]" * 100_000
    form = "application/x-www-form-urlencoded"
    return {
        "not UTF-8": ("lead[email]=é&action=buy_product".encode("latin-1"), form),
        "invalid JSON": (b'{"lead": {', "application/json"),
        "JSON array": (b"[1, 2]", "application/json"),
        "JSON string": (b'"buy_product"', "application/json"),
        "deeply nested JSON": (deep, "application/json"),
        "deeply nested form keys": (b"lead" + b"[x]" * 20_000 + b"=1&action=buy_product", ""),
        "empty": (b"", "application/json"),
        "whitespace": (b" \n\t ", ""),
        "no action": (json.dumps({"lead": {"email": "a@b.c"}}).encode(), "application/json"),
        "no lead": (json.dumps({"action": "buy_product"}).encode(), "application/json"),
        "lead not an object": (json.dumps({"lead": 5, "action": "buy_product"}).encode(), "application/json"),
        "binary": (bytes(range(256)) * 4, "application/octet-stream"),
        "gzip header, plain body": (b"\x1f\x8b garbage", "application/json"),
        "multipart without boundary": (b"--x\r\n\r\n", "multipart/form-data"),
        "form of only separators": (b"&&&===&", form),
    }


@pytest.mark.parametrize("case", sorted(_malformed_kartra_bodies()))
def test_malformed_kartra_deliveries_are_4xx_and_publish_nothing(system: System, case: str) -> None:
    body, ctype = _malformed_kartra_bodies()[case]
    before = records_on_webhook_topics(system)
    headers = {"content-type": ctype} if ctype else {}
    with httpx.Client(timeout=60) as http:
        outbound = http.post(system.kartra_webhook_url, content=body, headers=headers)
        ipn = http.post(system.kartra_ipn_url, content=body, headers=headers)
    for name, res in (("webhook", outbound), ("IPN", ipn)):
        assert 400 <= res.status_code < 500, f"{name} {case}: {res.status_code} {res.text[:300]}"
        assert res.json().get("detail"), f"{name} {case}: a 4xx must say what is wrong"
    assert records_on_webhook_topics(system) == before


def test_oversized_bodies_are_413_everywhere(system: System) -> None:
    filler = "a" * (MAX_WEBHOOK_BODY_BYTES + 1)
    big = json.dumps({**PURCHASE, "action_details": {"note": filler}}).encode()
    before = records_on_webhook_topics(system)
    with httpx.Client(timeout=60) as http:
        answers = {
            "webhook": http.post(system.kartra_webhook_url, content=big),
            "IPN": http.post(system.kartra_ipn_url, content=b"secret_key=x&note=" + filler.encode()),
            "Xero webhook, signed": http.post(
                f"{system.urls['xero-gateway']}/v1/webhooks/xero",
                content=big,
                headers={"x-xero-signature": xero_signature(system, big)},
            ),
        }
    wrong = {name: (r.status_code, r.text[:100]) for name, r in answers.items() if r.status_code != 413}
    assert not wrong, wrong
    assert records_on_webhook_topics(system) == before


def test_a_delivery_just_under_the_limit_is_still_accepted(system: System) -> None:
    """The limit refuses junk, not real deliveries: a large but legal purchase goes through."""
    note = "b" * (MAX_WEBHOOK_BODY_BYTES // 4)
    body = {**PURCHASE, "action_details": {**PURCHASE["action_details"], "note": note}}
    with httpx.Client(timeout=60) as http:
        res = http.post(system.kartra_webhook_url, json=body)
    assert res.status_code == 200, res.text
    assert res.json()["status"] in ("accepted", "duplicate")


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[" * 100_000,
        b"[1]",
        b'{"events": 5}',
        b'{"events": [1, "x", null, {"tenantId": 5}]}',
        b'{"events": [{"eventCategory": "INVOICE"}]}',
    ],
    ids=["not-json", "deep", "array", "events-not-list", "junk-events", "missing-fields"],
)
def test_signed_but_malformed_xero_batches_are_never_5xx(system: System, body: bytes) -> None:
    before = records_on_webhook_topics(system)
    with httpx.Client(timeout=60) as http:
        res = http.post(
            f"{system.urls['xero-gateway']}/v1/webhooks/xero",
            content=body,
            headers={"x-xero-signature": xero_signature(system, body)},
        )
    assert res.status_code < 500, (res.status_code, res.text[:300])
    assert res.status_code in (200, 400)
    assert records_on_webhook_topics(system) == before  # nothing in it was a Xero event
