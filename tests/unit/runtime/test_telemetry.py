"""Trace propagation helpers of kxflow_contracts.runtime.telemetry (in-memory exporter)."""

from __future__ import annotations

from types import SimpleNamespace

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from kxflow_contracts.runtime.telemetry import (
    continue_trace,
    current_traceparent,
    make_tracer_provider,
    record_header,
    traced_record_handler,
)

PARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


def provider() -> tuple[TracerProvider, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    return make_tracer_provider("test", extra_processors=[SimpleSpanProcessor(exporter)]), exporter


def test_no_endpoint_means_no_exporter() -> None:
    bare = make_tracer_provider("svc")
    assert bare._active_span_processor._span_processors == ()
    with_endpoint = make_tracer_provider("svc", "http://127.0.0.1:1/v1/traces")
    assert len(with_endpoint._active_span_processor._span_processors) == 1
    with_endpoint.shutdown()


def test_continue_trace_parents_on_the_traceparent_and_is_current_inside() -> None:
    prov, exported = provider()
    with continue_trace(prov.get_tracer("t"), "x process", PARENT) as span:
        inside = current_traceparent()
    (done,) = exported.get_finished_spans()
    assert done.context.trace_id == int("0af7651916cd43dd8448eb211c80319c", 16)
    assert done.parent.span_id == int("b7ad6b7169203331", 16)
    assert done.kind == SpanKind.CONSUMER
    assert inside == f"00-0af7651916cd43dd8448eb211c80319c-{span.get_span_context().span_id:016x}-01"
    assert current_traceparent() is None


def test_continue_trace_without_a_parent_starts_a_trace() -> None:
    prov, exported = provider()
    with continue_trace(prov.get_tracer("t"), "root", None, kind=SpanKind.PRODUCER):
        pass
    (done,) = exported.get_finished_spans()
    assert done.parent is None and done.kind == SpanKind.PRODUCER


async def test_traced_record_handler_processes_each_record_in_its_trace() -> None:
    prov, exported = provider()
    seen: list[str | None] = []

    async def handle(record: object) -> bool:
        seen.append(current_traceparent())
        return True

    record = SimpleNamespace(
        topic="t.xero.commands.v1", partition=3, offset=42, headers=[("traceparent", PARENT.encode())]
    )
    assert await traced_record_handler(prov.get_tracer("t"), handle)(record) is True
    (done,) = exported.get_finished_spans()
    assert done.name == "t.xero.commands.v1 process"
    assert done.attributes["messaging.kafka.message.offset"] == 42
    assert seen[0] is not None and seen[0].split("-")[1] == PARENT.split("-")[1]


def test_record_header_decodes_and_misses() -> None:
    record = SimpleNamespace(headers=[("a", b"1"), ("b", "2")])
    assert record_header(record, "a") == "1"
    assert record_header(record, "b") == "2"
    assert record_header(record, "c") is None
    assert record_header(SimpleNamespace(headers=None), "a") is None


def test_server_spans_name_the_route_template_never_the_raw_path_or_query() -> None:
    from fastapi import APIRouter, FastAPI
    from fastapi.testclient import TestClient

    from kxflow_contracts.runtime.telemetry import instrument_app

    prov, exported = provider()
    app = FastAPI()
    router = APIRouter()

    @router.post("/v1/webhooks/kartra/{connection_id}/{secret}")
    async def hook(connection_id: str, secret: str) -> dict[str, str]:
        return {"ok": connection_id}

    @app.get("/livez")
    async def livez() -> dict[str, str]:
        return {}

    app.include_router(router)
    instrument_app(app, prov)
    with TestClient(app) as client:
        assert client.post("/v1/webhooks/kartra/kc_1/S3CRET?code=AUTHCODE").status_code == 200
        assert client.get("/livez").status_code == 200
    (span,) = exported.get_finished_spans()  # /livez is not traced
    assert span.name == "POST /v1/webhooks/kartra/{connection_id}/{secret}"
    text = repr(dict(span.attributes))
    assert "S3CRET" not in text and "AUTHCODE" not in text, text
    assert span.attributes["http.route"] == "/v1/webhooks/kartra/{connection_id}/{secret}"
