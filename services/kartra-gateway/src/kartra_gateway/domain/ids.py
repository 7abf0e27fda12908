"""The shape of a kxflow Kartra connection id, checked before any lookup (issue 11, item 1)."""

from __future__ import annotations

import re
import secrets

_CONNECTION_ID = re.compile(r"kc_[0-9a-f]{16}")


def new_connection_id() -> str:
    return "kc_" + secrets.token_hex(8)


def is_connection_id(value: str) -> bool:
    """True for ids :func:`new_connection_id` can produce; anything else is never looked up."""
    return len(value) == 19 and _CONNECTION_ID.fullmatch(value) is not None
