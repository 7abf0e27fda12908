"""Bearer-token authentication for admin APIs: each token belongs to exactly one tenant."""

from __future__ import annotations

import hmac
from collections.abc import Callable, Mapping

from fastapi import HTTPException, Request, status


def tenant_for_token(tokens: Mapping[str, str], presented: str) -> str | None:
    """The tenant of ``presented``, compared in constant time against every known token."""
    found: str | None = None
    for token, tenant in tokens.items():
        if hmac.compare_digest(token.encode(), presented.encode()):
            found = tenant
    return found


def bearer_tenant(get_tokens: Callable[[], Mapping[str, str]]) -> Callable[[Request], str]:
    """A FastAPI dependency returning the caller's tenant, or answering 401."""

    def dependency(request: Request) -> str:
        header = request.headers.get("authorization", "")
        scheme, _, presented = header.partition(" ")
        if scheme.lower() != "bearer" or not presented.strip():
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED,
                "missing bearer token",
                headers={"WWW-Authenticate": "Bearer"},
            )
        tenant = tenant_for_token(get_tokens(), presented.strip())
        if tenant is None:
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED, "invalid bearer token", headers={"WWW-Authenticate": "Bearer"}
            )
        return tenant

    return dependency


def app_tenant(request: Request) -> str:
    """A FastAPI dependency: the caller's tenant by the tokens of ``app.state.settings.api_tokens``
    (the settings ``main.create_app`` puts on the app's state)."""
    return bearer_tenant(lambda: request.app.state.settings.api_tokens)(request)
