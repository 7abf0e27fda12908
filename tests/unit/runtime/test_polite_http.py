"""zapctl, the demo and the drills wait as a 429 tells them instead of failing (runtime.polite_http)."""

from __future__ import annotations

import httpx
import pytest

from kxflow_contracts.runtime.polite_http import PoliteAsyncTransport, PoliteTransport, retry_after_seconds


def _answers(codes: list[int]) -> tuple[httpx.MockTransport, list[int]]:
    seen: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        code = codes[min(len(seen), len(codes) - 1)]
        seen.append(code)
        return httpx.Response(code, headers={"Retry-After": "0"}, json={"n": len(seen)})

    return httpx.MockTransport(handler), seen


def test_sync_client_retries_429_then_returns_the_answer() -> None:
    inner, seen = _answers([429, 429, 200])
    with httpx.Client(transport=PoliteTransport(inner)) as http:
        res = http.get("http://router/v1/runs")
    assert res.status_code == 200 and seen == [429, 429, 200]


async def test_async_client_retries_429_then_returns_the_answer() -> None:
    inner, seen = _answers([429, 200])
    async with httpx.AsyncClient(transport=PoliteAsyncTransport(inner)) as http:
        res = await http.post("http://router/v1/runs/cancel", json={"zap_id": "z"})
    assert res.status_code == 200 and seen == [429, 200]


def test_gives_up_after_its_retries_with_the_last_429() -> None:
    inner, seen = _answers([429])
    with httpx.Client(transport=PoliteTransport(inner, retries=2)) as http:
        res = http.get("http://router/v1/runs")
    assert res.status_code == 429 and len(seen) == 3


def test_other_errors_are_not_retried() -> None:
    inner, seen = _answers([500, 200])
    with httpx.Client(transport=PoliteTransport(inner)) as http:
        assert http.get("http://router/v1/runs").status_code == 500
    assert seen == [500]


@pytest.mark.parametrize(("header", "wait"), [("2", 2.0), ("junk", 1.0), ("0", 0.05), ("3600", 30.0)])
def test_retry_after_is_read_and_bounded(header: str, wait: float) -> None:
    assert retry_after_seconds(httpx.Response(429, headers={"Retry-After": header})) == wait
