"""Two xero-gateway replicas calling Xero for one organisation at once (10× clock, real sandbox,
real FerretDB): with ``shared_rate_limits`` their schedulers share the organisation's 60/min, so
the sandbox answers no 429 and the pair still uses the whole budget; without it, each replica
spends its own 60/min and Xero refuses calls, which shows the test can fail.

Both replicas call from one process here, sharing one virtual clock object; their claims are
compared on ``Clock.common``, which separate processes agree on too.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from integration.xero_gateway.xero_gw_helpers import connect_all

from xero_gateway.domain.clock import Clock

SPEED = 10.0
CALLS_PER_REPLICA = 60


async def _replicas(start_gateway: Any, shared: bool) -> list[Any]:
    clock = Clock(SPEED)
    first, url = await start_gateway({"clock": clock}, clock_speed=SPEED, shared_rate_limits=shared)
    await connect_all(url)
    second, _ = await start_gateway({"clock": clock}, clock_speed=SPEED, shared_rate_limits=shared)
    return [first, second]


async def _call_together(replicas: list[Any], org: str) -> None:
    async def calls(app: Any) -> None:
        conn = next(c for c in await app.state.repos.list() if c.xero_tenant_id == org)

        async def one() -> None:
            res = await app.state.api.call(conn, "GET", "/api.xro/2.0/Organisation")
            assert res.status_code == 200, res.text

        await asyncio.gather(*(one() for _ in range(CALLS_PER_REPLICA)))

    await asyncio.gather(*(calls(app) for app in replicas))


def _most_in_a_minute(times: list[float]) -> int:
    times = sorted(times)
    return max(sum(1 for u in times[i:] if u - t < 60) for i, t in enumerate(times))


@pytest.mark.parametrize("shared", [True, False], ids=["shared", "unshared"])
async def test_two_replicas_share_one_organisations_minute(start_gateway, xero_sandbox, shared: bool) -> None:
    sandbox = xero_sandbox.sandbox
    sandbox.clock.set_speed(SPEED)
    replicas = await _replicas(start_gateway, shared)
    org = xero_sandbox.org("Acme AU").tenant_id
    started = sandbox.clock.now()
    await _call_together(replicas, org)
    elapsed = sandbox.clock.now() - started
    times = [t for t in sandbox.call_times[org] if t >= started]
    assert len(times) == 2 * CALLS_PER_REPLICA
    if not shared:
        assert sandbox.stats.rate_limited > 0, "two unshared replicas should overrun the minute"
        return
    assert sandbox.stats.rate_limited == 0
    assert _most_in_a_minute(times) <= 60
    # 120 calls at 60 per (61 s) minute: the second sixty go one window after the first.
    assert 60 <= elapsed < 60 + 40, elapsed
