"""Connecting organisations: OAuth authorization code (one connection per organisation granted)
and custom connections (client credentials).

The code flow (issue 11, item 3): the ``state`` is single use, expires, and is bound to the browser
that started the flow (a cookie nonce whose hash the state keeps); the code is exchanged with PKCE;
only the organisations of *this* authorisation (its ``authEventId``) are imported — ``/Connections``
lists every organisation the Xero user ever connected to the app, maybe for another kxflow tenant.
A custom connection is one organisation's, so only the tenant configured for it may create it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Protocol

from xero_gateway.adapters.identity import IdentityClient
from xero_gateway.adapters.repositories import Connection, Repositories
from xero_gateway.domain.oauth import (
    OAuthRefused,
    auth_event_id,
    browser_hash,
    browser_nonce,
    pkce_pair,
    this_authorisation,
)


class CustomConnectionRefused(Exception):
    """Custom connections are off, or not for this tenant (the message says which)."""


class StatePort(Protocol):
    async def create(self, tenant: str, browser: str, code_verifier: str) -> str: ...
    async def take(self, state: str) -> Any: ...


class ConnectService:
    def __init__(
        self,
        repos: Repositories,
        identity: IdentityClient,
        redirect_uri: str,
        scope: str,
        on_limit: object = None,
        wall: Callable[[], float] = time.time,
        states: StatePort | None = None,
        custom_connection_tenant: str | None = None,
    ) -> None:
        self._wall = wall
        self.repos = repos
        self.identity = identity
        self.redirect_uri = redirect_uri
        self.scope = scope
        self._on_limit = on_limit
        self._states = states
        self._custom_tenant = custom_connection_tenant

    async def start(self, tenant: str) -> tuple[str, str]:
        """``(authorize URL, browser nonce)``: the nonce goes into the starting browser's cookie."""
        if self._states is None:
            raise RuntimeError("ConnectService needs an OAuth state store to start a flow")
        nonce = browser_nonce()
        verifier, challenge = pkce_pair()
        state = await self._states.create(tenant, browser_hash(nonce), verifier)
        return self.identity.authorize_url(self.redirect_uri, self.scope, state, challenge), nonce

    async def complete(self, state: str, code: str, browser: str | None) -> list[Connection]:
        """Finish a flow; :class:`OAuthRefused` when the state is unknown, used, expired or was
        started by another browser."""
        if self._states is None:
            raise RuntimeError("ConnectService needs an OAuth state store to complete a flow")
        pending = await self._states.take(state)
        if pending is None:
            raise OAuthRefused("unknown or used OAuth state (start again at /v1/xero/connect)")
        if pending.expired:
            raise OAuthRefused("the OAuth state has expired (start again at /v1/xero/connect)")
        if not browser or browser_hash(browser) != pending.browser:
            raise OAuthRefused(
                "this browser did not start the authorisation (start again at /v1/xero/connect)"
            )
        tokens = await self.identity.exchange_code(code, self.redirect_uri, pending.code_verifier)
        event = auth_event_id(tokens)
        if event is None:
            raise OAuthRefused("Xero's token answer does not say which authorisation it is for")
        orgs = this_authorisation(await self.identity.connections(tokens["access_token"], event), event)
        return await self._store(pending.tenant, tokens, "auth_code", event, orgs)

    async def custom(self, tenant: str) -> list[Connection]:
        if not self._custom_tenant:
            raise CustomConnectionRefused(
                "custom connections are off (XERO_GW_CUSTOM_CONNECTION and XERO_GW_CUSTOM_CONNECTION_TENANT)"
            )
        if tenant != self._custom_tenant:
            raise CustomConnectionRefused("this gateway's custom connection belongs to another tenant")
        tokens = await self.identity.client_credentials(self.scope.replace("offline_access", "").strip())
        orgs = [
            o
            for o in await self.identity.connections(tokens["access_token"])
            if o.get("tenantType", "ORGANISATION") == "ORGANISATION"
        ]
        event = auth_event_id(tokens) or (orgs[0].get("authEventId") if orgs else None) or tenant
        return await self._store(tenant, tokens, "client_credentials", str(event), orgs)

    async def _store(
        self, tenant: str, tokens: dict, kind: str, event: str, orgs: list[dict[str, Any]]
    ) -> list[Connection]:
        token_set_id = f"{tenant}/{event}"
        await self.repos.save_token_set(
            token_set_id,
            kind,
            tokens["access_token"],
            tokens.get("refresh_token"),
            self._wall() + float(tokens.get("expires_in", 1800)),
        )
        return [
            await self.repos.upsert_connection(tenant, org["tenantId"], org["tenantName"], token_set_id, kind)
            for org in orgs
        ]

    async def set_daily_limit(self, tenant: str, connection_id: str, per_day: int | None) -> bool:
        ok = await self.repos.set_daily_limit(tenant, connection_id, per_day)
        conn = await self.repos.get(tenant, connection_id)
        if ok and conn is not None and callable(self._on_limit):
            self._on_limit(conn.xero_tenant_id, per_day)
        return ok
