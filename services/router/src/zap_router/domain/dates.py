"""Lenient date parsing shared by filters and template formatters."""

from __future__ import annotations

from datetime import UTC, date, datetime


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
