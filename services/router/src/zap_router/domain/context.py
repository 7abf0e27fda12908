"""The template and filter context of a run: ``trigger``, ``steps.<id>`` and ``zap``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any


def trigger_context(event_id: str, event_type: str, event_time: datetime, data: Any) -> dict[str, Any]:
    """The event data plus ``id``, ``time`` (ISO, UTC) and ``type`` unless the data has them."""
    context: dict[str, Any] = dict(data) if isinstance(data, dict) else {"data": data}
    context.setdefault("id", event_id)
    context.setdefault("time", event_time.astimezone(UTC).isoformat().replace("+00:00", "Z"))
    context.setdefault("type", event_type)
    return context


def run_context(
    trigger: dict[str, Any], outputs: dict[str, Any], zap_id: str, version: int, name: str
) -> dict[str, Any]:
    return {"trigger": trigger, "steps": outputs, "zap": {"id": zap_id, "version": version, "name": name}}
