"""A clock in virtual seconds whose speed is a setting (tests run a Xero minute in a second)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable


class Clock:
    def __init__(
        self,
        speed: float = 1.0,
        monotonic: Callable[[], float] = time.monotonic,
        sleeper: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if speed <= 0:
            raise ValueError("clock speed must be positive")
        self.speed = speed
        self._monotonic = monotonic
        self._sleeper = sleeper
        self._origin = monotonic()
        self._wall_origin = time.time()

    def now(self) -> float:
        return (self._monotonic() - self._origin) * self.speed

    def wall(self) -> float:
        """Unix time on this clock (token expiry runs on it, as it does in the sandbox)."""
        return self._wall_origin + self.now()

    def common(self) -> float:
        """Virtual seconds on a scale every process agrees on (Unix time × speed), unlike ``now``
        and ``wall``, which count from this process's start: replicas compare their rate-limit
        claims on it (``runtime.shared_limits``)."""
        return time.time() * self.speed

    def real(self, virtual_seconds: float) -> float:
        return max(0.0, virtual_seconds) / self.speed

    async def sleep(self, virtual_seconds: float) -> None:
        await self._sleeper(self.real(virtual_seconds))
