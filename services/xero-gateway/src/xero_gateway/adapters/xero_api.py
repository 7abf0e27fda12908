"""Calls to the Xero APIs under the scheduler: auth and tenant injected, rate-limit headers read,
429 honoured, one refresh on 401, transient failures retried a few times (each retry of a keyed
write passes its ``hooks`` again: ``service_layer.writes`` records it and may stop it)."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol

import httpx

from xero_gateway.adapters.repositories import Connection
from xero_gateway.domain.budget import Priority, problem_kind
from xero_gateway.domain.clock import Clock
from xero_gateway.domain.errors import NeedsReauth, XeroUnavailable
from xero_gateway.domain.ids import checked_path

__all__ = ["SendHooks", "XeroApi", "XeroUnavailable"]


class SendHooks(Protocol):
    """Around each physical send of one call (``service_layer.writes``: keyed writes)."""

    async def before_send(self) -> None:
        """Inside the scheduler slot, just before the request leaves; may raise to not send it."""

    async def answered(self, res: httpx.Response) -> None:
        """Every HTTP answer (a time-out or transport error has none)."""


class CallScheduler(Protocol):
    """The port to the per-organisation scheduler (``service_layer.scheduler.Scheduler``)."""

    clock: Clock

    def slot(self, org: str, priority: Priority = Priority.action) -> AbstractAsyncContextManager[None]:
        """Held while one request is in flight; waits for the organisation's budget."""
        ...

    def observe(
        self, org: str, minute_remaining: int | None, day_remaining: int | None, app_remaining: int | None
    ) -> None: ...

    def throttled(self, org: str, retry_after: float, problem: str) -> None: ...


class AccessTokens(Protocol):
    """The port to the token service (``service_layer.tokens.TokenManager``)."""

    async def access_token(self, conn: Connection, stale: str | None = None) -> str: ...

    async def mark_needs_reauth(self, token_set_id: str, reason: str) -> None: ...


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


class XeroApi:
    def __init__(
        self,
        http: httpx.AsyncClient,
        base_url: str,
        scheduler: CallScheduler,
        tokens: AccessTokens,
        max_attempts: int = 4,
    ) -> None:
        self._http = http
        self.base_url = base_url.rstrip("/")
        self.scheduler = scheduler
        self.tokens = tokens
        self.max_attempts = max_attempts

    async def call(
        self,
        conn: Connection,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        json_body: Any = None,
        content: bytes | None = None,
        content_type: str | None = None,
        accept: str = "application/json",
        idempotency_key: str | None = None,
        headers: dict[str, str] | None = None,
        priority: Priority = Priority.action,
        hooks: SendHooks | None = None,
    ) -> httpx.Response:
        url = path if path.startswith("http") else f"{self.base_url}{checked_path(path)}"
        org = conn.xero_tenant_id
        token = await self.tokens.access_token(conn)
        refreshed = False
        last: httpx.Response | None = None
        for attempt in range(1, self.max_attempts + 1):
            hdrs = {
                "Accept": accept,
                **(headers or {}),
                "Authorization": f"Bearer {token}",
                "xero-tenant-id": org,
            }
            if idempotency_key:
                hdrs["Idempotency-Key"] = idempotency_key
            if content_type:
                hdrs["Content-Type"] = content_type
            try:
                async with self.scheduler.slot(org, priority):
                    if hooks is not None:
                        await hooks.before_send()
                    res = await self._http.request(
                        method,
                        url,
                        params=params,
                        json=json_body if content is None else None,
                        content=content,
                        headers=hdrs,
                    )
            except httpx.TransportError as exc:
                if attempt == self.max_attempts:
                    raise XeroUnavailable(f"Xero unreachable: {type(exc).__name__}") from exc
                await self.scheduler.clock.sleep(2**attempt)
                continue
            self.scheduler.observe(
                org,
                _int(res.headers.get("X-MinLimit-Remaining")),
                _int(res.headers.get("X-DayLimit-Remaining")),
                _int(res.headers.get("X-AppMinLimit-Remaining")),
            )
            last = res
            if hooks is not None:
                await hooks.answered(res)
            if res.status_code == 429:
                retry_after = float(res.headers.get("Retry-After") or 60)
                self.scheduler.throttled(
                    org, retry_after, problem_kind(res.headers.get("X-Rate-Limit-Problem"))
                )
                continue
            if res.status_code == 401 and not refreshed:
                refreshed = True
                token = await self.tokens.access_token(conn, stale=token)
                continue
            if res.status_code == 401:
                await self.tokens.mark_needs_reauth(conn.token_set_id, f"Xero answered 401: {res.text[:200]}")
                raise NeedsReauth(res.text[:500])
            if res.status_code >= 500 and attempt < self.max_attempts:
                await self.scheduler.clock.sleep(2**attempt)
                continue
            return res
        assert last is not None
        if last.status_code == 429 or last.status_code >= 500:
            raise XeroUnavailable(f"Xero answered {last.status_code}", last.status_code, last.text)
        return last
