"""A tenant's Xero connection (one organisation), as the use cases see it (stored by
``adapters.repositories``, which re-exports it)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class Connection:
    tenant: str
    connection_id: str
    xero_tenant_id: str
    name: str
    token_set_id: str
    status: str = "active"
    status_reason: str | None = None
    kind: str = "auth_code"
    daily_limit: int | None = None

    def public(self) -> dict[str, Any]:
        return {
            "id": self.connection_id,
            "app": "xero",
            "name": self.name,
            "status": self.status,
            "status_reason": self.status_reason,
            "xero_tenant_id": self.xero_tenant_id,
            "kind": self.kind,
            "daily_limit": self.daily_limit,
        }
