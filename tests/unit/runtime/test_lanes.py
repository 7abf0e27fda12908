"""Per-key lanes: a long backlog on one key never delays another key; retries are not lost."""

from __future__ import annotations

import asyncio

from waiting import wait_for

from kxflow_contracts.runtime.lanes import Item, KeyedDispatcher


async def test_a_blocked_key_does_not_delay_another_key() -> None:
    release_a = asyncio.Event()
    done: list[tuple[str, int]] = []

    async def handle(payload: tuple[str, int]) -> bool:
        if payload[0] == "a":
            await release_a.wait()
        return True

    dispatcher = KeyedDispatcher(handle, lambda p, o: done.append((p, o)), per_key_workers=2)
    for n in range(100):
        dispatcher.submit("a", Item("p0", n, ("a", n)))
    for n in range(100, 110):
        dispatcher.submit("b", Item("p0", n, ("b", n)))
    await wait_for(lambda: len(done) == 10, timeout=5)
    assert {o for _, o in done} == set(range(100, 110))
    release_a.set()
    await wait_for(lambda: len(done) == 110, timeout=5)
    await dispatcher.close()


async def test_retry_later_and_errors_are_retried_and_dropped_partitions_forgotten() -> None:
    attempts: dict[int, int] = {}
    done: list[int] = []

    async def handle(offset: int) -> bool:
        attempts[offset] = attempts.get(offset, 0) + 1
        if offset == 1 and attempts[offset] == 1:
            return False  # busy elsewhere
        if offset == 2 and attempts[offset] == 1:
            raise RuntimeError("store down")
        return True

    dispatcher = KeyedDispatcher(handle, lambda p, o: done.append(o), per_key_workers=1, retry_delay=0.01)
    for n in range(3):
        dispatcher.submit("k", Item("p0", n, n))
    await wait_for(lambda: sorted(done) == [0, 1, 2], timeout=5)
    assert attempts == {0: 1, 1: 2, 2: 2}

    gate = asyncio.Event()

    async def slow(offset: int) -> bool:
        await gate.wait()
        return True

    dispatcher = KeyedDispatcher(slow, lambda p, o: done.append(o), per_key_workers=1)
    for n in range(10, 13):
        dispatcher.submit("k", Item("p9", n, n))
    await wait_for(lambda: dispatcher.queued() == 2, timeout=5)  # 10 is being worked on
    dispatcher.drop(["p9"])  # revoked: queued records are forgotten, the running one finishes
    assert dispatcher.queued() == 0
    gate.set()
    await wait_for(lambda: 10 in done, timeout=5)
    await dispatcher.close()
    assert 11 not in done and 12 not in done
