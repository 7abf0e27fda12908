"""Rate-limit budgets: the pure math of "may this organisation make a Xero call now, and if not,
when?" (no I/O, time passed in).

Per organisation: N calls in any rolling minute (plus a safety margin, because the call reaches
Xero a little after it is counted here), M in any rolling day, C in flight; per app: K in any
rolling minute. Xero's ``X-MinLimit-Remaining`` / ``X-DayLimit-Remaining`` only ever tighten the
local count (another client may share the organisation); a 429 blocks until ``Retry-After``.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from enum import IntEnum

MINUTE = 60.0
DAY = 86_400.0


class Priority(IntEnum):
    """Lower goes first: actions, then hydration, then polling, then backfill."""

    action = 0
    hydration = 1
    polling = 2
    reconcile = 3
    backfill = 4


@dataclass
class RollingWindow:
    size: float
    limit: int
    stamps: deque[float] = field(default_factory=deque)

    def trim(self, now: float) -> None:
        while self.stamps and self.stamps[0] <= now - self.size:
            self.stamps.popleft()

    def used(self, now: float) -> int:
        self.trim(now)
        return len(self.stamps)

    def remaining(self, now: float) -> int:
        return max(0, self.limit - self.used(now))

    def wait(self, now: float) -> float:
        """Seconds until one more call fits (0 when it fits now)."""
        if self.used(now) < self.limit:
            return 0.0
        return self.stamps[len(self.stamps) - self.limit] + self.size - now

    def add(self, now: float, count: int = 1) -> None:
        self.stamps.extend([now] * count)

    def restamp(self, taken: float, done: float) -> None:
        """Count a finished call at its completion time: Xero counted it somewhere between the
        two, so the later stamp keeps the local window from freeing a slot before Xero's does."""
        try:
            self.stamps.remove(taken)
        except ValueError:
            return  # already out of the window
        self.stamps.append(done)


@dataclass
class OrgBudget:
    per_minute: int = 60
    per_day: int = 5000
    concurrent: int = 5
    margin: float = 1.0
    minute: RollingWindow = field(init=False)
    day: RollingWindow = field(init=False)
    in_flight: int = 0
    blocked_until: float = 0.0
    throttled: int = 0

    def __post_init__(self) -> None:
        self.minute = RollingWindow(MINUTE + self.margin, self.per_minute)
        self.day = RollingWindow(DAY, self.per_day)

    def wait(self, now: float) -> float | None:
        """None while every concurrent slot is taken (wait for a release), else seconds to wait."""
        if self.in_flight >= self.concurrent:
            return None
        return max(0.0, self.blocked_until - now, self.minute.wait(now), self.day.wait(now))

    def take(self, now: float) -> None:
        self.in_flight += 1
        self.minute.add(now)
        self.day.add(now)

    def release(self, taken: float | None = None, done: float | None = None) -> None:
        self.in_flight = max(0, self.in_flight - 1)
        if taken is not None and done is not None:
            self.minute.restamp(taken, done)
            self.day.restamp(taken, done)

    def observe(self, now: float, minute_remaining: int | None, day_remaining: int | None) -> None:
        for window, reported in ((self.minute, minute_remaining), (self.day, day_remaining)):
            if reported is None:
                continue
            missing = window.remaining(now) - reported
            if missing > 0:
                window.add(now, missing)

    def throttle(self, now: float, retry_after: float, problem: str) -> None:
        """A 429: nothing more until ``Retry-After`` has passed (plus the margin)."""
        self.throttled += 1
        self.blocked_until = max(self.blocked_until, now + retry_after + self.margin)

    def set_daily_limit(self, per_day: int) -> None:
        self.per_day = per_day
        self.day.limit = per_day


@dataclass
class AppBudget:
    per_minute: int = 10_000
    margin: float = 1.0
    minute: RollingWindow = field(init=False)
    blocked_until: float = 0.0

    def __post_init__(self) -> None:
        self.minute = RollingWindow(MINUTE + self.margin, self.per_minute)

    def wait(self, now: float) -> float:
        return max(0.0, self.blocked_until - now, self.minute.wait(now))

    def take(self, now: float) -> None:
        self.minute.add(now)

    def finished(self, taken: float, done: float) -> None:
        self.minute.restamp(taken, done)

    def observe(self, now: float, remaining: int | None) -> None:
        if remaining is not None:
            missing = self.minute.remaining(now) - remaining
            if missing > 0:
                self.minute.add(now, missing)


def problem_kind(header: str | None) -> str:
    """Normalise ``X-Rate-Limit-Problem`` (values seen: minute, day, DayLimit, AppMinLimit…)."""
    text = (header or "").lower()
    if "app" in text:
        return "app"
    if "day" in text or "daily" in text:
        return "day"
    if "concurren" in text:
        return "concurrent"
    return "minute"


def poll_interval(per_day: int, resources: int, share: float, minimum: float) -> float:
    """Seconds between polls of one resource so that all polling stays within ``share`` of the
    organisation's daily budget (5,000/day → about 6.5 min for 9 resources at 40%)."""
    calls_per_day = max(1.0, per_day * share / max(1, resources))
    return max(minimum, DAY / calls_per_day)
