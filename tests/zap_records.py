"""Zap changelog records (the shape ``zap_router.engine.active.changelog_record`` publishes) for
tests of the router's matching: one Xero step, the trigger under test."""

from __future__ import annotations

from typing import Any

STEP = {"id": "s", "action": "xero.contact.find", "app": "xero", "connection": "x1", "input": {}}


def zap_record(zap_id: str, event: str, params: dict[str, Any], connection: str = "x1") -> dict[str, Any]:
    return {
        "zap_id": zap_id,
        "tenant": "acme",
        "version": 1,
        "revision": 1,
        "name": zap_id,
        "trigger": {"event": event, "connection": connection, "params": params},
        "steps": [STEP],
    }
