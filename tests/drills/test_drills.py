"""Fault drills, short form (CI): ~30 purchases through the DESIGN §4 zap per drill while a process is
SIGKILLed, Xero fails, or a replica dies; then the audit of drill_kit.Drill. ``make drills`` runs the
full form (``-m slow``: more purchases, every process, longer outages).

Each drill prints its row of the table: events sent, accepted (2xx), runs, duplicates, losses,
invoices, duplicate invoices, dead letters, seconds to recover after the last purchase.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from typing import Any

import pytest
from drills.drill_kit import FAST_XERO, Drill, Report, until_ready
from system_harness import running_system

SHORT = int(os.environ.get("KXFLOW_DRILL_PURCHASES", "16"))
RATE = 5.0  # purchases per second
REPORTS: list[Report] = []


@pytest.fixture(scope="module", autouse=True)
def _print_table() -> Any:
    yield
    if REPORTS:
        print("\n" + Report.header())
        for report in REPORTS:
            print(report.row())


@pytest.fixture
async def drill(kafka_bootstrap: str, mongodb_url: str, request: pytest.FixtureRequest) -> AsyncIterator[Any]:
    options = dict(FAST_XERO)
    options.update(getattr(request, "param", {}))
    system = await asyncio.to_thread(_start, kafka_bootstrap, mongodb_url, options)
    d = Drill(system)
    try:
        await d.setup()
        yield d
    finally:
        await d.close()
        await asyncio.to_thread(system.__exit__, None, None, None)


def _start(kafka: str, mongo: str, options: dict[str, Any]) -> Any:
    cm = running_system(kafka, mongo, **options)
    system = cm.__enter__()
    system.__exit__ = cm.__exit__  # type: ignore[attr-defined]
    return system


async def _finish(d: Drill, name: str, allowed: set[str] = frozenset(), timeout: float = 120) -> Report:
    recover = await d.settled(timeout)
    report = await d.audit(name, recover)
    REPORTS.append(report)
    print(Report.header() + "\n" + report.row())
    problems = report.problems(allowed)
    assert not problems, f"{name}: {problems}\n{d.system.describe(20)}"
    assert report.accepted >= report.sent * 0.5, f"{name}: too few deliveries accepted to prove anything"
    assert report.invoices == sum(1 for r in await d.runs() if r["status"] == "succeeded")
    return report


async def test_sigkill_router_then_each_gateway(drill: Drill) -> None:
    victims = {SHORT // 4: "router", SHORT // 2: "xero-gateway", 3 * SHORT // 4: "kartra-gateway"}

    async def during(i: int) -> None:
        if i in victims:
            await asyncio.to_thread(drill.system.restart, victims[i], hard=True)

    await drill.stream(SHORT, RATE, during)
    await _finish(drill, "SIGKILL router, gateways")


async def test_xero_500s_then_429_storm(drill: Drill) -> None:
    sb = drill.url("xero-sandbox")

    async def during(i: int) -> None:
        if i % 5 == 0 and i < SHORT // 2:  # about 20% of the calls of this stretch answer 500
            await drill.http.post(
                f"{sb}/_sandbox/fail", json={"status": 500, "count": 2, "path_contains": "/api.xro"}
            )
        if i == SHORT // 2:  # then a storm of 429s
            await drill.http.post(
                f"{sb}/_sandbox/fail", json={"status": 429, "count": 15, "path_contains": "/api.xro"}
            )

    await drill.stream(SHORT, RATE, during)
    await _finish(drill, "Xero 500s, then 429 storm")


@pytest.mark.parametrize(
    "drill", [{"replicas": {"router": 2, "xero-gateway": 2, "kartra-gateway": 2}}], indirect=True
)
@pytest.mark.xfail(
    reason="router bug found by this drill: a run created by a replica SIGKILLed before it dispatched "
    "the first step stays 'running' with no step (the surviving replica sees the run exists and does "
    "nothing); reported to the router owner, see docs/drills.md",
    strict=False,
)
async def test_two_replicas_each_one_killed_mid_stream(drill: Drill) -> None:
    async def during(i: int) -> None:
        if i == SHORT // 3:
            for name in ("router-2", "xero-gateway-2"):
                await asyncio.to_thread(drill.system.kill, name)

    await drill.stream(SHORT, RATE, during)
    await until_ready(drill.system, "router")
    await _finish(drill, "2 replicas, one killed")
