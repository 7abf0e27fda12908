"""Poison drill (issue 15): one tenant's hostile records end only their own runs.

On real Kafka and FerretDB, with the router on a real port: tenant ``globex`` streams purchases
while tenant ``acme`` sends every poison of the issue (an integer beyond 64 bits, a NUL in a key, a
NaN, an oversized input, each template and format bomb, a catastrophic pattern in a filter and in a
dry-run). Every poison run ends ``failed`` with its reason (the pattern only filters, in linear
time), globex's runs keep finishing with latency within 2x of a clean stream, the router's lag
returns to zero, and the router answers ``/livez`` throughout. The figures go to docs/drills.md.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from router_harness import ACME, GLOBEX, ok, publish_events, trigger_event
from waiting import wait_for

from kxflow_contracts.commands import ActionCommand
from kxflow_contracts.envelope import encode
from kxflow_contracts.results import ActionResult
from zap_router.domain.runs import run_id_for
from zap_router.testing import purchase_event

pytestmark = [pytest.mark.kafka, pytest.mark.mongo]

CONTACT = "xero.contact.find_or_create"

# product id -> (the Name template of acme's zap, extra lead fields, expected error code)
TEMPLATE_BOMBS: dict[str, tuple[str, dict[str, Any], str]] = {
    "number": ("{{ trigger.lead.first_name | number }}", {"first_name": "1e1000000"}, "budget_exceeded"),
    "printf": ("{{ '%0999999999d' % 1 }}", {}, "budget_exceeded"),
    "format": ("{{ '%0999999999d' | format(1) }}", {}, "budget_exceeded"),
    "center": ("{{ trigger.lead.first_name | center(999999999) }}", {}, "budget_exceeded"),
    "indent": ("{{ trigger.lead.bio | indent(1000) }}", {"bio": "x\n" * 300_000}, "budget_exceeded"),
    "batch": (
        "{{ trigger.lead.tags | batch(999999999, 'x') | list | length }}",
        {"tags": ["a"]},
        "budget_exceeded",
    ),
    "replace": (
        "{{ trigger.lead.bio | replace('', 'yyyyyyyyyy') }}",
        {"bio": "x" * 200_000},
        "budget_exceeded",
    ),
    "loops": (
        "{% for a in trigger.lead.tags %}{% for b in trigger.lead.tags %}{% for c in trigger.lead.tags %}"
        "{% endfor %}{% endfor %}{% endfor %}",
        {"tags": list(range(500))},
        "budget_exceeded",
    ),
    "bigpower": ("{{ trigger.lead.n ** 64 }}", {"n": 2**62}, "budget_exceeded"),
    "oversized": ("{{ trigger.lead.bio }}", {"bio": "x" * 400_000}, "input_too_large"),
}
# product id -> (extra lead fields the store cannot hold, expected error code)
DATA_BOMBS: dict[str, tuple[dict[str, Any], str]] = {
    "bigint": ({"n": 18446744073709551616}, "run_unstorable"),
    "nulkey": ({"a\x00b": 1}, "run_unstorable"),
    "nan": ({"score": float("nan")}, "run_unstorable"),
    "dollarkey": ({"$where": "1"}, "run_unstorable"),
}
CATASTROPHIC = r"^(a+)+$"


def zap(tenant_conn: str, xero_conn: str, product: str, name: str, **extra: Any) -> dict[str, Any]:
    return {
        "name": f"poison {product}",
        "trigger": {
            "app": "kartra",
            "event": "kartra.product.purchased",
            "connection": tenant_conn,
            "params": {"product_id": product},
        },
        "steps": [{"id": "contact", "action": CONTACT, "connection": xero_conn, "input": {"Name": name}}],
        **extra,
    }


async def router_lag(bootstrap: str, group: str, topic: str) -> int:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        parts = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        if not parts:
            await consumer._client.force_metadata_update()  # the first look at the topic
            parts = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        ends = await consumer.end_offsets(parts)
        lag = 0
        for tp in parts:
            lag += ends[tp] - ((await consumer.committed(tp)) or 0)
        return lag
    finally:
        await consumer.stop()


async def test_poison_from_one_tenant_never_stops_another(router):
    settings = router.services.settings
    bootstrap, topics = settings.kafka_bootstrap_servers, settings.topics
    received: dict[str, float] = {}  # run id -> when its command reached the gateway

    def respond(cmd: ActionCommand) -> ActionResult:
        received.setdefault(cmd.run_id, time.monotonic())
        return ok({"ContactID": "C-1"})(cmd)

    router.gateway.responders[CONTACT] = respond

    async def create(spec: dict[str, Any], headers: dict[str, str]) -> str:
        response = await router.http.post("/v1/zaps", json=spec, headers=headers)
        assert response.status_code == 201, response.text
        return response.json()["id"]

    clean_zap = await create(zap("kartra-globex", "xero-globex", "clean", "{{ trigger.lead.email }}"), GLOBEX)
    poison_zaps = {
        p: await create(zap("kartra-main", "xero-acme-au", p, t), ACME)
        for p, (t, _, _) in TEMPLATE_BOMBS.items()
    }
    for product in DATA_BOMBS:
        poison_zaps[product] = await create(
            zap("kartra-main", "xero-acme-au", product, "{{ trigger.lead.email }}"), ACME
        )
    regex_filter = {
        "any": [{"all": [{"field": "trigger.lead.first_name", "op": "matches", "value": CATASTROPHIC}]}]
    }
    poison_zaps["regex"] = await create(
        zap("kartra-main", "xero-acme-au", "regex", "{{ trigger.lead.email }}", filter=regex_filter), ACME
    )

    async def stream(prefix: str, count: int, gap: float) -> dict[str, float]:
        """Globex purchases, one every ``gap`` seconds; run id -> when it was published."""
        sent: dict[str, float] = {}
        for i in range(count):
            event = trigger_event(
                f"{prefix}-{i}", "globex", purchase_event(connection_id="kartra-globex", product_id="clean")
            )
            sent[run_id_for(clean_zap, event.id)] = time.monotonic()
            await publish_events(bootstrap, topics.kartra_events, [(f"globex:{i}", event)])
            await asyncio.sleep(gap)  # the stream's pace, not synchronisation
        return sent

    async def latencies(sent: dict[str, float]) -> list[float]:
        await wait_for(lambda: all(r in received for r in sent) or None, timeout=60, message="clean runs")
        return [received[r] - at for r, at in sent.items()]

    def poison_records() -> tuple[dict[str, str], list[tuple[bytes, list]]]:
        """Every poison event, encoded before the timed phase; (product -> run id, records)."""
        runs: dict[str, str] = {}
        records = []
        leads = [(p, lead) for p, (_, lead, _) in TEMPLATE_BOMBS.items()]
        leads += [(p, lead) for p, (lead, _) in DATA_BOMBS.items()]
        leads.append(("regex", {"first_name": "a" * 50_000 + "b"}))
        for product, lead in leads:
            data = purchase_event(connection_id="kartra-main", product_id=product)
            data["lead"].update(lead)
            event = trigger_event(f"poison-{product}", "acme", data)
            runs[product] = run_id_for(poison_zaps[product], event.id)
            value, headers = encode(event)
            records.append((value, [(k, v.encode()) for k, v in headers.items()]))
        return runs, records

    poison_runs, records = poison_records()

    async def poison() -> None:
        """The poison in three bursts while globex streams."""
        for burst in (records[:5], records[5:10], records[10:]):
            await publish_events(bootstrap, topics.kartra_events, [], raw=burst)
            await asyncio.sleep(0.5)  # the bursts' spacing, not synchronisation

    clean = await latencies(await stream("clean", 20, 0.1))
    livez_failures = 0

    async def probe_livez() -> None:
        nonlocal livez_failures
        while True:
            response = await router.http.get("/livez")
            livez_failures += response.status_code != 200
            await asyncio.sleep(0.1)  # a probe's period

    prober = asyncio.create_task(probe_livez())
    started = time.monotonic()
    try:
        sent, _ = await asyncio.gather(stream("mixed", 20, 0.1), poison())
        mixed = await latencies(sent)
        # the catastrophic pattern in a dry-run: answered, in linear time (after the stream, so
        # the dry-run's own reading of the topic is not counted in the stream's latency)
        dry = {
            "spec": zap("kartra-main", "xero-acme-au", "regex", "x", filter=regex_filter),
            "since": "2020-01-01T00:00:00Z",
        }
        t0 = time.monotonic()
        report = await router.http.post("/v1/zaps/dry-run", json=dry, headers=ACME)
        dry_run_s = time.monotonic() - t0
        assert report.status_code == 200, report.text
        assert report.json()["filtered"] >= 1
    finally:
        prober.cancel()
        await asyncio.gather(prober, return_exceptions=True)

    async def finished(run_id: str) -> dict[str, Any] | None:
        response = await router.http.get(f"/v1/runs/{run_id}", headers=ACME)
        body = response.json() if response.status_code == 200 else None
        return body if body and body["status"] in ("failed", "filtered", "succeeded") else None

    expected = {p: code for p, (_, _, code) in TEMPLATE_BOMBS.items()} | {
        p: c for p, (_, c) in DATA_BOMBS.items()
    }
    outcomes: dict[str, str] = {}
    for product, run_id in poison_runs.items():
        run = await wait_for(
            lambda run_id=run_id: finished(run_id), timeout=60, message=f"poison run {product}"
        )
        if product == "regex":
            assert run["status"] == "filtered"
            outcomes[product] = "filtered"
            continue
        assert run["status"] == "failed", (product, run)
        assert run["error"]["code"] == expected[product], (product, run["error"])
        assert run["error"]["message"]
        outcomes[product] = run["error"]["code"]
    poison_s = time.monotonic() - started
    assert not [c for c in router.gateway.commands(CONTACT) if c.tenant == "acme"], "no poison was sent"

    lag = None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        lag = await router_lag(bootstrap, settings.group_id, topics.kartra_events)
        if lag == 0:
            break
        await asyncio.sleep(0.2)  # polling the group's committed offsets
    assert lag == 0
    assert livez_failures == 0

    clean_p50, mixed_p50 = statistics.median(clean), statistics.median(mixed)
    figures = {
        "poison_events": len(poison_runs),
        "outcomes": outcomes,
        "clean_p50_ms": round(clean_p50 * 1000),
        "clean_max_ms": round(max(clean) * 1000),
        "mixed_p50_ms": round(mixed_p50 * 1000),
        "mixed_max_ms": round(max(mixed) * 1000),
        "dry_run_ms": round(dry_run_s * 1000),
        "poison_to_settled_s": round(poison_s, 1),
    }
    print("poison drill figures:", json.dumps(figures))
    assert mixed_p50 <= 2 * clean_p50 + 0.05, figures  # 50 ms: one poll of the batch consumer
