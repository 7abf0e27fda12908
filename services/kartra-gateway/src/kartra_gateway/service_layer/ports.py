"""What kartra-gateway's use cases need from the outside, as Protocols (DESIGN.md §8).

The adapters implement them (``adapters.connections.ConnectionRepository``,
``adapters.kartra_client.KartraClient``); the use-case tests use the in-memory fakes of
``tests/fakes/kartra.py``.
"""

from __future__ import annotations

from typing import Any, Protocol

from kartra_gateway.domain.kartra_api import KartraCredentials, KartraResponse


class ConnectionSource(Protocol):
    """A tenant's Kartra connections and their decrypted credentials."""

    async def for_tenant(self, tenant: str, connection_id: str) -> Any | None:
        """The connection, or None when it is not this tenant's (or does not exist)."""

    def credentials(self, conn: Any) -> KartraCredentials:
        """The App credentials of a connection :meth:`for_tenant` returned."""


class KartraApi(Protocol):
    """Kartra's inbound API: one POST endpoint (rate limits and retries are the adapter's)."""

    api_url: str

    async def call(
        self, creds: KartraCredentials, fields: dict[str, Any], *, idempotent: bool
    ) -> KartraResponse:
        """POST ``fields`` with the credentials; the parsed answer (errors via ``checked``)."""

    async def post_raw(
        self,
        creds: KartraCredentials,
        body: str,
        *,
        idempotent: bool,
        params: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> KartraResponse:
        """POST an already encoded form body (the API Request action)."""
