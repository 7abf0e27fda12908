"""Rate limits shared by replicas (``runtime.shared_limits``) on the real MongoDB-wire server.

Two "replicas" (two clients, two limiter instances) call as fast as they may under one rule; the
call times they record must never put more than ``limit`` calls in any window, and together they
must still use the budget (not merely be slow). The same load through two *unshared* limiters is
checked with the same detector, so the assertion is shown to catch what it guards against.
"""

from __future__ import annotations

import asyncio
import time

import pytest
from pymongo import AsyncMongoClient
from waiting import wait_for

from kxflow_contracts.runtime.shared_limits import Rule, SharedRateLimits, planned_time

pytestmark = pytest.mark.mongo

LIMIT, WINDOW = 10, 1.0
MARGIN = 0.1  # a call leaves a little after its planned time (the claim's own round trips)


def most_in_any_window(times: list[float], window: float) -> int:
    times = sorted(times)
    best, start = 0, 0
    for end, t in enumerate(times):
        while t - times[start] >= window:
            start += 1
        best = max(best, end - start + 1)
    return best


async def _hammer(limits: SharedRateLimits, rule: Rule, calls: int, workers: int, out: list[float]) -> None:
    async def worker(count: int) -> None:
        for _ in range(count):
            await limits.admit(rule)
            out.append(time.time())

    await asyncio.gather(*(worker(calls // workers) for _ in range(workers)))


def test_the_planned_time_is_one_window_after_the_call_limit_numbers_back() -> None:
    assert planned_time(100.0, None, 60.0) == 100.0
    assert planned_time(100.0, 30.0, 60.0) == 100.0  # that call left the window long ago
    assert planned_time(100.0, 70.0, 60.0) == 130.0


async def test_two_replicas_together_never_exceed_the_limit_and_use_it(mongodb_url, mongo_db_name) -> None:
    clients = [AsyncMongoClient(mongodb_url) for _ in range(2)]
    try:
        replicas = [SharedRateLimits(c[mongo_db_name]["shared_limits"]) for c in clients]
        await replicas[0].ensure_indexes()
        rule = Rule("kartra:app-1", LIMIT, WINDOW + MARGIN)
        times: list[float] = []
        started = time.time()
        await asyncio.gather(*(_hammer(r, rule, 20, 4, times) for r in replicas))
        elapsed = time.time() - started
    finally:
        for c in clients:
            await c.close()
    assert len(times) == 40
    assert most_in_any_window(times, WINDOW) <= LIMIT
    # 40 calls, 10 per window: the 31st–40th go three windows after the first ten (3.3 s).
    assert 3.2 <= elapsed < 5.0, elapsed


async def test_a_rule_taken_in_blocks_holds_across_replicas(mongodb_url, mongo_db_name) -> None:
    """Blocks of 5 under a limit of 10: each replica reserves half a window's calls at a time."""
    clients = [AsyncMongoClient(mongodb_url) for _ in range(2)]
    try:
        replicas = [SharedRateLimits(c[mongo_db_name]["shared_limits"]) for c in clients]
        rule = Rule("xero:app-minute", LIMIT, WINDOW + MARGIN, block=5, spread=MARGIN)
        times: list[float] = []
        started = time.time()
        await asyncio.gather(*(_hammer(r, rule, 20, 4, times) for r in replicas))
        elapsed = time.time() - started
        numbers = await clients[0][mongo_db_name]["shared_limits"].distinct("n")
    finally:
        for c in clients:
            await c.close()
    assert len(times) == 40
    assert most_in_any_window(times, WINDOW) <= LIMIT
    assert max(numbers) < 20  # numbered by block (5 calls each), not by call
    assert 3.2 <= elapsed < 8.0, elapsed


async def test_the_detector_catches_replicas_that_do_not_share(mongodb_url, mongo_db_name) -> None:
    async with AsyncMongoClient(mongodb_url) as client:
        db = client[mongo_db_name]
        replicas = [SharedRateLimits(db[f"own_limits_{i}"]) for i in range(2)]
        times: list[float] = []
        rule = Rule("kartra:app-1", LIMIT, WINDOW + MARGIN)
        await asyncio.gather(*(_hammer(r, rule, 20, 4, times) for r in replicas))
    assert most_in_any_window(times, WINDOW) > LIMIT


async def test_a_key_idle_for_two_windows_is_cleaned_and_starts_again(mongodb_url, mongo_db_name) -> None:
    clock = [1_000.0]
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock[0] += seconds

    async with AsyncMongoClient(mongodb_url) as client:
        docs = client[mongo_db_name]["shared_limits"]
        limits = SharedRateLimits(docs, now=lambda: clock[0], sleep=sleep)
        rule = Rule("xero:org-min:o1", 3, 60.0)
        for _ in range(3):
            assert (await limits.admit(rule)).waited == 0.0
        assert (await limits.admit(rule)).waited == 60.0  # the 4th waits one window after the 1st
        clock[0] += 300.0  # idle: every claim is older than two windows
        for _ in range(3):
            assert (await limits.admit(rule)).waited == 0.0

        # The claim numbered 6 (a multiple of the limit) deleted the old ones in the background.
        async def old_ones_gone() -> bool:
            return await docs.count_documents({"at": {"$lt": clock[0] - 120}}) == 0

        await wait_for(old_ones_gone, message="claims older than two windows deleted")
        assert await docs.count_documents({}) == 3
