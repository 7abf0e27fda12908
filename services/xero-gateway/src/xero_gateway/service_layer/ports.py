"""What xero-gateway's use cases need from the outside, as Protocols (DESIGN.md §8).

The adapters implement them (``adapters.repositories.Repositories``, ``adapters.xero_api.XeroApi``);
the use-case tests use the in-memory fakes of ``tests/fakes/xero.py``.
"""

from __future__ import annotations

from typing import Any, Protocol

import httpx

from xero_gateway.domain.connection import Connection


class ConnectionLookup(Protocol):
    async def get(self, tenant: str, connection_id: str) -> Connection | None:
        """The tenant's connection, or None (unknown, or another tenant's)."""


class XeroCalls(Protocol):
    """One Xero API call for a connection (tokens, budgets and retries are the adapter's); raises
    ``domain.errors.XeroUnavailable`` when transient failures outlast its retries."""

    async def call(
        self,
        conn: Connection,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        json_body: Any = None,
        content: bytes | None = None,
        content_type: str | None = None,
        accept: str = "application/json",
        idempotency_key: str | None = None,
        headers: dict[str, str] | None = None,
        hooks: Any = None,
    ) -> httpx.Response: ...
