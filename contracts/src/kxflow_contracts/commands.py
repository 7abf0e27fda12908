"""Action commands (router → gateways)."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

COMMAND_TYPE = "kxflow.command.v1"


def command_id(zap_id: str, trigger_event_id: str, step_id: str) -> str:
    """Deterministic command id (DESIGN.md §2).

    Deliberately without the zap version or attempt: a retry, a redelivery or a replay after an edit
    maps to the same id, so the gateways' ledgers and Xero's Idempotency-Key stop a double write.
    """
    raw = "\x1f".join((zap_id, trigger_event_id, step_id)).encode()
    return hashlib.sha256(raw).hexdigest()


class ActionCommand(BaseModel):
    command_id: str
    tenant: str
    connection_id: str
    action: str = Field(description="Catalog key, e.g. xero.sales_invoice.create")
    input: dict[str, Any] = Field(default_factory=dict)
    run_id: str
    zap_id: str
    zap_version: int
    step_id: str
    attempt: int = 1
    not_after: datetime | None = Field(default=None, description="Deadline; a later command is failed")

    def key(self) -> str:
        """Kafka key: one connection (Kartra app / Xero organisation) per partition."""
        return f"{self.tenant}:{self.connection_id}"
