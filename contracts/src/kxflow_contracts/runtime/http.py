"""Health and metrics routes every service serves: ``/livez``, ``/readyz``, ``/metrics``."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

ReadinessCheck = Callable[[], Awaitable[object]]

# Webhook routes keep the raw body on a Kafka topic before answering; Kafka refuses records over
# about 1 MB (``message.max.bytes``), which would turn an oversized delivery into a 503 that the
# sender retries forever. Real Kartra and Xero deliveries are a few KB: larger bodies get a 413.
MAX_WEBHOOK_BODY_BYTES = 256 * 1024


def health_router(registry: CollectorRegistry, checks: Mapping[str, ReadinessCheck]) -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get("/livez")
    async def livez() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/readyz")
    async def readyz(response: Response) -> dict[str, object]:
        results: dict[str, str] = {}
        for name, check in checks.items():
            try:
                await asyncio.wait_for(check(), timeout=3.0)
                results[name] = "ok"
            except Exception as exc:
                results[name] = f"failed: {type(exc).__name__}"
        ok = all(v == "ok" for v in results.values())
        response.status_code = 200 if ok else 503
        return {"status": "ok" if ok else "unavailable", "checks": results}

    @router.get("/metrics")
    async def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return router
