"""Finding runs by a business key: the buyer's e-mail, a Kartra transaction id, a Xero invoice number
or contact — any text or number in the trigger event or in a step's output."""

from __future__ import annotations

from typing import Any

MAX_DEPTH = 6


def _leaves(value: Any, depth: int = 0) -> list[str]:
    if depth > MAX_DEPTH:
        return []
    if isinstance(value, dict):
        return [leaf for v in value.values() for leaf in _leaves(v, depth + 1)]
    if isinstance(value, list):
        return [leaf for v in value[:50] for leaf in _leaves(v, depth + 1)]
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        return [str(value)]
    return []


def business_keys(run: dict[str, Any]) -> list[str]:
    """Every scalar of the trigger's data and of each step's output, lower-cased."""
    keys = _leaves(run.get("trigger") or {})
    for state in (run.get("steps") or {}).values():
        keys += _leaves(state.get("output") or {})
    return [k.lower() for k in keys]


def run_matches(run: dict[str, Any], query: str) -> bool:
    """A key equal to the query, or containing it when the query is at least 3 characters long."""
    q = query.strip().lower()
    if not q:
        return True
    keys = business_keys(run)
    return q in keys or (len(q) >= 3 and any(q in k for k in keys))
