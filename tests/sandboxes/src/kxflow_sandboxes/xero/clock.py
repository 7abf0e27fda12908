"""A virtual clock whose speed can change at run time, so a Xero minute can pass in a second.

Rate-limit windows, token lifetimes and idempotency windows run on this clock; resource dates
(``UpdatedDateUTC``) stay on the wall clock so ``If-Modified-Since`` behaves as in production.
"""

from __future__ import annotations

import time
from collections.abc import Callable


class VirtualClock:
    def __init__(self, speed: float = 1.0, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._monotonic = monotonic
        self._speed = speed
        self._anchor_real = monotonic()
        self._anchor_virtual = 0.0

    @property
    def speed(self) -> float:
        return self._speed

    def now(self) -> float:
        """Virtual seconds since the sandbox started."""
        return self._anchor_virtual + (self._monotonic() - self._anchor_real) * self._speed

    def set_speed(self, speed: float) -> None:
        """Change speed without a jump: virtual time continues from where it is."""
        if speed <= 0:
            raise ValueError("clock speed must be positive")
        self._anchor_virtual = self.now()
        self._anchor_real = self._monotonic()
        self._speed = speed

    def advance(self, seconds: float) -> None:
        """Jump forward (tests: expire tokens or idempotency entries at once)."""
        self._anchor_virtual += seconds
