"""httpx transports for kxflow's own API clients (zapctl, the demo, drills) that honour ``429`` +
``Retry-After``, the answer every service's per-token rate limit (``runtime.limits``) gives.

A script that reads many runs in a row (an audit, ``zapctl runs``) is exactly what the rate limit
slows down; slowing down as told is the client's half of that contract, so it lives once here
rather than as a retry loop at every call site. Only 429 is retried (the request was refused before
any work was done), a bounded number of times, each wait capped.
"""

from __future__ import annotations

import asyncio
import time

import httpx

MAX_RETRIES = 8
MAX_WAIT_S = 30.0


def retry_after_seconds(response: httpx.Response) -> float:
    """The wait a 429 asks for (``Retry-After`` in seconds), at least 0.05 s and capped."""
    try:
        wait = float(response.headers.get("Retry-After", "1"))
    except ValueError:
        wait = 1.0
    return min(max(wait, 0.05), MAX_WAIT_S)


class PoliteAsyncTransport(httpx.AsyncBaseTransport):
    def __init__(self, inner: httpx.AsyncBaseTransport | None = None, retries: int = MAX_RETRIES) -> None:
        self._inner = inner or httpx.AsyncHTTPTransport()
        self._retries = retries

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        for _ in range(self._retries):
            response = await self._inner.handle_async_request(request)
            if response.status_code != 429:
                return response
            await response.aread()
            await response.aclose()
            await asyncio.sleep(retry_after_seconds(response))
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


class PoliteTransport(httpx.BaseTransport):
    def __init__(self, inner: httpx.BaseTransport | None = None, retries: int = MAX_RETRIES) -> None:
        self._inner = inner or httpx.HTTPTransport()
        self._retries = retries

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        for _ in range(self._retries):
            response = self._inner.handle_request(request)
            if response.status_code != 429:
                return response
            response.read()
            response.close()
            time.sleep(retry_after_seconds(response))
        return self._inner.handle_request(request)

    def close(self) -> None:
        self._inner.close()
