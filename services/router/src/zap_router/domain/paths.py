"""Dotted-path access into JSON-like data (``trigger.lead.email``, ``line_items.0.sku``)."""

from __future__ import annotations

from typing import Any, Final


class _Missing:
    """Sentinel for a path that does not exist (distinct from a present ``None``)."""

    _instance: _Missing | None = None

    def __new__(cls) -> _Missing:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "MISSING"

    def __bool__(self) -> bool:
        return False


MISSING: Final = _Missing()


def get_path(data: Any, path: str) -> Any:
    """The value at ``path`` in ``data`` or :data:`MISSING`; never raises."""
    current = data
    for part in path.split(".") if path else ():
        if isinstance(current, dict):
            if part not in current:
                return MISSING
            current = current[part]
        elif isinstance(current, list):
            try:
                current = current[int(part)]
            except (ValueError, IndexError):
                return MISSING
        else:
            return MISSING
    return current
