"""One trace from the Kartra webhook to the HTTP call to Xero, across the real services.

The system exports spans over OTLP/HTTP to a receiver in this test; one Kartra sale drives the
DESIGN §4 zap (make demo), and every span of that flow must carry the trace id the router stored
on the run, with spans from each hop: kartra-gateway (HTTP intake, Kafka publish), router (consume,
publish), xero-gateway (consume, the httpx call to the Xero sandbox).
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, Iterator

import httpx
import pytest
from otlp_receiver import Received, ReceivedSpan
from system_harness import System, running_system
from waiting import wait_for

SERVER, CLIENT, PRODUCER, CONSUMER = 2, 3, 4, 5  # opentelemetry.proto Span.SpanKind


@pytest.fixture(scope="module")
def traced_system(kafka_bootstrap: str, mongodb_url: str) -> Iterator[tuple[System, Received]]:
    from otlp_receiver import otlp_receiver

    with (
        otlp_receiver() as (endpoint, received),
        running_system(
            kafka_bootstrap,
            mongodb_url,
            otlp_endpoint=endpoint,
            raw_env={"OTEL_BSP_SCHEDULE_DELAY": "200"},  # export within 0.2 s instead of 5 s
        ) as system,
    ):
        yield system, received


def _of(spans: list[ReceivedSpan], service: str, kind: int, name_has: str = "") -> list[ReceivedSpan]:
    return [s for s in spans if s.service == service and s.kind == kind and name_has in s.name]


async def test_spans_of_one_purchase_form_one_trace_across_every_hop(
    traced_system: tuple[System, Received], demo: Callable[[System], Awaitable[tuple[int, dict, str]]]
) -> None:
    system, received = traced_system
    code, summary, log = await demo(system)
    assert code == 0, log
    async with httpx.AsyncClient(headers=system.auth) as client:
        run = (await client.get(f"{system.url('router')}/v1/runs/{summary['run_id']}")).json()
    trace_id = run["traceparent"].split("-")[1]
    prefix = system.prefix

    def complete() -> list[ReceivedSpan]:
        spans = [s for s in received.snapshot() if s.trace_id == trace_id]
        # The last hop: the xero-gateway's httpx span of the payment call.
        assert any(
            "Payments" in str(s.attributes.get("url.full", s.attributes.get("http.url", "")))
            for s in _of(spans, "xero-gateway", CLIENT)
        ), "payment call not exported yet"
        # Each service exports on its own schedule: the router's last publish may come after it.
        assert len(_of(spans, "zap-router", PRODUCER, f"{prefix}xero.commands.v1")) >= 3, "router spans"
        return spans

    spans = await wait_for(complete, timeout=20, message="every span of the flow exported")

    intake = _of(spans, "kartra-gateway", SERVER)
    assert [s.name for s in intake] == ["POST /v1/webhooks/kartra/{connection_id}/{secret}"], intake
    # Spans carry route templates, never the raw path (the webhook secret) or query (OAuth code).
    raw = re.compile(r"/v1/webhooks/kartra/[^/{]+/[^{]|[?&]code=")
    leaking = [
        (s.service, s.name, k)
        for s in received.snapshot()
        for k, v in [("name", s.name), *s.attributes.items()]
        if isinstance(v, str) and raw.search(v)
    ]
    assert not leaking, leaking
    assert not intake[0].parent_span_id, "the webhook request starts the trace"
    assert _of(spans, "kartra-gateway", PRODUCER, f"{prefix}kartra.events.v1")
    assert _of(spans, "zap-router", CONSUMER, "kartra.product.purchased.v1")
    router_publishes = _of(spans, "zap-router", PRODUCER, f"{prefix}xero.commands.v1")
    assert len(router_publishes) == 3, "one command per step, all in the run's trace"
    assert len(_of(spans, "xero-gateway", CONSUMER, f"{prefix}xero.commands.v1")) == 3
    xero_calls = _of(spans, "xero-gateway", CLIENT)
    called = " ".join(str(s.attributes.get("url.full", s.attributes.get("http.url", ""))) for s in xero_calls)
    for resource in ("Contacts", "Invoices", "Payments"):
        assert resource in called, called
    assert all(
        system.url("xero-sandbox") in str(s.attributes.get("url.full", s.attributes.get("http.url", "")))
        for s in xero_calls
    )
    # Results go back through Kafka in the same trace.
    assert _of(spans, "xero-gateway", PRODUCER, f"{prefix}action-results.v1")
    # Every span of the trace hangs off another span of it (no orphan sub-trees).
    ids = {s.span_id for s in spans}
    orphans = [s for s in spans if s.parent_span_id and s.parent_span_id not in ids]
    assert not orphans, [(o.service, o.name) for o in orphans]


async def test_service_logs_are_json_lines_carrying_the_trace_id(
    traced_system: tuple[System, Received], demo: Callable[[System], Awaitable[tuple[int, dict, str]]]
) -> None:
    system, _ = traced_system
    code, summary, log = await demo(system)
    assert code == 0, log
    async with httpx.AsyncClient(headers=system.auth) as client:
        run = (await client.get(f"{system.url('router')}/v1/runs/{summary['run_id']}")).json()
    trace_id = run["traceparent"].split("-")[1]
    for name in ("kartra-gateway", "xero-gateway", "router"):
        lines = system.log_lines(name)
        records = []
        for line in lines:
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                raise AssertionError(f"{name} logged a line that is not JSON: {line[:200]}") from None
        assert all({"event", "level", "timestamp", "service"} <= r.keys() for r in records), name
    # What a gateway logs while handling this flow carries its trace id.
    for name in ("kartra-gateway", "xero-gateway"):
        in_trace = [r for r in map(json.loads, system.log_lines(name)) if r.get("trace_id") == trace_id]
        assert in_trace, f"no {name} log line carries trace {trace_id}"
