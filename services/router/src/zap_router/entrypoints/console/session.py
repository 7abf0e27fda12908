"""Console sessions: sign in with an admin token, then a signed cookie; CSRF tokens for every action.

The cookie holds the tenant, a fingerprint of the token used (not the token), an expiry and a nonce,
signed with HMAC-SHA256. Each request checks that a configured token with that fingerprint still maps
to that tenant, so removing a token from ``ROUTER_API_TOKENS`` ends its sessions. The CSRF token is
an HMAC of the session's nonce: every POST must carry it (form field ``csrf`` or header
``X-CSRF-Token``), and the cookie is ``SameSite=Strict`` besides.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass

COOKIE = "kxflow_console"
PRE_COOKIE = "kxflow_console_pre"  # double-submit token for the sign-in form (no session yet)
SESSION_SECONDS = 8 * 3600


def fingerprint(token: str) -> str:
    return hashlib.sha256(b"kxflow-console\0" + token.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class Session:
    tenant: str
    token: str  # the admin token the session was opened with (used server-side for the gateways)
    nonce: str
    csrf: str


class Sessions:
    def __init__(self, key: bytes, tokens: dict[str, str], lifetime_s: int = SESSION_SECONDS) -> None:
        self._key = key
        self._tokens = tokens
        self._lifetime = lifetime_s

    def _sign(self, payload: bytes) -> str:
        return base64.urlsafe_b64encode(hmac.new(self._key, payload, hashlib.sha256).digest()).decode()

    def csrf_for(self, nonce: str) -> str:
        return self._sign(b"csrf\0" + nonce.encode())

    def open(self, token: str) -> str | None:
        """The cookie value for a valid admin token, or ``None``."""
        tenant = self._tokens.get(token)
        if tenant is None:
            return None
        body = {"t": tenant, "f": fingerprint(token), "e": int(time.time()) + self._lifetime}
        body["n"] = secrets.token_urlsafe(16)
        payload = base64.urlsafe_b64encode(json.dumps(body, separators=(",", ":")).encode())
        return f"{payload.decode()}.{self._sign(payload)}"

    def read(self, cookie: str | None) -> Session | None:
        if not cookie or len(cookie) > 1024 or "." not in cookie:
            return None
        payload, _, signature = cookie.rpartition(".")
        if not hmac.compare_digest(signature, self._sign(payload.encode())):
            return None
        try:
            body = json.loads(base64.urlsafe_b64decode(payload))
            tenant, fp, expires, nonce = str(body["t"]), str(body["f"]), int(body["e"]), str(body["n"])
        except (ValueError, KeyError, TypeError):
            return None
        if expires < time.time():
            return None
        for token, owner in self._tokens.items():
            if owner == tenant and hmac.compare_digest(fingerprint(token), fp):
                return Session(tenant, token, nonce, self.csrf_for(nonce))
        return None  # the token was removed: the session ends with it

    def pre_token(self) -> tuple[str, str]:
        """(cookie value, form value) for the sign-in form's double-submit CSRF check."""
        nonce = secrets.token_urlsafe(16)
        return nonce, self.csrf_for("pre\0" + nonce)

    def pre_ok(self, cookie: str | None, form_value: str | None) -> bool:
        if not cookie or not form_value or len(cookie) > 100:
            return False
        return hmac.compare_digest(self.csrf_for("pre\0" + cookie), form_value)
