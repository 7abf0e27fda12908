"""The scheduler's queues: a freed slot goes to the most urgent waiter of that organisation, and
another organisation's backlog does not hold it up."""

from __future__ import annotations

import asyncio

from xero_gateway.domain.budget import AppBudget, OrgBudget, Priority
from xero_gateway.domain.clock import Clock
from xero_gateway.service_layer.scheduler import Scheduler


def _scheduler(per_minute: int) -> Scheduler:
    # 1,200× clock: a rolling minute passes in 50 ms of real time
    return Scheduler(Clock(1200), lambda: OrgBudget(per_minute, 5000, 5, 0.0), AppBudget(10_000, 0.0))


async def test_actions_go_before_hydration_polling_and_backfill() -> None:
    scheduler = _scheduler(per_minute=1)
    order: list[str] = []
    async with scheduler.slot("org-a", Priority.backfill):  # uses this minute's only call
        pass

    async def call(name: str, priority: Priority) -> None:
        async with scheduler.slot("org-a", priority):
            order.append(name)

    waiters = [
        asyncio.create_task(call(p.name, p))
        for p in (
            Priority.backfill,
            Priority.reconcile,
            Priority.polling,
            Priority.hydration,
            Priority.action,
        )
    ]
    await asyncio.wait_for(asyncio.gather(*waiters), timeout=5)
    assert order == ["action", "hydration", "polling", "reconcile", "backfill"]


async def test_one_organisations_backlog_does_not_delay_another() -> None:
    scheduler = _scheduler(per_minute=2)
    done: list[str] = []

    async def call(org: str) -> None:
        async with scheduler.slot(org):
            done.append(org)

    backlog = [asyncio.create_task(call("org-a")) for _ in range(20)]  # ten minutes of A's budget
    await asyncio.wait_for(call("org-b"), timeout=1)
    assert done.count("org-a") <= 2 and "org-b" in done
    for task in backlog:
        task.cancel()
    await asyncio.gather(*backlog, return_exceptions=True)
