"""The zap changelog (``kxflow.zaps.v1``, compacted, key ``{tenant}:{zap_id}``, tombstone on delete):
what the router publishes for its replicas, and the part other services may read.

The router owns the record; its full shape (steps, filter) is the router's. This model names the
fields a reader outside the router relies on — the xero-gateway reads which report types enabled
New Report zaps choose, so it polls them — and keeps every other field (``extra="allow"``), so the
router may add fields without breaking a reader.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

ZAP_TYPE = "kxflow.zap.v1"


class ZapTriggerRecord(BaseModel):
    model_config = ConfigDict(extra="allow")

    app: str | None = None
    event: str = Field(description="The trigger's catalog key, e.g. xero.report.updated")
    connection: str = Field(description="The gateway connection id the zap listens to")
    params: dict[str, Any] = Field(default_factory=dict, description="The zap's trigger parameters")


class ZapRecord(BaseModel):
    """One zap's current state on the changelog (``ce_type`` ``kxflow.zap.v1``, ``ce_subject`` the
    zap id)."""

    model_config = ConfigDict(extra="allow")

    zap_id: str
    tenant: str
    revision: int
    version: int
    enabled: bool
    name: str
    trigger: ZapTriggerRecord
