"""One call schedule per Kartra App in this process (the limit is per App, not per lead), and,
when replicas share the App, the same App's rule in ``runtime.shared_limits`` across all of them."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from kartra_gateway.domain.rate_limit import CallSchedule
from kxflow_contracts.runtime.shared_limits import Rule, SharedRateLimits

SHARED_WINDOW = 1.1  # Kartra's second plus a margin: a call leaves a little after its planned time


class AppRateLimiter:
    def __init__(
        self,
        rate: float,
        burst: int,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        shared: SharedRateLimits | None = None,
        shared_limit: int = 18,
    ) -> None:
        self._shared = shared
        self._shared_limit = shared_limit
        self._rate = rate
        self._burst = burst
        self._clock = clock
        self._sleep = sleep
        self._schedules: dict[str, CallSchedule] = {}

    def _schedule(self, app: str) -> CallSchedule:
        schedule = self._schedules.get(app)
        if schedule is None:
            schedule = self._schedules[app] = CallSchedule(self._rate, self._burst)
        return schedule

    async def acquire(self, app: str) -> float:
        """Wait for this App's next call slot; returns the time waited (the wait is the behaviour)."""
        wait = self._schedule(app).reserve(self._clock())
        if wait > 0:
            await self._sleep(wait)
        if self._shared is not None:
            admission = await self._shared.admit(Rule(f"kartra:{app}", self._shared_limit, SHARED_WINDOW))
            wait += admission.waited
        return wait

    def penalize(self, app: str, seconds: float) -> None:
        self._schedule(app).penalize(self._clock(), seconds)
