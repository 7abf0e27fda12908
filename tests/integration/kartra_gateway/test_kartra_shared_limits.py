"""Two kartra-gateway replicas calling one Kartra App at once (real Kartra sandbox, real FerretDB).

Each replica's own schedule allows 16 calls/s, so two of them together would send 32/s to an
App that Kartra limits to 20/s. With ``shared_rate_limits`` (``runtime.shared_limits``) they share
the App's rule and the sandbox refuses nothing; without it the sandbox answers 429s, which shows
the test can fail.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import httpx
import pytest
from asgi_server import serve
from pymongo import AsyncMongoClient

from kartra_gateway.adapters.kartra_client import KartraClient, KartraCredentials
from kartra_gateway.adapters.rate_limiter import AppRateLimiter
from kxflow_contracts.runtime.shared_limits import SharedRateLimits
from kxflow_sandboxes.kartra import create_app as create_sandbox

pytestmark = pytest.mark.mongo

CALLS_PER_REPLICA = 40


async def _replica_calls(
    sandbox_url: str, creds: KartraCredentials, shared: SharedRateLimits | None, http: httpx.AsyncClient
) -> None:
    limiter = AppRateLimiter(16.0, 2, shared=shared, shared_limit=18)
    client = KartraClient(http, f"{sandbox_url}/api", limiter, backoff_429=0.2, max_429_retries=50)

    async def one(i: int) -> None:
        answer = await client.call(creds, {"get_lead": {"email": f"nobody-{i}@example.com"}}, idempotent=True)
        assert answer is not None

    await asyncio.gather(*(one(i) for i in range(CALLS_PER_REPLICA)))


@pytest.mark.parametrize("shared", [True, False], ids=["shared", "unshared"])
async def test_two_replicas_share_one_apps_calls_per_second(mongodb_url: str, shared: bool) -> None:
    sandbox_app = create_sandbox()
    db_name = f"kxtest_k{uuid.uuid4().hex[:7]}"
    mongos = [AsyncMongoClient(mongodb_url) for _ in range(2)]
    try:
        async with serve(sandbox_app) as sandbox_url, httpx.AsyncClient(timeout=30) as http:
            app: dict[str, Any] = (await http.post(f"{sandbox_url}/_sandbox/apps", json={})).json()
            creds = KartraCredentials(app["app_id"], app["api_key"], app["api_password"])
            limits = [SharedRateLimits(m[db_name]["shared_limits"]) if shared else None for m in mongos]
            started = time.monotonic()
            await asyncio.gather(*(_replica_calls(sandbox_url, creds, lim, http) for lim in limits))
            elapsed = time.monotonic() - started
        account = sandbox_app.state.sandbox.account(app["app_id"])
    finally:
        await mongos[0].drop_database(db_name)
        for m in mongos:
            await m.close()
    if not shared:
        assert account.rate_limited > 0, "two unshared replicas should overrun 20 calls/s"
        return
    assert account.rate_limited == 0
    # 80 calls at 18 per 1.1 s: about 4.3 s; far longer would mean the replicas starve each other.
    assert 3.5 <= elapsed < 8.0, elapsed
