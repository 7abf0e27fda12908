"""The tenant's connections, as listed by the gateways' ``GET /v1/connections`` (docs/conventions.md)."""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Mapping
from typing import Protocol

import httpx


class DirectoryUnavailable(RuntimeError):
    """A gateway could not be asked; saving a zap answers 503 (retry later), never a false 422."""


class ConnectionDirectory(Protocol):
    async def connections(self, tenant: str, token: str) -> Mapping[str, Collection[str]]:
        """Connections per app visible to ``tenant``: ids, or a mapping of alias (id or unique
        name) → id (``{"kartra": {"kc_1f..": "kc_1f..", "kartra-main": "kc_1f.."}}``)."""
        ...


def aliases(items: list[dict[str, object]]) -> dict[str, str]:
    """id → id for every connection, plus name → id for names that are unique and not an id."""
    ids = {str(item["id"]) for item in items}
    out = {i: i for i in ids}
    names: dict[str, list[str]] = {}
    for item in items:
        if item.get("name"):
            names.setdefault(str(item["name"]), []).append(str(item["id"]))
    out.update({name: found[0] for name, found in names.items() if len(found) == 1 and name not in ids})
    return out


class HttpConnectionDirectory:
    def __init__(self, gateways: Mapping[str, str], client: httpx.AsyncClient) -> None:
        self._gateways = dict(gateways)
        self._client = client

    @property
    def apps(self) -> list[str]:
        return list(self._gateways)

    async def items(self, app: str, token: str) -> list[dict[str, object]]:
        """One gateway's ``GET /v1/connections`` as the token's tenant sees it."""
        url = f"{self._gateways[app].rstrip('/')}/v1/connections"
        try:
            response = await self._client.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=5.0)
            response.raise_for_status()
            body = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise DirectoryUnavailable(
                f"{app} gateway connections unavailable: {type(exc).__name__}"
            ) from None
        items = body.get("items", body.get("connections", [])) if isinstance(body, dict) else body
        return [item for item in items if isinstance(item, dict) and "id" in item]

    async def _list(self, app: str, token: str) -> dict[str, str]:
        return aliases(await self.items(app, token))

    async def connections(self, tenant: str, token: str) -> dict[str, dict[str, str]]:
        apps = list(self._gateways)
        found = await asyncio.gather(*(self._list(app, token) for app in apps))
        return dict(zip(apps, found, strict=True))


class StaticConnectionDirectory:
    """A fixed directory (tests of the router alone, the benchmark, local demos)."""

    def __init__(self, by_tenant: Mapping[str, Mapping[str, set[str]]] | None = None, **everyone: set[str]):
        self._by_tenant = {t: {a: set(c) for a, c in apps.items()} for t, apps in (by_tenant or {}).items()}
        self._everyone = {a: set(c) for a, c in everyone.items()}

    async def connections(self, tenant: str, token: str) -> dict[str, set[str]]:
        return self._by_tenant.get(tenant, self._everyone)


class GatewayConnectionStates:
    """Every gateway's connections of a tenant, with their status, for the notifier: asked with one
    of the tenant's own admin tokens (so the gateways scope the answer); a gateway that does not
    answer is left out of this check (the next one asks again)."""

    def __init__(self, directory: HttpConnectionDirectory, tokens: Mapping[str, str]) -> None:
        self._directory = directory
        self._token_of: dict[str, str] = {}
        for token, tenant in tokens.items():
            self._token_of.setdefault(tenant, token)

    async def connections(self, tenant: str) -> list[dict[str, object]]:
        token = self._token_of.get(tenant)
        if token is None:
            return []
        out: list[dict[str, object]] = []
        for app in self._directory.apps:
            try:
                out += [{"app": app, **item} for item in await self._directory.items(app, token)]
            except DirectoryUnavailable:
                continue
        return out
