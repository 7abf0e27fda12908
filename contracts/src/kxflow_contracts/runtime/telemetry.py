"""OpenTelemetry tracing: OTLP export when configured, nothing exported when not."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import SpanKind
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

T = TypeVar("T")


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


# -- propagation across hops that FastStream's middleware does not cover ---------------------------
# (batch consumers start a new trace per batch; the xero-gateway command consumer is plain aiokafka;
# a record may be published long after the span that caused it ended, e.g. a run's next step).

_W3C = TraceContextTextMapPropagator()


def context_from(traceparent: str | None) -> Context:
    """The OpenTelemetry context a W3C ``traceparent`` names (empty when there is none)."""
    return _W3C.extract({"traceparent": traceparent} if traceparent else {})


def current_traceparent() -> str | None:
    """The ``traceparent`` of the current span, to stamp on an outgoing record or store."""
    carrier: dict[str, str] = {}
    _W3C.inject(carrier)
    return carrier.get("traceparent")


def record_header(record: Any, name: str) -> str | None:
    """A header of a raw aiokafka record, decoded."""
    for key, value in getattr(record, "headers", None) or ():
        if key == name:
            return value.decode(errors="replace") if isinstance(value, bytes | bytearray) else str(value)
    return None


@contextmanager
def continue_trace(
    tracer: trace.Tracer,
    name: str,
    traceparent: str | None,
    *,
    kind: SpanKind = SpanKind.CONSUMER,
    attributes: dict[str, Any] | None = None,
) -> Iterator[trace.Span]:
    """A span, current while inside, whose parent is ``traceparent`` (a consumed record's)."""
    with tracer.start_as_current_span(
        name, context=context_from(traceparent), kind=kind, attributes=attributes
    ) as span:
        yield span


def traced_record_handler(
    tracer: trace.Tracer, handle: Callable[[Any], Awaitable[T]]
) -> Callable[[Any], Awaitable[T]]:
    """Wrap a raw-record handler so each record is processed in a span continuing its trace."""

    async def traced(record: Any) -> T:
        with continue_trace(
            tracer,
            f"{record.topic} process",
            record_header(record, "traceparent"),
            attributes={
                "messaging.system": "kafka",
                "messaging.destination.name": record.topic,
                "messaging.operation": "process",
                "messaging.kafka.destination.partition": record.partition,
                "messaging.kafka.message.offset": record.offset,
            },
        ):
            return await handle(record)

    return traced


def _templates(routes: Any, prefix: str = "") -> Iterator[str]:
    """Every route's path template; FastAPI ≥0.120 wraps included routers (``original_router``)."""
    for route in routes:
        inner = getattr(route, "original_router", None)
        if inner is not None:
            context = getattr(route, "include_context", None)
            yield from _templates(inner.routes, prefix + str(getattr(context, "prefix", "") or ""))
        elif isinstance(getattr(route, "path", None), str):
            yield prefix + route.path


def route_template(app: Any, scope: dict[str, Any]) -> str | None:
    """The path template ``scope``'s path matches (``/v1/webhooks/kartra/{connection_id}/{secret}``),
    or None. Templates are compiled on first use (routes are all added by then)."""
    from starlette.routing import compile_path

    compiled = getattr(app.state, "_kx_route_templates", None)
    if compiled is None:
        compiled = [(compile_path(t)[0], t) for t in _templates(app.router.routes)]
        # Literal paths first: /v1/connections must not be taken for /v1/connections/{id}.
        compiled.sort(key=lambda item: item[1].count("{"))
        app.state._kx_route_templates = compiled
    path = scope.get("path", "")
    return next((template for regex, template in compiled if regex.match(path)), None)


def instrument_app(app: Any, provider: TracerProvider, traced_by_routes: tuple[str, ...] = ()) -> None:
    """A server span per HTTP request (continuing an incoming ``traceparent``); health routes and
    ``/metrics`` excluded. A webhook's Kafka publishes are children of its request span.

    Spans carry the route template, never the raw path or query: a Kartra webhook URL holds its
    secret in the path and the OAuth callback its authorization code in the query.

    ``traced_by_routes``: URL path prefixes whose routes open their own span with
    :func:`server_span` (hot webhook paths, where the ASGI middleware cost a sixth of the CPU).
    """
    from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware

    def template(scope: dict[str, Any]) -> str:
        return route_template(app, scope) or "(unmatched route)"

    def span_details(scope: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        route = template(scope)
        return f"{scope.get('method', 'HTTP')} {route}", {"http.route": route}

    def scrub(span: trace.Span, scope: dict[str, Any]) -> None:
        if not span.is_recording():
            return
        route = template(scope)
        for key in ("http.target", "url.path"):
            span.set_attribute(key, route)
        for key in ("http.url", "url.full"):
            span.set_attribute(key, route)
        span.set_attribute("url.query", "")

    app.add_middleware(
        OpenTelemetryMiddleware,
        tracer_provider=provider,
        excluded_urls=",".join(("livez", "readyz", "metrics", *traced_by_routes)),
        exclude_spans=["receive", "send"],
        default_span_details=span_details,
        server_request_hook=scrub,
    )


@contextmanager
def server_span(
    tracer: trace.Tracer, method: str, route: str, traceparent: str | None
) -> Iterator[trace.Span]:
    """The SERVER span of one request, for routes that :func:`instrument_app` leaves to themselves:
    named and attributed by the route template only (never the raw path, which may hold a secret)."""
    with continue_trace(
        tracer,
        f"{method} {route}",
        traceparent,
        kind=SpanKind.SERVER,
        attributes={"http.request.method": method, "http.route": route},
    ) as span:
        yield span
