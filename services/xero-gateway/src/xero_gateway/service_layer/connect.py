"""Connecting organisations: OAuth authorization code (one connection per organisation granted)
and custom connections (client credentials)."""

from __future__ import annotations

import time
from collections.abc import Callable

from xero_gateway.adapters.identity import IdentityClient
from xero_gateway.adapters.repositories import Connection, Repositories


class ConnectService:
    def __init__(
        self,
        repos: Repositories,
        identity: IdentityClient,
        redirect_uri: str,
        scope: str,
        on_limit: object = None,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self._wall = wall
        self.repos = repos
        self.identity = identity
        self.redirect_uri = redirect_uri
        self.scope = scope
        self._on_limit = on_limit

    async def authorize_url(self, tenant: str) -> str:
        state = await self.repos.new_state(tenant)
        return self.identity.authorize_url(self.redirect_uri, self.scope, state)

    async def complete(self, state: str, code: str) -> list[Connection] | None:
        tenant = await self.repos.pop_state(state)
        if tenant is None:
            return None
        tokens = await self.identity.exchange_code(code, self.redirect_uri)
        return await self._store(tenant, tokens, "auth_code")

    async def custom(self, tenant: str) -> list[Connection]:
        tokens = await self.identity.client_credentials(self.scope.replace("offline_access", "").strip())
        return await self._store(tenant, tokens, "client_credentials")

    async def _store(self, tenant: str, tokens: dict, kind: str) -> list[Connection]:
        orgs = await self.identity.connections(tokens["access_token"])
        token_set_id = str(
            tokens.get("authentication_event_id") or (orgs[0]["authEventId"] if orgs else tenant)
        )
        token_set_id = f"{tenant}/{token_set_id}"
        await self.repos.save_token_set(
            token_set_id,
            kind,
            tokens["access_token"],
            tokens.get("refresh_token"),
            self._wall() + float(tokens.get("expires_in", 1800)),
        )
        out = []
        for org in orgs:
            if org.get("tenantType", "ORGANISATION") != "ORGANISATION":
                continue
            out.append(
                await self.repos.upsert_connection(
                    tenant, org["tenantId"], org["tenantName"], token_set_id, kind
                )
            )
        return out

    async def set_daily_limit(self, tenant: str, connection_id: str, per_day: int | None) -> bool:
        ok = await self.repos.set_daily_limit(tenant, connection_id, per_day)
        conn = await self.repos.get(tenant, connection_id)
        if ok and conn is not None and callable(self._on_limit):
            self._on_limit(conn.xero_tenant_id, per_day)
        return ok
