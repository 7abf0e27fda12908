"""Access tokens per connection, refreshed before expiry by a single writer.

Xero rotates the refresh token on every use. The replica that takes the lease on the token set
(a version-checked update in MongoDB) refreshes; the others wait for the new version. If the
refreshing replica dies after Xero rotated the token but before it stored the new one, the lease
expires and the next replica refreshes with the stored (previous) token, which Xero still honours
for 30 minutes (the grace period): the connection is not lost.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable

from xero_gateway.adapters.identity import IdentityClient, InvalidGrant
from xero_gateway.adapters.repositories import Connection, Repositories, TokenSet
from xero_gateway.domain.errors import NeedsReauth

__all__ = ["NeedsReauth", "TokenManager"]


class TokenManager:
    def __init__(
        self,
        repos: Repositories,
        identity: IdentityClient,
        scope: str,
        skew: float = 300.0,
        lease: float = 30.0,
        wall: Callable[[], float] = time.time,
        on_needs_reauth: Callable[[str], None] | None = None,
    ) -> None:
        self._repos = repos
        self._identity = identity
        self._scope = scope
        self._skew = skew
        self._lease = lease
        self._wall = wall
        self._owner = f"{os.getpid()}-{id(self)}"
        self._locks: dict[str, asyncio.Lock] = {}
        self._on_needs_reauth = on_needs_reauth
        # Access tokens stay valid until they expire even after another replica refreshed, so a
        # fresh one is served from memory (a 401 passes it back as ``stale`` and drops it).
        self._cache: dict[str, tuple[str, float]] = {}

    async def access_token(self, conn: Connection, stale: str | None = None) -> str:
        """A usable access token; ``stale`` is one Xero just refused (forces a refresh unless
        another replica already replaced it)."""
        if conn.status == "needs_reauth":
            raise NeedsReauth(conn.status_reason or "needs_reauth")
        cached = self._cache.get(conn.token_set_id)
        if cached is not None and (cached[0] == stale or cached[1] - self._skew <= self._wall()):
            self._cache.pop(conn.token_set_id, None)
        elif cached is not None:
            return cached[0]
        lock = self._locks.setdefault(conn.token_set_id, asyncio.Lock())
        async with lock:
            deadline = time.monotonic() + self._lease + 15
            while True:
                ts = await self._repos.token_set(conn.token_set_id)
                if ts is None:
                    raise NeedsReauth("no tokens stored for this connection")
                fresh = ts.expires_at - self._skew > self._wall()
                if (fresh and stale is None) or (stale is not None and ts.access_token != stale):
                    if fresh:
                        self._cache[conn.token_set_id] = (ts.access_token, ts.expires_at)
                    return ts.access_token
                if await self._repos.take_refresh_lease(
                    conn.token_set_id, ts.version, self._owner, self._wall(), self._lease
                ):
                    return await self._refresh(conn, ts)
                if time.monotonic() > deadline:
                    raise TimeoutError("token refresh by another replica did not finish")
                await asyncio.sleep(0.05)  # another replica holds the lease: poll for its new version

    async def _refresh(self, conn: Connection, ts: TokenSet) -> str:
        try:
            if ts.kind == "client_credentials":
                data = await self._identity.client_credentials(self._scope)
            else:
                if not ts.refresh_token:
                    raise InvalidGrant("no refresh token")
                data = await self._identity.refresh(ts.refresh_token)
        except InvalidGrant as exc:
            await self.mark_needs_reauth(conn.token_set_id, "refresh token rejected (invalid_grant)")
            await self._repos.drop_refresh_lease(conn.token_set_id, ts.version, self._owner)
            raise NeedsReauth("refresh token rejected (invalid_grant)") from exc
        except Exception:
            await self._repos.drop_refresh_lease(conn.token_set_id, ts.version, self._owner)
            raise
        expires_at = self._wall() + float(data.get("expires_in", 1800))
        await self._repos.finish_refresh(
            conn.token_set_id,
            ts.version,
            data["access_token"],
            data.get("refresh_token", ts.refresh_token),
            expires_at,
        )
        self._cache[conn.token_set_id] = (data["access_token"], expires_at)
        return data["access_token"]

    async def mark_needs_reauth(self, token_set_id: str, reason: str) -> None:
        self._cache.pop(token_set_id, None)
        await self._repos.set_status(token_set_id, "needs_reauth", reason)
        if self._on_needs_reauth is not None:
            self._on_needs_reauth(token_set_id)
