"""HTTP intake of Kartra's outbound-API webhooks and IPN posts (thin: parse → use case → answer).

The two intake routes are the gateway's hot path (issue target: 2,000 deliveries/s on one process
with p99 under 25 ms). FastAPI's request handling (middleware stack, routing, dependency solving,
``JSONResponse``) cost about a third of the CPU of a delivery, so :class:`WebhookFastPath`, an
ASGI middleware, answers these two routes itself and passes every other request on to FastAPI.
The FastAPI routes below stay: they are what ``/docs`` and the OpenAPI document describe, and they
call the same :meth:`Webhooks.answer`, so both ways in give the same answer for the same request.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from opentelemetry import trace

from kartra_gateway.adapters.metrics import GatewayMetrics
from kartra_gateway.domain.payloads import WebhookRejected
from kartra_gateway.entrypoints import deps
from kartra_gateway.service_layer.intake import Intake, IntakeResult, Unauthorized, Unavailable
from kxflow_contracts.runtime.http import MAX_WEBHOOK_BODY_BYTES
from kxflow_contracts.runtime.serving import ROUTE_KEY
from kxflow_contracts.runtime.telemetry import server_span

WEBHOOK_ROUTE = "/v1/webhooks/kartra/{connection_id}/{secret}"
IPN_ROUTE = "/v1/ipn/kartra/{connection_id}"
# These routes open their own server span (runtime.telemetry.server_span), not the ASGI middleware.
WEBHOOK_PATHS = ("/v1/webhooks/kartra/", "/v1/ipn/kartra/")

_WEBHOOK_PATH = re.compile(r"^/v1/webhooks/kartra/(?P<connection_id>[^/]+)/(?P<secret>[^/]+)$")
_IPN_PATH = re.compile(r"^/v1/ipn/kartra/(?P<connection_id>[^/]+)$")

T = TypeVar("T")
ASGIApp = Callable[[dict[str, Any], Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[None]]], Any]


@dataclass(frozen=True)
class Answer:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


class Webhooks:
    """One delivery in, one :class:`Answer` out: the intake outcome mapped to its HTTP status."""

    def __init__(self, intake: Intake, metrics: GatewayMetrics, tracer: trace.Tracer) -> None:
        self._intake = intake
        self._metrics = metrics
        self._tracer = tracer

    async def answer(
        self,
        channel: str,
        params: dict[str, str],
        body: bytes | None,
        content_type: str,
        traceparent: str | None,
        respond: Callable[[Answer], Awaitable[T]],
    ) -> T:
        """Handle one delivery and ``respond`` with its answer, both inside the request's span (so
        the access log line of the answer carries the trace). ``body`` None means it was over
        :data:`MAX_WEBHOOK_BODY_BYTES`: 413, nothing read on."""
        started = time.perf_counter()
        route = WEBHOOK_ROUTE if channel == "outbound" else IPN_ROUTE
        with server_span(self._tracer, "POST", route, traceparent) as span:
            answer = await self._outcome(channel, params, body, content_type, started)
            span.set_attribute("http.response.status_code", answer.status)
            return await respond(answer)

    async def _outcome(
        self, channel: str, params: dict[str, str], body: bytes | None, content_type: str, started: float
    ) -> Answer:
        count = self._metrics.webhooks
        if body is None:
            count.labels(channel, "too_large").inc()
            return Answer(413, {"detail": f"body over {MAX_WEBHOOK_BODY_BYTES} bytes"})
        try:
            if channel == "outbound":
                result: IntakeResult = await self._intake.webhook(
                    params["connection_id"], params["secret"], body, content_type
                )
            else:
                result = await self._intake.ipn(params["connection_id"], body, content_type)
        except Unauthorized as exc:
            count.labels(channel, "unauthorized").inc()
            return Answer(401, {"detail": str(exc)})
        except WebhookRejected as exc:
            count.labels(channel, "rejected").inc()
            return Answer(400, {"detail": str(exc)})
        except Unavailable as exc:
            count.labels(channel, "unavailable").inc()
            return Answer(503, {"detail": str(exc)}, {"Retry-After": "5"})
        count.labels(channel, result.outcome.value).inc()
        self._metrics.intake_seconds.labels(channel).observe(time.perf_counter() - started)
        outcome = {"status": result.outcome.value, "event_id": result.event_id}
        return Answer(200, {**outcome, "event_type": result.event_type})


router = APIRouter(tags=["webhooks"])
"""The intake routes as FastAPI declares them (served by :class:`WebhookFastPath` in the app)."""

Intakes = Annotated[Webhooks, Depends(deps.webhooks)]


async def _respond(answer: Answer) -> JSONResponse:
    return JSONResponse(answer.body, status_code=answer.status, headers=answer.headers)


@router.post(WEBHOOK_ROUTE, summary="Kartra outbound-API webhook", max_body_size=MAX_WEBHOOK_BODY_BYTES)
async def kartra_webhook(
    connection_id: str, secret: str, request: Request, webhooks: Intakes
) -> JSONResponse:
    params = {"connection_id": connection_id, "secret": secret}
    ctype, traceparent = request.headers.get("content-type", ""), request.headers.get("traceparent")
    body = await request.body()
    return await webhooks.answer("outbound", params, body, ctype, traceparent, _respond)


@router.post(IPN_ROUTE, summary="Kartra IPN (payment notification)", max_body_size=MAX_WEBHOOK_BODY_BYTES)
async def kartra_ipn(connection_id: str, request: Request, webhooks: Intakes) -> JSONResponse:
    params = {"connection_id": connection_id}
    ctype, traceparent = request.headers.get("content-type", ""), request.headers.get("traceparent")
    body = await request.body()
    return await webhooks.answer("ipn", params, body, ctype, traceparent, _respond)


class WebhookFastPath:
    """ASGI middleware: ``POST`` to an intake route is answered here; anything else goes to ``app``."""

    def __init__(self, app: ASGIApp, webhooks: Webhooks) -> None:
        self.app = app
        self._webhooks = webhooks

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            return await self.app(scope, receive, send)
        path = scope["path"]
        match, channel = _WEBHOOK_PATH.match(path), "outbound"
        if match is None:
            match, channel = _IPN_PATH.match(path), "ipn"
        if match is None:
            return await self.app(scope, receive, send)
        scope[ROUTE_KEY] = WEBHOOK_ROUTE if channel == "outbound" else IPN_ROUTE  # the access log's
        headers = {k: v for k, v in scope["headers"] if k in (b"content-type", b"traceparent")}
        ctype = headers.get(b"content-type", b"").decode("latin-1")
        traceparent = headers[b"traceparent"].decode("latin-1") if b"traceparent" in headers else None
        try:
            body = await _read_body(receive, MAX_WEBHOOK_BODY_BYTES)
        except ClientGone:
            return  # a truncated delivery is never processed; nobody is waiting for its answer

        async def respond(answer: Answer) -> None:
            payload = json.dumps(answer.body, separators=(",", ":")).encode()
            raw_headers = [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
                *((k.lower().encode(), v.encode()) for k, v in answer.headers.items()),
            ]
            await send({"type": "http.response.start", "status": answer.status, "headers": raw_headers})
            await send({"type": "http.response.body", "body": payload})

        await self._webhooks.answer(channel, match.groupdict(), body, ctype, traceparent, respond)


class ClientGone(Exception):
    """The sender disconnected before its body was complete."""


async def _read_body(receive: Any, limit: int) -> bytes | None:
    """The request body, or None when it is longer than ``limit`` (the rest is read, not kept)."""
    chunks: list[bytes] = []
    size = 0
    too_large = False
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGone
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            too_large = True
        elif chunk:
            chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return None if too_large else b"".join(chunks)
