"""Kartra's timestamps are naive US-Eastern strings; kxflow publishes UTC ISO-8601."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

KARTRA_TZ = ZoneInfo("America/New_York")
_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%d %b %Y %H:%M:%S", "%d %b %Y", "%Y-%m-%d")


def to_utc_iso(value: object, tz: ZoneInfo = KARTRA_TZ) -> str | None:
    """``"2024-05-02 09:14:00"`` (Eastern) → ``"2024-05-02T13:14:00Z"``; empty/zero dates → None.

    Values that already carry an offset are converted as they are; unparseable ones are returned
    unchanged rather than dropped, so no upstream information is lost.
    """
    if value is None:
        return None
    text = str(value).strip()
    if not text or text.upper() == "N/A" or text.startswith("0000-00-00"):
        return None
    parsed: datetime | None = None
    for fmt in _FORMATS:
        try:
            parsed = datetime.strptime(text, fmt).replace(tzinfo=tz)
            break
        except ValueError:
            continue
    if parsed is None:
        try:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            return text
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=tz)
    return parsed.astimezone(UTC).isoformat().replace("+00:00", "Z")
