"""What changed between two versions of a sales invoice (Updated Sales Invoice's Change).

Pure: the gateway keeps one small snapshot per invoice (``snapshot``: the compared fields only,
each value reduced to a short canonical string) and compares the next version it sees with it.
``observe`` also makes a redelivered or repeated sighting of the same version answer what that
version changed (not "nothing"), so a retried hydration publishes the same event.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from kxflow_contracts.events.invoice_changes import INVOICE_CHANGES

MAX_VALUE = 128
"""Longest value kept as is; longer ones (and line items) are kept as a hash, so a snapshot's size
is bounded whatever the invoice holds."""

Snapshot = dict[str, str]


def _digest(value: Any) -> str:
    raw = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return "#" + hashlib.sha256(raw.encode()).hexdigest()[:32]


def _canonical(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, dict | list):
        return _digest(value)
    text = str(value)
    return text if len(text) <= MAX_VALUE else _digest(text)


def snapshot(invoice: dict[str, Any]) -> Snapshot:
    """The compared fields of ``invoice`` (``Contact`` by its ContactID, line items as a hash)."""
    out: Snapshot = {}
    for name in INVOICE_CHANGES:
        value = invoice.get(name)
        if name == "Contact":
            value = value.get("ContactID") if isinstance(value, dict) else value
            value = str(value).lower() if value else value
        out[name] = _canonical(value)
    return out


def changed_fields(previous: Snapshot | None, current: Snapshot) -> list[str]:
    """The fields whose value differs, in ``INVOICE_CHANGES`` order; none without a previous version."""
    if previous is None:
        return []
    return [name for name in INVOICE_CHANGES if previous.get(name, "") != current.get(name, "")]


@dataclass(frozen=True)
class Stored:
    """What the store keeps per invoice: the last version seen and the one before it."""

    version: str
    current: Snapshot
    previous: Snapshot | None = None


def observe(stored: Stored | None, invoice: dict[str, Any]) -> tuple[list[str], Stored]:
    """(what this version of ``invoice`` changed, what to store now). ``version`` is the invoice's
    ``UpdatedDateUTC``: the same version seen again answers the same change."""
    version = _canonical(invoice.get("UpdatedDateUTC"))  # capped like every stored value
    current = snapshot(invoice)
    if stored is not None and version and stored.version == version and stored.current == current:
        return changed_fields(stored.previous, current), stored
    previous = stored.current if stored is not None else None
    return changed_fields(previous, current), Stored(version, current, previous)
