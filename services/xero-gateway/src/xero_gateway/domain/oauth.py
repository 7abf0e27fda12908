"""OAuth pieces with no I/O: PKCE, the browser binding of a ``state``, and which authorisation a
token set belongs to (issue 11, item 3)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import secrets
from typing import Any

BROWSER_COOKIE = "kxflow_xero_oauth"
"""Set on the browser that starts an authorisation; the callback must come from the same one."""


class OAuthRefused(Exception):
    """A callback that must not complete; the message says why (sent back with a 400)."""


def pkce_pair() -> tuple[str, str]:
    """A fresh PKCE ``(code_verifier, S256 code_challenge)`` (RFC 7636)."""
    verifier = secrets.token_urlsafe(48)
    return verifier, s256(verifier)


def s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def browser_nonce() -> str:
    return secrets.token_urlsafe(24)


def browser_hash(nonce: str) -> str:
    """What the state keeps of the browser's nonce (the nonce itself is only in the cookie)."""
    return hashlib.sha256(nonce.encode("utf-8", "replace")).hexdigest()


def auth_event_id(tokens: dict[str, Any]) -> str | None:
    """The authorisation a token response belongs to: Xero puts ``authentication_event_id`` in the
    access token's claims (a JWT); some responses (and the sandbox) also give it beside the tokens."""
    found = tokens.get("authentication_event_id")
    if isinstance(found, str) and found:
        return found
    parts = str(tokens.get("access_token", "")).split(".")
    if len(parts) != 3:
        return None
    try:
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (ValueError, binascii.Error):
        return None
    found = claims.get("authentication_event_id") if isinstance(claims, dict) else None
    return found if isinstance(found, str) and found else None


def this_authorisation(orgs: list[dict[str, Any]], event_id: str) -> list[dict[str, Any]]:
    """The organisations of one authorisation only: ``/Connections`` lists every organisation the
    user ever connected to the app, some maybe for another kxflow tenant."""
    return [
        o
        for o in orgs
        if o.get("authEventId") == event_id and o.get("tenantType", "ORGANISATION") == "ORGANISATION"
    ]
