"""Base of every normalized trigger event's ``data`` (DESIGN.md §2)."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class Origin(StrEnum):
    webhook = "webhook"
    poll = "poll"
    reconcile = "reconcile"
    backfill = "backfill"
    replay = "replay"


class TriggerEvent(BaseModel):
    """Fields every trigger event carries; a trigger's model adds its typed payload.

    Extra fields are allowed so that adding an optional field is never a breaking change for a
    consumer still on an older copy of the model (DESIGN.md §2: additive optional fields only).
    """

    model_config = ConfigDict(extra="allow")

    connection_id: str
    origin: Origin = Origin.webhook
    occurred_at: str | None = Field(default=None, description="When it happened upstream, UTC ISO-8601")
