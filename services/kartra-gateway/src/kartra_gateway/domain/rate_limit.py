"""Rate math for Kartra's limit of 20 calls per second per App (pure; the caller passes the clock).

A generic cell rate algorithm (the virtual-scheduling form of a token bucket): calls are spaced
``1/rate`` apart, and up to ``burst`` calls may go back to back. At most ``burst + rate`` calls
land in any one-second window, so the defaults (16/s, burst 2 → at most 18) stay under Kartra's 20
with room for network jitter compressing the gaps. Reservations queue in order: every caller is
told the exact moment its slot comes, and no two callers get the same slot.

This schedule is one process's; replicas sharing an App also share its rule in
``runtime.shared_limits`` (``KARTRA_GW_SHARED_RATE_LIMITS``). Should a 429 come anyway (another
client of the App), :meth:`penalize` holds every caller of that App in this process back for the
back-off Kartra asks for ("wait 1 s and retry").
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class CallSchedule:
    rate: float
    burst: int = 1
    tat: float = 0.0
    """Theoretical arrival time of the next call at an even pace."""
    blocked_until: float = 0.0

    def reserve(self, now: float) -> float:
        """Book the next call slot; return how long to wait before making the call (0 = now)."""
        interval = 1.0 / self.rate
        tolerance = (self.burst - 1) * interval
        tat = max(self.tat, now - tolerance, self.blocked_until)
        start = max(now, tat - tolerance, self.blocked_until)
        self.tat = max(tat, start) + interval
        return start - now

    def penalize(self, now: float, seconds: float) -> None:
        """Kartra answered 429: nobody calls this App before ``now + seconds``; no burst after."""
        self.blocked_until = max(self.blocked_until, now + seconds)
        self.tat = max(self.tat, self.blocked_until + (self.burst - 1) / self.rate)
