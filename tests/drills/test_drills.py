"""Fault drills (GitHub issue 7): Kartra purchases through the DESIGN §4 zap while a process is
SIGKILLed, the Kafka broker restarts, FerretDB is stopped, Xero fails or times out, or a replica
dies; then the audit of drill_kit.Drill.

Every drill has a short form (CI, ``KXFLOW_DRILL_PURCHASES`` purchases, default 16) and a full form
marked ``slow`` (``KXFLOW_DRILL_FULL_PURCHASES``, default 120; the MongoDB outage lasts 30 s instead
of 5 s) that ``make drills`` runs. Each prints its row of the table: events sent, accepted (2xx),
runs, duplicates, losses, invoices, duplicate invoices, dead letters, seconds to recover after the
stream and the fault ended.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
from drills.drill_kit import FAST_XERO, Drill, Report, until_ready
from drills.infra_control import PrivateInfra
from system_harness import running_system

SHORT = int(os.environ.get("KXFLOW_DRILL_PURCHASES", "16"))
FULL = int(os.environ.get("KXFLOW_DRILL_FULL_PURCHASES", "120"))
RATE = 5.0  # purchases per second
REPORTS: list[Report] = []

# The same drill at two sizes: the CI short form and the slow full form (``make drills``).
SIZES = pytest.mark.parametrize(
    "size",
    [
        pytest.param(SHORT, id="short"),
        pytest.param(FULL, id="full", marks=[pytest.mark.slow, pytest.mark.timeout(1800)]),
    ],
)


@pytest.fixture(scope="module", autouse=True)
def _print_table() -> Any:
    yield
    if REPORTS:
        print("\n" + Report.header())
        for report in REPORTS:
            print(report.row())


@asynccontextmanager
async def _drill_on(kafka: str, mongo: str, options: dict[str, Any]) -> AsyncIterator[Drill]:
    system = await asyncio.to_thread(_start, kafka, mongo, options)
    d = Drill(system)
    try:
        await d.setup()
        yield d
    finally:
        await d.close()
        await asyncio.to_thread(system.__exit__, None, None, None)


def _options(request: pytest.FixtureRequest) -> dict[str, Any]:
    options = dict(FAST_XERO)
    options.update(getattr(request, "param", {}))
    return options


@pytest.fixture
async def drill(
    kafka_bootstrap: str, mongodb_url: str, request: pytest.FixtureRequest
) -> AsyncIterator[Drill]:
    async with _drill_on(kafka_bootstrap, mongodb_url, _options(request)) as d:
        yield d


@pytest.fixture
async def private_drill(request: pytest.FixtureRequest) -> AsyncIterator[tuple[Drill, PrivateInfra]]:
    """A drill on a Kafka and a FerretDB of its own, which it may restart or stop."""
    infra = PrivateInfra()
    try:
        await asyncio.to_thread(infra.up, "all")
        async with _drill_on(infra.kafka_bootstrap, infra.mongodb_url, _options(request)) as d:
            yield d, infra
    finally:
        await asyncio.to_thread(infra.close)


def _start(kafka: str, mongo: str, options: dict[str, Any]) -> Any:
    cm = running_system(kafka, mongo, **options)
    system = cm.__enter__()
    system.__exit__ = cm.__exit__  # type: ignore[attr-defined]
    return system


async def _stream_with_fault(d: Drill, count: int, at: int, fault: Callable[[], Awaitable[None]]) -> None:
    """Stream ``count`` purchases; the fault starts before purchase ``at`` and runs beside the
    stream (purchases keep coming while a server is down); both end before the audit."""
    task: asyncio.Task[None] | None = None

    async def during(i: int) -> None:
        nonlocal task
        if i == at:
            task = asyncio.create_task(fault())

    await d.stream(count, RATE, during)
    assert task is not None
    await task


async def _finish(d: Drill, name: str, allowed: set[str] = frozenset(), timeout: float = 180) -> Report:
    recover = await d.settled(timeout)
    report = await d.audit(name, recover)
    REPORTS.append(report)
    print(Report.header() + "\n" + report.row())
    problems = report.problems(allowed)
    assert not problems, f"{name}: {problems}\n{await d.evidence()}\n{d.system.describe(20)}"
    assert report.accepted >= report.sent * 0.5, f"{name}: too few deliveries accepted to prove anything"
    assert report.invoices == sum(1 for r in await d.runs() if r["status"] == "succeeded")
    return report


async def _services_ready(d: Drill) -> None:
    """Every service answers /readyz again (Kafka and MongoDB reachable) after the fault."""
    for name in d.system.names:
        if "sandbox" not in name:
            await until_ready(d.system, name, timeout=120)


def _label(name: str, size: int) -> str:
    return name if size == SHORT else f"{name} (full)"


def _timeout(size: int) -> float:
    return 180 if size == SHORT else 900


@SIZES
async def test_sigkill_router_then_each_gateway(drill: Drill, size: int) -> None:
    victims = {size // 4: "router", size // 2: "xero-gateway", 3 * size // 4: "kartra-gateway"}

    async def during(i: int) -> None:
        if i in victims:
            await asyncio.to_thread(drill.system.restart, victims[i], hard=True)

    await drill.stream(size, RATE, during)
    await _finish(drill, _label("SIGKILL router, gateways", size), timeout=_timeout(size))


@SIZES
async def test_kafka_broker_restart(private_drill: tuple[Drill, PrivateInfra], size: int) -> None:
    d, infra = private_drill

    async def restart() -> None:
        await asyncio.to_thread(infra.down, "kafka")
        await asyncio.to_thread(infra.up, "kafka")

    # Enough purchases after the restart began to keep sending through the outage (~10 s).
    await _stream_with_fault(d, size + 50, size // 3, restart)
    await _services_ready(d)
    await _finish(d, _label("Kafka broker restart", size), timeout=_timeout(size))


@pytest.mark.parametrize(
    "size, outage_s",
    [
        pytest.param(SHORT, 5.0, id="short"),
        pytest.param(FULL, 30.0, id="full", marks=[pytest.mark.slow, pytest.mark.timeout(1800)]),
    ],
)
async def test_mongodb_outage(private_drill: tuple[Drill, PrivateInfra], size: int, outage_s: float) -> None:
    """FerretDB stopped for ``outage_s`` mid-stream; webhooks during it may be refused (503), only
    the 2xx-accepted ones must have runs."""
    d, infra = private_drill

    async def outage() -> None:
        await asyncio.to_thread(infra.down, "mongo")
        try:
            await asyncio.sleep(outage_s)  # the outage itself is the behaviour under test
        finally:
            await asyncio.to_thread(infra.up, "mongo")

    await _stream_with_fault(d, size + int(outage_s * RATE), size // 3, outage)
    await _services_ready(d)
    await _finish(d, _label(f"MongoDB down {outage_s:.0f} s", size), timeout=_timeout(size))


@pytest.mark.parametrize(
    "size",
    [
        pytest.param(SHORT, id="short"),
        # The full form found the duplicate of issue 4 (docs/drills.md): a lost answer retried
        # behind the 429 storm, after Xero's Idempotency-Key window. Fixed: xero-gateway looks
        # the record up instead (its write guard), so the full form is no longer xfail.
        pytest.param(FULL, id="full", marks=[pytest.mark.slow, pytest.mark.timeout(1800)]),
    ],
)
async def test_xero_500s_and_timeouts_then_429_storm(drill: Drill, size: int) -> None:
    """The first half: about 20% of Xero calls answer 500, time out (held past the gateway's 5 s
    HTTP time-out), or create the invoice and lose the answer; then a storm of 429s. The audit's
    one-invoice-per-purchase count (by Reference and by Idempotency-Key) is what proves a lost
    answer is not created twice, whether its retry came inside Xero's Idempotency-Key window (a
    replay) or after it (xero-gateway's lookup; the windows run 10x faster here: Xero's 360 s is
    36 real s, the gateway's safe window of 300 s is 30 real s)."""
    sb = drill.url("xero-sandbox")
    # A zap run makes ~4 Xero calls; one fault on 3 purchases of 4 is ~20% of the calls.
    faults = [
        {"status": 500, "path_contains": "/api.xro"},
        {"status": 504, "delay_s": 6, "path_contains": "/api.xro"},
        {"lose_answer": True, "delay_s": 6, "path_contains": "/Invoices"},
    ]

    async def during(i: int) -> None:
        if i < size // 2 and i % 4 < len(faults):
            res = await drill.http.post(f"{sb}/_sandbox/fail", json=faults[i % 4])
            res.raise_for_status()
        if i == size // 2:
            res = await drill.http.post(
                f"{sb}/_sandbox/fail", json={"status": 429, "count": 15, "path_contains": "/api.xro"}
            )
            res.raise_for_status()

    await drill.stream(size, RATE, during)
    await _finish(drill, _label("Xero 500s/time-outs, 429s", size), timeout=_timeout(size))
    stats = (await drill.http.get(f"{sb}/_sandbox/stats")).json()
    served = stats["injected_faults"]
    # The faults really happened, and a lost answer was really retried with its key.
    assert served.get("lost_answer", 0) >= 1 and served.get("timeout", 0) >= 1, served
    assert served.get("status", 0) >= 15, served
    guard = await drill.write_guard_counts()
    print(f"xero-gateway write guard: {guard}; idempotent replays: {stats['idempotent_replays']}")
    # Every action of the zap has a lookup: none may be refused (the audit saw every run succeed).
    assert guard.get("outcome_unknown", 0) == 0, guard
    # A lost answer was retried with its key, inside Xero's window (replayed) or after it (found).
    assert stats["idempotent_replays"] + guard.get("lookup_found", 0) >= 1, (stats, guard)


@SIZES
@pytest.mark.parametrize(
    "drill", [{"replicas": {"router": 2, "xero-gateway": 2, "kartra-gateway": 2}}], indirect=True
)
async def test_two_replicas_each_one_killed_mid_stream(drill: Drill, size: int) -> None:
    async def during(i: int) -> None:
        if i == size // 3:
            for name in ("router-2", "xero-gateway-2", "kartra-gateway-2"):
                await asyncio.to_thread(drill.system.kill, name)

    await drill.stream(size, RATE, during)
    await until_ready(drill.system, "router")
    await _finish(drill, _label("2 replicas, one killed", size), timeout=_timeout(size))
