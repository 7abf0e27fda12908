"""runtime.retention: every rule runs each period with the task's clock; a failing rule does not
stop the others or the task."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from waiting import wait_for

from kxflow_contracts.runtime.retention import Retention, Rule


async def test_rules_run_periodically_with_the_tasks_clock_and_survive_failures() -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    ticks = iter(range(10_000))
    seen: list[datetime] = []

    async def ok(now: datetime) -> int:
        seen.append(now)
        return 2

    async def broken(now: datetime) -> int:
        raise ConnectionError("database blip")

    retention = Retention(
        [Rule("broken", broken), Rule("ok", ok)],
        interval=0.001,
        clock=lambda: start + timedelta(days=next(ticks)),  # a fast clock: a day per pass
    )
    retention.start()
    try:
        await wait_for(lambda: len(seen) >= 40, timeout=10, message="40 passes")
    finally:
        await retention.stop()
    assert seen[39] - seen[0] == timedelta(days=39)
    assert retention.purged["ok"] >= 80 and retention.purged["broken"] == 0
    assert asyncio.current_task() is not None
