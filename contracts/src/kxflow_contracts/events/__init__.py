"""Trigger event models: the base here, one module per app (``kartra``, ``xero``)."""

from kxflow_contracts.events.base import Origin, TriggerEvent

__all__ = ["Origin", "TriggerEvent"]
