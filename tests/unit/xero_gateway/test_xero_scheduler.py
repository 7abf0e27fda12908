"""The scheduler's queues: a freed slot goes to the most urgent waiter of that organisation, and
another organisation's backlog does not hold it up."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from fakes.commands import FakeLedger, FakeResults, ScriptedPort
from waiting import wait_for

from kxflow_contracts.commands import ActionCommand
from kxflow_contracts.results import PROGRESS_TYPE
from kxflow_contracts.runtime import commands as runtime_commands
from kxflow_contracts.runtime.commands import CommandRunner
from xero_gateway.domain.budget import AppBudget, OrgBudget, Priority
from xero_gateway.domain.clock import Clock
from xero_gateway.service_layer.scheduler import Scheduler

COMMAND = ActionCommand.model_validate(
    {
        "command_id": "c1",
        "tenant": "t1",
        "connection_id": "conn",
        "action": "xero.contact.create",
        "run_id": "r1",
        "zap_id": "z1",
        "zap_version": 1,
        "step_id": "contact",
    }
)


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


async def test_a_command_kept_waiting_for_its_organisations_budget_is_reported_holding(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(runtime_commands, "HOLDING_AFTER_S", 0.01)
    scheduler = Scheduler(Clock(1), lambda: OrgBudget(1, 5000, 5, 0.0), AppBudget(10_000, 0.0))
    async with scheduler.slot("org-a"):  # this minute's only call
        pass

    class Port(ScriptedPort):
        async def run(self, cmd: ActionCommand, reexecution: bool) -> dict[str, Any] | list[Any] | None:
            async with scheduler.slot("org-a"):  # waits for the next minute (real time: clock 1×)
                return {"ok": True}

    results = FakeResults()
    task = asyncio.create_task(CommandRunner(FakeLedger(), Port(), results, source="/xero").handle(COMMAND))
    await wait_for(lambda: results.published, timeout=5)
    ((event, _),) = results.published
    assert event.type == PROGRESS_TYPE and "org-a" in event.data.detail
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
