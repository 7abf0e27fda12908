"""runtime.limits.AdminLimits and the token-length rule (issue 11, item 6): bodies over the cap are
413 (declared or streamed), each bearer token has its own rate with 429 + Retry-After, the buckets
are bounded, and short API tokens are refused at start."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request
from pydantic import ValidationError

from kxflow_contracts.runtime.limits import AdminLimits, RateBuckets
from kxflow_contracts.runtime.settings import ServiceSettings


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _app(clock: Clock, **kw: Any) -> tuple[AdminLimits, httpx.AsyncClient]:
    app = FastAPI()

    @app.post("/echo")
    async def echo(request: Request) -> dict[str, int]:
        return {"size": len(await request.body())}

    limited = AdminLimits(app, clock=clock, **kw)
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=limited), base_url="http://svc")
    return limited, client


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_each_token_has_its_own_rate_with_retry_after() -> None:
    clock = Clock()
    _, client = _app(clock, rate_per_second=2, burst=3)
    async with client:
        codes = [(await client.post("/echo", headers=_bearer("a" * 20))).status_code for _ in range(4)]
        assert codes == [200, 200, 200, 429]
        refused = await client.post("/echo", headers=_bearer("a" * 20))
        assert refused.status_code == 429 and refused.headers["retry-after"] == "1"
        assert "too many requests" in refused.json()["detail"]
        assert (await client.post("/echo", headers=_bearer("b" * 20))).status_code == 200  # a neighbour
        assert (await client.post("/echo")).status_code == 200  # no token: webhooks, health
        clock.now += 0.5
        assert (await client.post("/echo", headers=_bearer("a" * 20))).status_code == 200


async def test_bodies_over_the_cap_are_413_declared_or_streamed() -> None:
    _, client = _app(Clock(), max_body_bytes=1000)
    async with client:
        assert (await client.post("/echo", content=b"x" * 1000)).json() == {"size": 1000}
        assert (await client.post("/echo", content=b"x" * 1001)).status_code == 413

        async def chunks() -> Any:
            for _ in range(5):
                yield b"y" * 400

        streamed = await client.post("/echo", content=chunks())
        assert streamed.status_code == 413 and "1000 bytes" in streamed.json()["detail"]


async def test_made_up_tokens_cost_bounded_memory() -> None:
    limited, client = _app(Clock(), max_tokens_tracked=50)
    async with client:
        for i in range(500):
            await client.post("/echo", headers=_bearer(f"junk-{i:020d}"))
    assert len(limited._buckets) == 50


def test_short_api_tokens_are_refused_at_start() -> None:
    with pytest.raises(ValidationError, match="shorter than 16"):
        ServiceSettings(api_tokens="short:acme")
    assert ServiceSettings(api_tokens="a-long-random-token-0123:acme").api_tokens
    with pytest.raises(ValidationError, match="shorter than 32"):
        ServiceSettings(api_tokens="a-long-random-token-0123:acme", min_api_token_length=32)


def test_rate_buckets_wait_counts_nothing_take_counts_and_keys_are_bounded() -> None:
    """The buckets the console's failed sign-ins use: ``wait`` only looks, ``take`` spends, a
    spent bucket refills at the rate, and a flood of keys keeps at most ``max_keys``."""
    clock = Clock()
    buckets = RateBuckets(rate_per_second=0.5, burst=2, clock=clock, max_keys=3)
    assert buckets.wait("a") == 0 and len(buckets) == 0
    assert buckets.take("a") == 0 and buckets.take("a") == 0
    assert buckets.wait("a") == pytest.approx(2.0) and buckets.wait("b") == 0
    clock.now += 2.0
    assert buckets.wait("a") == 0
    for n in range(100):
        buckets.take(f"flood-{n}")
    assert len(buckets) == 3
