"""Xero's .NET JSON dates (``/Date(1439434356790+0000)/``) to and from ISO-8601."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

_MSDATE = re.compile(r"^/Date\((-?\d+)([+-]\d{4})?\)/$")


def parse(value: str | None) -> datetime | None:
    if not value:
        return None
    m = _MSDATE.match(value)
    if m:
        return datetime.fromtimestamp(int(m.group(1)) / 1000, UTC)
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def to_msdate(value: str | date | datetime) -> str:
    """``YYYY-MM-DD`` / ISO / date → ``/Date(ms+0000)/`` (what Payroll AU expects)."""
    if isinstance(value, str):
        if _MSDATE.match(value):
            return value
        parsed = parse(value) or datetime.combine(date.fromisoformat(value[:10]), datetime.min.time(), UTC)
    elif isinstance(value, datetime):
        parsed = value if value.tzinfo else value.replace(tzinfo=UTC)
    else:
        parsed = datetime.combine(value, datetime.min.time(), UTC)
    return f"/Date({int(parsed.timestamp() * 1000)}+0000)/"


def http_date(value: datetime) -> str:
    """``If-Modified-Since`` value (Xero accepts ISO-8601 UTC, accurate to the second)."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
