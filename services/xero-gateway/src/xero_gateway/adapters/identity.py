"""Xero identity over HTTP: authorize URL, token endpoint (code, refresh, client credentials),
``/Connections``."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import httpx


class InvalidGrant(Exception):
    """The refresh token is expired, rotated past its grace period, or the grant was revoked."""


class IdentityClient:
    def __init__(
        self,
        http: httpx.AsyncClient,
        identity_base: str,
        login_base: str,
        api_base: str,
        client_id: str,
        client_secret: str,
    ) -> None:
        self._http = http
        self._identity = identity_base.rstrip("/")
        self._login = login_base.rstrip("/")
        self._api = api_base.rstrip("/")
        self._auth = (client_id, client_secret)
        self.client_id = client_id

    def authorize_url(self, redirect_uri: str, scope: str, state: str, code_challenge: str) -> str:
        query = urlencode(
            {
                "response_type": "code",
                "client_id": self.client_id,
                "redirect_uri": redirect_uri,
                "scope": scope,
                "state": state,
                "code_challenge": code_challenge,
                "code_challenge_method": "S256",
            }
        )
        return f"{self._login}/identity/connect/authorize?{query}"

    async def _token(self, form: dict[str, str]) -> dict[str, Any]:
        res = await self._http.post(f"{self._identity}/connect/token", data=form, auth=self._auth)
        if res.status_code == 400 and "invalid_grant" in res.text:
            raise InvalidGrant(res.text)
        res.raise_for_status()
        return res.json()

    async def exchange_code(self, code: str, redirect_uri: str, code_verifier: str) -> dict[str, Any]:
        return await self._token(
            {
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": redirect_uri,
                "code_verifier": code_verifier,
            }
        )

    async def refresh(self, refresh_token: str) -> dict[str, Any]:
        return await self._token({"grant_type": "refresh_token", "refresh_token": refresh_token})

    async def client_credentials(self, scope: str) -> dict[str, Any]:
        return await self._token({"grant_type": "client_credentials", "scope": scope})

    async def connections(self, access_token: str, auth_event_id: str | None = None) -> list[dict[str, Any]]:
        """Xero's ``/Connections``: every organisation the user connected to this app, or with
        ``auth_event_id`` those of one authorisation."""
        res = await self._http.get(
            f"{self._api}/Connections",
            params={"authEventId": auth_event_id} if auth_event_id else None,
            headers={"Authorization": f"Bearer {access_token}"},
        )
        res.raise_for_status()
        return res.json()
