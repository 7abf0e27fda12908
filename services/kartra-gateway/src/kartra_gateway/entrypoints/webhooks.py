"""HTTP intake of Kartra's outbound-API webhooks and IPN posts (thin: parse → use case → answer)."""

from __future__ import annotations

import time

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from kartra_gateway.adapters.metrics import GatewayMetrics
from kartra_gateway.domain.payloads import WebhookRejected
from kartra_gateway.usecases.intake import Intake, IntakeResult, Unauthorized, Unavailable
from kxflow_contracts.runtime.http import MAX_WEBHOOK_BODY_BYTES


def webhook_router(intake: Intake, metrics: GatewayMetrics) -> APIRouter:
    router = APIRouter(tags=["webhooks"])

    async def _answer(channel: str, started: float, run) -> JSONResponse:  # type: ignore[no-untyped-def]
        try:
            result: IntakeResult = await run
        except Unauthorized as exc:
            metrics.webhooks.labels(channel, "unauthorized").inc()
            return JSONResponse({"detail": str(exc)}, status_code=401)
        except WebhookRejected as exc:
            metrics.webhooks.labels(channel, "rejected").inc()
            return JSONResponse({"detail": str(exc)}, status_code=400)
        except Unavailable as exc:
            metrics.webhooks.labels(channel, "unavailable").inc()
            return JSONResponse({"detail": str(exc)}, status_code=503, headers={"Retry-After": "5"})
        metrics.webhooks.labels(channel, result.outcome.value).inc()
        metrics.intake_seconds.labels(channel).observe(time.perf_counter() - started)
        return JSONResponse(
            {"status": result.outcome.value, "event_id": result.event_id, "event_type": result.event_type}
        )

    @router.post(
        "/v1/webhooks/kartra/{connection_id}/{secret}",
        summary="Kartra outbound-API webhook",
        max_body_size=MAX_WEBHOOK_BODY_BYTES,
    )
    async def kartra_webhook(connection_id: str, secret: str, request: Request) -> JSONResponse:
        started = time.perf_counter()
        body = await request.body()
        ctype = request.headers.get("content-type", "")
        return await _answer("outbound", started, intake.webhook(connection_id, secret, body, ctype))

    @router.post(
        "/v1/ipn/kartra/{connection_id}",
        summary="Kartra IPN (payment notification)",
        max_body_size=MAX_WEBHOOK_BODY_BYTES,
    )
    async def kartra_ipn(connection_id: str, request: Request) -> JSONResponse:
        started = time.perf_counter()
        body = await request.body()
        ctype = request.headers.get("content-type", "")
        return await _answer("ipn", started, intake.ipn(connection_id, body, ctype))

    return router
