"""When a zap that keeps failing is turned off (Zapier: 95% errors over more than 20 runs in 7 days)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta


@dataclass(frozen=True)
class AutoDisablePolicy:
    min_runs: int = 20
    error_ratio: float = 0.95
    window: timedelta = timedelta(days=7)

    def should_disable(self, total: int, failed: int) -> bool:
        return total > self.min_runs and total > 0 and failed / total >= self.error_ratio

    def reason(self, total: int, failed: int) -> str:
        days = self.window.total_seconds() / 86400
        return (
            f"turned off: {failed} of {total} runs failed in the last {days:g} days "
            f"(limit {self.error_ratio:.0%} over more than {self.min_runs} runs)"
        )


def at_risk(policy: AutoDisablePolicy, total: int, failed: int) -> bool:
    """Warn first (as Zapier does): failing at the disable ratio with more than half the runs the
    rule needs, before it turns the zap off."""
    return total > policy.min_runs // 2 and failed / max(total, 1) >= policy.error_ratio
