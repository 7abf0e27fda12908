"""Xero's rate limits as the sandbox enforces them: per organisation 60 calls in any rolling minute,
5,000 in any rolling day and 5 in flight; per app 10,000 in any rolling minute.

Every answer carries ``X-DayLimit-Remaining``, ``X-MinLimit-Remaining`` and
``X-AppMinLimit-Remaining``; a refused call gets 429 with ``Retry-After`` (seconds, on the
sandbox's virtual clock) and ``X-Rate-Limit-Problem`` naming the limit.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

MINUTE = 60.0
DAY = 86_400.0


@dataclass
class Window:
    size: float
    limit: int
    stamps: deque[float] = field(default_factory=deque)

    def _trim(self, now: float) -> None:
        while self.stamps and self.stamps[0] <= now - self.size:
            self.stamps.popleft()

    def remaining(self, now: float) -> int:
        self._trim(now)
        return max(0, self.limit - len(self.stamps))

    def retry_after(self, now: float) -> int:
        self._trim(now)
        if len(self.stamps) < self.limit:
            return 0
        return max(1, math.ceil(self.stamps[0] + self.size - now))

    def add(self, now: float) -> None:
        self.stamps.append(now)


@dataclass
class Refusal:
    problem: str
    retry_after: int


@dataclass
class TenantLimits:
    minute: Window
    day: Window
    concurrent_limit: int
    in_flight: int = 0


class RateLimiter:
    def __init__(
        self, per_minute: int = 60, per_day: int = 5000, concurrent: int = 5, app_per_minute: int = 10_000
    ) -> None:
        self.per_minute = per_minute
        self.per_day = per_day
        self.concurrent = concurrent
        self.app_minute = Window(MINUTE, app_per_minute)
        self._tenants: dict[str, TenantLimits] = {}

    def tenant(self, tenant_id: str) -> TenantLimits:
        if tenant_id not in self._tenants:
            self._tenants[tenant_id] = TenantLimits(
                Window(MINUTE, self.per_minute), Window(DAY, self.per_day), self.concurrent
            )
        return self._tenants[tenant_id]

    def set_daily_limit(self, tenant_id: str, per_day: int) -> None:
        self.tenant(tenant_id).day.limit = per_day

    def acquire(self, tenant_id: str, now: float) -> Refusal | None:
        """Count a call, or say which limit refuses it (a refused call is not counted)."""
        t = self.tenant(tenant_id)
        if self.app_minute.remaining(now) == 0:
            return Refusal("AppMinLimit", self.app_minute.retry_after(now))
        if t.day.remaining(now) == 0:
            return Refusal("DayLimit", t.day.retry_after(now))
        if t.minute.remaining(now) == 0:
            return Refusal("MinLimit", t.minute.retry_after(now))
        if t.in_flight >= t.concurrent_limit:
            return Refusal("Concurrent", 1)
        t.in_flight += 1
        t.minute.add(now)
        t.day.add(now)
        self.app_minute.add(now)
        return None

    def release(self, tenant_id: str) -> None:
        t = self.tenant(tenant_id)
        t.in_flight = max(0, t.in_flight - 1)

    def headers(self, tenant_id: str, now: float) -> dict[str, str]:
        t = self.tenant(tenant_id)
        return {
            "X-DayLimit-Remaining": str(t.day.remaining(now)),
            "X-MinLimit-Remaining": str(t.minute.remaining(now)),
            "X-AppMinLimit-Remaining": str(self.app_minute.remaining(now)),
        }
