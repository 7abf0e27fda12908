"""Issue 11, item 1: unauthenticated posts to random connection ids do not grow the gateway's
memory. 50,000 IPN posts to 8 KB junk ids, through the real app (its ASGI entry, in this process,
so the process's RSS is the gateway's), all answer 401 and leave RSS within a few MB."""

from __future__ import annotations

import gc
import secrets
import time
from typing import Any

import psutil
import pytest
from asgi_server import serve
from integration.kartra_gateway.kartra_stack import Stack
from pymongo import AsyncMongoClient
from waiting import wait_for

from kartra_gateway.main import create_app

pytestmark = [pytest.mark.kafka, pytest.mark.mongo]

POSTS = 50_000


async def _post(app: Any, path: str, body: bytes) -> int:
    """One POST straight into the ASGI app; returns the status."""
    status: list[int] = []
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            status.append(message["status"])

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"content-type", b"application/x-www-form-urlencoded")],
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 80),
    }
    await app(scope, receive, send)
    return status[0]


async def test_junk_connection_ids_do_not_grow_memory(stack: Stack) -> None:
    body = b"transaction_type=sale&lead_email=a%40b.c&secret_key=guess"
    process = psutil.Process()

    async def burst(n: int) -> None:
        for _ in range(n):
            junk = secrets.token_hex(4096)  # 8 KB, different every time
            assert await _post(stack.app, f"/v1/ipn/kartra/{junk}", body) == 401

    await burst(2_000)  # warm-up: imports, metric children, allocator arenas
    gc.collect()
    before = process.memory_info().rss
    await burst(POSTS)
    gc.collect()
    grown = (process.memory_info().rss - before) / 2**20
    assert grown < 8, f"RSS grew {grown:.1f} MB over {POSTS} junk posts"
    # the real connection still works after the flood
    assert await _post(stack.app, f"/v1/ipn/kartra/{stack.connection['id']}", body) == 401  # wrong secret_key


@pytest.mark.parametrize("value", ["1e999", "nan", "9" * 5000])
async def test_ipn_numbers_out_of_range_answer_400_with_the_reason(stack: Stack, value: str) -> None:
    form = {
        "transaction_type": "sale",
        "lead_email": "n@example.com",
        "transaction_quantity": value,
        "secret_key": stack.connection["ipn_secret_key"],
    }
    resp = await stack.http.post(stack.ipn_url, data=form)
    assert resp.status_code == 400, resp.text
    assert "out of range" in resp.json()["detail"]


async def test_a_rotated_secret_stops_working_on_another_replica_within_two_seconds(stack: Stack) -> None:
    """Issue 11, item 8: replica B has the connection cached; A rotates the secret; B refuses the
    old secret within two seconds (the cache TTL), with no restart."""
    mongo = AsyncMongoClient(stack.settings.mongodb_url, tz_aware=True)
    replica = create_app(stack.settings, mongo_client=mongo)
    old = stack.connection["webhook_secret"]
    conn_id = stack.connection["id"]
    delivery = {"lead": {"id": "rot-1", "email": "rot@example.com"}, "action": "assign_tag"}
    async with serve(replica) as b:
        assert (
            await stack.http.post(f"{b}/v1/webhooks/kartra/{conn_id}/{old}", json=delivery)
        ).status_code == 200
        rotated = await stack.http.post(
            f"{stack.gateway}/v1/connections/{conn_id}/rotate-secret", headers=stack.auth
        )
        assert rotated.status_code == 200, rotated.text
        new = rotated.json()["webhook_secret"]
        started = time.monotonic()

        async def refused() -> bool:
            res = await stack.http.post(f"{b}/v1/webhooks/kartra/{conn_id}/{old}", json=delivery)
            return res.status_code == 401

        await wait_for(refused, timeout=2.0, interval=0.05, message="the old secret refused on replica B")
        assert time.monotonic() - started <= 2.0
        assert (
            await stack.http.post(f"{b}/v1/webhooks/kartra/{conn_id}/{new}", json=delivery)
        ).status_code == 200
    stack.connection["webhook_secret"] = stack.connection["ipn_secret_key"] = new
    await mongo.close()


async def test_admin_api_limits_hold_on_the_real_service(stack: Stack) -> None:
    """Last in this module: it spends the stack token's rate budget."""
    url = f"{stack.gateway}/v1/connections"
    big = {"name": "x", "app_id": "a" * 300_000, "api_key": "k", "api_password": "p"}
    assert (await stack.http.post(url, json=big, headers=stack.auth)).status_code == 413
    long_key = {"name": "y", "app_id": "a", "api_key": "k" * 600, "api_password": "p"}
    assert (await stack.http.post(url, json=long_key, headers=stack.auth)).status_code == 422
    codes = []
    for _ in range(stack.settings.admin_rate_burst + 20):
        res = await stack.http.get(url, headers=stack.auth)
        codes.append(res.status_code)
        if res.status_code == 429:
            assert int(res.headers["retry-after"]) >= 1
            break
    assert codes[-1] == 429 and set(codes[:-1]) == {200}
