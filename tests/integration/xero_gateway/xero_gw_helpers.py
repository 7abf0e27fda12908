"""Helpers shared by the gateway's integration tests."""

from __future__ import annotations

from typing import Any

import httpx

TOKEN = "test-token-xero"
TENANT = "acme"


def auth() -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKEN}"}


async def connect_all(gateway_url: str) -> list[dict[str, Any]]:
    """The real OAuth redirect flow: gateway → sandbox authorize → gateway callback."""
    async with httpx.AsyncClient(follow_redirects=True, timeout=30) as client:
        res = await client.get(f"{gateway_url}/v1/xero/connect", headers=auth())
        res.raise_for_status()
        return res.json()["connections"]
