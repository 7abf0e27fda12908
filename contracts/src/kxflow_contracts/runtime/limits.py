"""Admin API limits shared by the three services (issue 11, item 6): an ASGI middleware that caps
request bodies and rate-limits each bearer token, answering 413 and 429 (with ``Retry-After``).

Per token, not per tenant or address: one leaked or runaway client is slowed down without its
neighbours. The buckets live in a :class:`~kxflow_contracts.runtime.cache.BoundedTTLCache`, so a
flood of made-up tokens costs bounded memory; tokens are kept as their hash. Requests without a
bearer token (webhooks, health, metrics) are not rate-limited here: they have their own defences.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kxflow_contracts.runtime.cache import BoundedTTLCache


@dataclass
class _Bucket:
    tokens: float
    at: float


class RateBuckets:
    """Token buckets by key (``burst`` requests, refilled at ``rate_per_second``) in bounded memory:
    at most ``max_keys`` keys, a bucket forgotten once it would be full again. Used per bearer
    token here and per address and per account for the console's failed sign-ins."""

    def __init__(
        self,
        rate_per_second: float,
        burst: int,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = 10_000,
    ) -> None:
        self._rate = rate_per_second
        self._burst = float(burst)
        self._clock = clock
        idle = burst / rate_per_second if rate_per_second > 0 else 60.0  # a full bucket is forgettable
        self._buckets: BoundedTTLCache[str, _Bucket] = BoundedTTLCache(max_keys, idle + 1, clock)

    def __len__(self) -> int:
        return len(self._buckets)

    def _refilled(self, key: str) -> _Bucket:
        now = self._clock()
        bucket = self._buckets.get(key) or _Bucket(self._burst, now)
        bucket.tokens = min(self._burst, bucket.tokens + (now - bucket.at) * self._rate)
        bucket.at = now
        return bucket

    def wait(self, key: str) -> float:
        """Seconds until ``key`` may go again (0: now), without counting anything."""
        bucket = self._refilled(key)
        return 0.0 if bucket.tokens >= 1.0 else (1.0 - bucket.tokens) / self._rate

    def take(self, key: str) -> float:
        """Seconds until a request is allowed (0: allowed now, and counted)."""
        bucket = self._refilled(key)
        self._buckets.put(key, bucket)
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return 0.0
        return (1.0 - bucket.tokens) / self._rate


class AdminLimits:
    """ASGI middleware; add it with ``app.add_middleware(AdminLimits, ...)``."""

    def __init__(
        self,
        app: Any,
        max_body_bytes: int = 256 * 1024,
        rate_per_second: float = 20.0,
        burst: int = 40,
        clock: Callable[[], float] = time.monotonic,
        max_tokens_tracked: int = 10_000,
    ) -> None:
        self.app = app
        self._max_body = max_body_bytes
        self._rate = rate_per_second
        self._buckets = RateBuckets(rate_per_second, burst, clock, max_tokens_tracked)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        token = b""
        length: int | None = None
        for name, value in scope["headers"]:
            if name == b"authorization" and value[:7].lower() == b"bearer ":
                token = value[7:].strip()
            elif name == b"content-length" and value.isdigit():
                length = int(value)
        if token and self._rate > 0:
            wait = self._buckets.take(hashlib.sha256(token).hexdigest())
            if wait > 0:
                return await _answer(
                    send,
                    429,
                    f"too many requests for this token: retry in {math.ceil(wait)} s",
                    {"retry-after": str(math.ceil(wait))},
                )
        if length is not None and length > self._max_body:
            return await _answer(send, 413, f"body over {self._max_body} bytes")
        refused = False

        async def guarded_send(message: dict[str, Any]) -> None:
            if not refused:  # after a 413 the app's own answer (an error) is dropped
                await send(message)

        seen = 0

        async def capped_receive() -> dict[str, Any]:
            """A chunked body (no Content-Length) is counted as it streams: over the cap, the
            client gets 413 and the app a disconnect."""
            nonlocal seen, refused
            message = await receive()
            if message["type"] == "http.request" and not refused:
                seen += len(message.get("body", b""))
                if seen > self._max_body:
                    refused = True
                    await _answer(send, 413, f"body over {self._max_body} bytes")
                    return {"type": "http.disconnect"}
            return message

        try:
            await self.app(scope, capped_receive, guarded_send)
        except Exception:
            if not refused:
                raise


async def _answer(send: Any, status: int, detail: str, headers: dict[str, str] | None = None) -> None:
    body = json.dumps({"detail": detail}).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw += [(k.encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})
