"""OpenTelemetry tracing: OTLP export when configured, nothing exported when not."""

from __future__ import annotations

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor


def make_tracer_provider(
    service_name: str, otlp_endpoint: str | None = None, extra_processors: list[SpanProcessor] | None = None
) -> TracerProvider:
    provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
    if otlp_endpoint:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=otlp_endpoint)))
    for processor in extra_processors or []:
        provider.add_span_processor(processor)
    return provider


def instrument_httpx_client(client: object, provider: TracerProvider) -> None:
    """Trace every HTTP call a client makes to Kartra or Xero (one span per request)."""
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

    HTTPXClientInstrumentor.instrument_client(client, tracer_provider=provider)


def tracer(provider: TracerProvider, name: str) -> trace.Tracer:
    return provider.get_tracer(name)
