"""Autoreplay ladder (DESIGN.md §3): when a retryable failure is tried again."""

from __future__ import annotations

from datetime import timedelta

DEFAULT_LADDER: tuple[timedelta, ...] = (
    timedelta(minutes=1),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=6),
)


def next_delay(attempt: int, ladder: tuple[timedelta, ...] = DEFAULT_LADDER) -> timedelta | None:
    """Delay before attempt ``attempt + 1`` after attempt ``attempt`` failed retryably.

    ``None`` when the ladder is exhausted (the run fails with the last error): the first attempt
    plus one retry per rung, so the default is 6 tries over about 8.6 hours.
    """
    if attempt < 1 or attempt > len(ladder):
        return None
    return ladder[attempt - 1]


def parse_ladder(text: str) -> tuple[timedelta, ...]:
    """``"60,300,1800"`` (seconds) → ladder."""
    return tuple(timedelta(seconds=float(part)) for part in text.split(",") if part.strip())
