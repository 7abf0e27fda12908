"""Health and metrics routes every service serves: ``/livez``, ``/readyz``, ``/metrics``.

A readiness check bounds its own time (:func:`mongo_check`, :func:`kafka_check`); ``/readyz`` never
cancels one. Cancelling a PyMongo call mid-flight (``asyncio.wait_for`` around a ping, on Python
3.11) can leave the client's pool lock held by nobody, after which every later call hangs: the
MongoDB-outage drill showed a gateway that never became ready again once the store came back.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import pymongo
from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

ReadinessCheck = Callable[[], Awaitable[object]]
CHECK_TIMEOUT_S = 2.0


def mongo_check(db: Any, timeout: float = CHECK_TIMEOUT_S) -> ReadinessCheck:
    """``ping`` on ``db`` (a database or a client), bounded by PyMongo's own timeout."""
    # A database answers any attribute with a collection of that name, so ask for the client.
    command = db.admin.command if isinstance(db, pymongo.AsyncMongoClient) else db.command

    async def check() -> object:
        with pymongo.timeout(timeout):
            return await command("ping")

    return check


def kafka_check(broker: Any, timeout: float = CHECK_TIMEOUT_S) -> ReadinessCheck:
    """A FastStream broker's ``ping`` (it has its own timeout)."""

    async def check() -> object:
        if not await broker.ping(timeout=timeout):
            raise ConnectionError("Kafka not reachable")
        return True

    return check


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
                await check()  # bounded by the check itself, never cancelled (module docstring)
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
