"""Lenient date parsing shared by filters and template formatters."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta


def parse_datetime(value: object) -> datetime:
    """ISO-8601 strings (with ``Z``), dates, datetimes and epoch seconds → an aware datetime (UTC if naive).

    Raises ``ValueError``/``TypeError`` for anything else.
    """
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, date):
        dt = datetime(value.year, value.month, value.day)
    elif isinstance(value, int | float) and not isinstance(value, bool):
        dt = datetime.fromtimestamp(float(value), UTC)
    elif isinstance(value, str):
        text = value.strip()
        if text.isdigit() and len(text) >= 9:
            dt = datetime.fromtimestamp(int(text), UTC)
        else:
            dt = datetime.fromisoformat(text.replace("Z", "+00:00").replace(" ", "T", 1))
    else:
        raise TypeError(f"not a date: {type(value).__name__}")
    return dt if dt.tzinfo is not None else dt.replace(tzinfo=UTC)


_DURATION = re.compile(r"^\s*(\d{1,7})\s*(s|m|h|d|w)\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
MAX_DELAY = timedelta(days=31)  # a delay step waits at most a month (Zapier's limit)


def parse_duration(text: str) -> timedelta:
    """``30s``, ``10m``, ``2h``, ``1d``, ``1w`` → a timedelta; ``ValueError`` for anything else."""
    match = _DURATION.match(text)
    if match is None:
        raise ValueError(f"not a duration: {text[:40]!r} (use a number and s, m, h, d or w)")
    return timedelta(seconds=int(match[1]) * _UNITS[match[2]])
