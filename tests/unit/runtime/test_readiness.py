"""/readyz answers 503 in bounded time when MongoDB is unreachable: the check is bounded by
PyMongo's own timeout, not by cancelling the call (which can wedge the client; runtime.http)."""

from __future__ import annotations

import time

import httpx
import pytest
from fastapi import FastAPI
from free_ports import free_port  # nothing listens on it
from prometheus_client import CollectorRegistry
from pymongo import AsyncMongoClient

from kxflow_contracts.runtime.http import health_router, mongo_check


async def test_readyz_is_503_within_the_check_timeout_when_mongo_is_unreachable() -> None:
    # Server selection alone would wait 30 s; the check's own 0.5 s bound must win.
    mongo = AsyncMongoClient(f"mongodb://127.0.0.1:{free_port()}/", serverSelectionTimeoutMS=30_000)
    app = FastAPI()
    app.include_router(health_router(CollectorRegistry(), {"mongodb": mongo_check(mongo, timeout=0.5)}))
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://svc") as http:
            started = time.monotonic()
            res = await http.get("/readyz")
            elapsed = time.monotonic() - started
        assert res.status_code == 503
        assert res.json()["checks"]["mongodb"].startswith("failed:")
        assert elapsed < 5, elapsed
    finally:
        await mongo.close()


@pytest.mark.mongo
async def test_the_mongo_check_works_on_a_client_and_on_a_database(mongo_client, mongo_db_name) -> None:
    assert (await mongo_check(mongo_client)())["ok"] == 1
    assert (await mongo_check(mongo_client[mongo_db_name])())["ok"] == 1
