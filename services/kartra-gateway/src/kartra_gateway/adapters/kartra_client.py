"""Kartra's inbound API over httpx: one POST endpoint, PHP bracket form fields, HTTP 200 for errors.

Reads both answer shapes (top-level ``<key>`` and ``actions[i].<cmd>``), turns Kartra ``type``
codes into :class:`KartraCallError` with the documented meaning, and keeps each App under its
rate limit: every call takes a slot from the shared :class:`AppRateLimiter`; a 429 blocks the App
for the back-off and the call is retried (Kartra did not process it). A timeout or 5xx is retried
only for idempotent calls: a create, refund or points change may have happened, so its outcome is
reported as unknown and the executor checks state instead of repeating it blindly.
"""

from __future__ import annotations

import random
from typing import Any

import httpx

from kartra_gateway.adapters.rate_limiter import AppRateLimiter
from kartra_gateway.domain import php_form
from kartra_gateway.domain.kartra_api import KartraCallError, KartraCredentials, KartraResponse
from kartra_gateway.domain.kartra_errors import Category

__all__ = ["KartraCallError", "KartraClient", "KartraCredentials", "KartraResponse"]

FORM = "application/x-www-form-urlencoded"


class KartraClient:
    def __init__(
        self,
        http: httpx.AsyncClient,
        api_url: str,
        limiter: AppRateLimiter,
        *,
        backoff_429: float = 1.0,
        max_429_retries: int = 5,
        max_transient_retries: int = 2,
    ) -> None:
        self._http = http
        self.api_url = api_url
        self._limiter = limiter
        self._backoff = backoff_429
        self._max_429 = max_429_retries
        self._max_transient = max_transient_retries
        self.calls = 0

    async def call(
        self, creds: KartraCredentials, fields: dict[str, Any], *, idempotent: bool
    ) -> KartraResponse:
        """POST ``fields`` (lead/actions/get_lead…) with the credentials; parse the JSON answer."""
        body = php_form.encode({**creds.fields(), **fields})
        return await self.post_raw(creds, body, idempotent=idempotent)

    async def post_raw(
        self,
        creds: KartraCredentials,
        body: str,
        *,
        idempotent: bool,
        params: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> KartraResponse:
        rate_limited = transient = 0
        while True:
            await self._limiter.acquire(creds.app_key)
            self.calls += 1
            try:
                resp = await self._http.post(
                    self.api_url,
                    content=body,
                    params=params,
                    headers={"content-type": FORM, **(headers or {})},
                )
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
                # Never reached Kartra: safe to retry whatever the call is.
                transient += 1
                if transient > self._max_transient:
                    raise KartraCallError(
                        "network",
                        f"cannot reach Kartra: {type(exc).__name__}",
                        category=Category.transient,
                        http_status=None,
                    ) from exc
                continue
            except httpx.HTTPError as exc:
                transient += 1
                if idempotent and transient <= self._max_transient:
                    continue
                raise KartraCallError(
                    "network",
                    f"no answer from Kartra: {type(exc).__name__}",
                    category=Category.transient,
                    http_status=None,
                    outcome_unknown=not idempotent,
                ) from exc
            if resp.status_code == 429:
                rate_limited += 1
                self._limiter.penalize(creds.app_key, self._backoff * (1 + random.random() * 0.2))
                if rate_limited > self._max_429:
                    raise KartraCallError(
                        "429", "Too many requests", category=Category.transient, http_status=429
                    )
                continue
            if resp.status_code >= 500:
                transient += 1
                if idempotent and transient <= self._max_transient:
                    continue
                raise KartraCallError(
                    f"http_{resp.status_code}",
                    "Kartra server error",
                    category=Category.transient,
                    http_status=resp.status_code,
                    outcome_unknown=not idempotent,
                )
            try:
                data = resp.json()
            except ValueError as exc:
                raise KartraCallError(
                    "invalid_response",
                    f"Kartra answered HTTP {resp.status_code} with a non-JSON body",
                    category=Category.transient,
                    http_status=resp.status_code,
                    outcome_unknown=not idempotent,
                ) from exc
            if not isinstance(data, dict):
                data = {"status": "Error", "message": "unexpected answer", "body": data}
            return KartraResponse(resp.status_code, data)
