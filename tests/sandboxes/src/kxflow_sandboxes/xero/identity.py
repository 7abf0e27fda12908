"""Xero identity: authorization codes, rotating refresh tokens with a grace period, access tokens
with expiry, client-credentials tokens for custom connections, and the ``/Connections`` list."""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

ACCESS_TTL = 1800.0
CODE_TTL = 300.0
REFRESH_GRACE = 1800.0
REFRESH_TTL = 60 * 86_400.0


class InvalidGrant(Exception):
    pass


@dataclass
class Grant:
    """One user's consent: the organisations it connected and whether it was revoked."""

    grant_id: str
    auth_event_id: str
    tenant_ids: list[str]
    scope: str
    revoked: bool = False
    created: str = field(default_factory=lambda: datetime.now(UTC).isoformat())
    client_id: str = ""  # the app (createdByMyApp filters on it)
    user: str = "sandbox-user"  # the Xero user who consented (``/Connections`` is per user and app)


@dataclass
class AccessToken:
    grant_id: str
    expires_at: float
    tenant_ids: list[str]


@dataclass
class RefreshToken:
    grant_id: str
    issued_at: float
    rotated_at: float | None = None


class Identity:
    def __init__(self) -> None:
        self.grants: dict[str, Grant] = {}
        self.codes: dict[str, tuple[str, str, float]] = {}  # code -> (grant id, redirect uri, expiry)
        self.challenges: dict[str, str] = {}  # code -> its PKCE S256 code_challenge
        self.access: dict[str, AccessToken] = {}
        self.refresh: dict[str, RefreshToken] = {}
        self.refresh_calls = 0
        self.token_calls = 0

    def authorize(
        self,
        tenant_ids: list[str],
        scope: str,
        redirect_uri: str,
        now: float,
        client_id: str = "",
        user: str = "sandbox-user",
        code_challenge: str | None = None,
    ) -> str:
        grant = Grant(
            secrets.token_hex(8),
            secrets.token_hex(16),
            list(tenant_ids),
            scope,
            client_id=client_id,
            user=user,
        )
        self.grants[grant.grant_id] = grant
        code = secrets.token_urlsafe(24)
        self.codes[code] = (grant.grant_id, redirect_uri, now + CODE_TTL)
        if code_challenge:
            self.challenges[code] = code_challenge
        return code

    def _issue(self, grant: Grant, now: float, with_refresh: bool) -> dict[str, Any]:
        token = secrets.token_urlsafe(32)
        self.access[token] = AccessToken(grant.grant_id, now + ACCESS_TTL, list(grant.tenant_ids))
        out: dict[str, Any] = {
            "id_token": secrets.token_urlsafe(16),
            "access_token": token,
            "expires_in": int(ACCESS_TTL),
            "token_type": "Bearer",
            "scope": grant.scope,
            "authentication_event_id": grant.auth_event_id,
        }
        if with_refresh and "offline_access" in grant.scope.split():
            rt = secrets.token_urlsafe(32)
            self.refresh[rt] = RefreshToken(grant.grant_id, now)
            out["refresh_token"] = rt
        return out

    def exchange_code(
        self, code: str, redirect_uri: str, now: float, code_verifier: str | None = None
    ) -> dict[str, Any]:
        self.token_calls += 1
        entry = self.codes.pop(code, None)
        challenge = self.challenges.pop(code, None)
        if entry is None or entry[2] < now or entry[1] != redirect_uri:
            raise InvalidGrant("invalid_grant")
        if challenge is not None and s256(code_verifier or "") != challenge:
            raise InvalidGrant("invalid_grant")
        return self._issue(self.grants[entry[0]], now, True)

    def refresh_grant(self, refresh_token: str, now: float) -> dict[str, Any]:
        self.token_calls += 1
        self.refresh_calls += 1
        rt = self.refresh.get(refresh_token)
        if rt is None:
            raise InvalidGrant("invalid_grant")
        grant = self.grants[rt.grant_id]
        if grant.revoked or now - rt.issued_at > REFRESH_TTL:
            raise InvalidGrant("invalid_grant")
        if rt.rotated_at is not None and now - rt.rotated_at > REFRESH_GRACE:
            raise InvalidGrant("invalid_grant")
        if rt.rotated_at is None:
            rt.rotated_at = now
        return self._issue(grant, now, True)

    def client_credentials(
        self, tenant_id: str, scope: str, now: float, client_id: str = ""
    ) -> dict[str, Any]:
        self.token_calls += 1
        grant = Grant(secrets.token_hex(8), secrets.token_hex(16), [tenant_id], scope, client_id=client_id)
        self.grants[grant.grant_id] = grant
        return self._issue(grant, now, False)

    def app_of(self, record: AccessToken) -> str:
        return self.grants[record.grant_id].client_id

    def check(self, token: str, now: float) -> tuple[AccessToken | None, str]:
        """The token's record, or None and Xero's 401 ``Detail``."""
        record = self.access.get(token)
        if record is None:
            return None, "AuthenticationUnsuccessful"
        if self.grants[record.grant_id].revoked:
            return None, "AuthenticationUnsuccessful"
        if record.expires_at < now:
            return None, "TokenExpired: token expired"
        return record, ""

    def revoke(self, tenant_id: str | None = None) -> int:
        count = 0
        for grant in self.grants.values():
            if tenant_id is None or tenant_id in grant.tenant_ids:
                grant.revoked = True
                count += 1
        return count

    def connections(
        self, grant_id: str, names: dict[str, str], auth_event_id: str | None = None
    ) -> list[dict[str, Any]]:
        """As Xero's ``GET /Connections``: every organisation *the user* connected to *this app*,
        over all their authorisations (the latest one that connected each organisation gives its
        ``authEventId``); ``?authEventId=`` keeps only those of one authorisation."""
        me = self.grants[grant_id]
        latest: dict[str, Grant] = {}
        for grant in self.grants.values():  # in creation order: a later consent wins
            if grant.user == me.user and grant.client_id == me.client_id and not grant.revoked:
                for tid in grant.tenant_ids:
                    latest[tid] = grant
        return [
            {
                "id": f"{grant.grant_id}-{tid[:8]}",
                "authEventId": grant.auth_event_id,
                "tenantId": tid,
                "tenantType": "ORGANISATION",
                "tenantName": names.get(tid, tid),
                "createdDateUtc": grant.created,
                "updatedDateUtc": grant.created,
            }
            for tid, grant in latest.items()
            if auth_event_id is None or grant.auth_event_id == auth_event_id
        ]


def s256(verifier: str) -> str:
    """PKCE's S256 code challenge of ``verifier`` (RFC 7636)."""
    digest = hashlib.sha256(verifier.encode("ascii", "replace")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
