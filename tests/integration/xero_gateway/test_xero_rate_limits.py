"""The scheduler at an accelerated clock (sandbox and gateway both at 10×): a backlog of 600
commands for organisation A and 60 for B, all on one partition, B's behind A's.

Zero 429s, A uses at least 95% of its per-minute budget, B finishes within its own budget's time
(its 60 calls fit in one minute) instead of waiting behind A's ten minutes, every command answered.
"""

from __future__ import annotations

import asyncio
import uuid

from faststream.kafka import KafkaBroker
from integration.xero_gateway.xero_gw_helpers import TENANT, Results, connect_all
from waiting import wait_for

from kxflow_contracts.commands import COMMAND_TYPE, ActionCommand
from kxflow_contracts.envelope import CloudEvent
from kxflow_contracts.runtime.kafka import publish_event
from kxflow_contracts.topics import Topics

SPEED = 10.0
A_COMMANDS, B_COMMANDS = 600, 60


def _command(conn: str, n: int) -> tuple[ActionCommand, CloudEvent]:
    cmd = ActionCommand(
        command_id=uuid.uuid4().hex,
        tenant=TENANT,
        connection_id=conn,
        action="xero.organisation.find",
        input={},
        run_id=f"run-{conn}-{n}",
        zap_id="zap-rate",
        zap_version=1,
        step_id="org",
    )
    event = CloudEvent(
        id=f"{cmd.command_id}:1",
        source="/router",
        type=COMMAND_TYPE,
        subject=cmd.command_id,
        tenant=TENANT,
        data=cmd,
    )
    return cmd, event


def minute_counts(times: list[float]) -> list[int]:
    """Calls in each full minute from the first call on (virtual seconds)."""
    start = times[0]
    full = int((times[-1] - start) // 60)
    return [sum(1 for t in times if start + 60 * k <= t < start + 60 * (k + 1)) for k in range(full)]


async def test_backlog_of_a_uses_its_budget_and_never_delays_b(
    start_gateway, xero_sandbox, kafka_bootstrap, topic_prefix
) -> None:
    sandbox = xero_sandbox.sandbox
    sandbox.clock.set_speed(SPEED)
    _, url = await start_gateway(clock_speed=SPEED, topic_partitions=1)
    await connect_all(url)
    org_a, org_b = xero_sandbox.org("Acme AU").tenant_id, xero_sandbox.org("Beta NZ").tenant_id
    topics = Topics(topic_prefix)
    broker = KafkaBroker(kafka_bootstrap)
    await broker.start()
    try:
        async with Results(kafka_bootstrap, topics.action_results) as results:
            a = [_command("xero-acme-au", n) for n in range(A_COMMANDS)]
            b = [_command("xero-beta-nz", n) for n in range(B_COMMANDS)]
            await asyncio.gather(*(publish_event(broker, topics.xero_commands, e, c.key()) for c, e in a))
            b_published_at = sandbox.clock.now()
            await asyncio.gather(*(publish_event(broker, topics.xero_commands, e, c.key()) for c, e in b))
            b_ids = {c.command_id for c, _ in b}
            await wait_for(
                lambda: b_ids <= {r.subject for r in results.items},
                timeout=30,
                message="B's results while A's backlog is still running",
            )
            b_done_at = sandbox.clock.now()
            a_done = sum(1 for r in results.items if r.subject not in b_ids)
            all_ids = b_ids | {c.command_id for c, _ in a}
            await wait_for(
                lambda: all_ids <= {r.subject for r in results.items},
                timeout=90,
                message="every command answered",
            )
    finally:
        await broker.stop()

    assert sandbox.stats.rate_limited == 0
    assert {r.data["status"] for r in results.items} == {"succeeded"}
    assert a_done < A_COMMANDS / 2, "B should not have waited for A's backlog"
    assert b_done_at - b_published_at <= 60 + 10, "B must finish within its own minute"
    times_a = sandbox.call_times[org_a]
    assert len(times_a) == A_COMMANDS and len(sandbox.call_times[org_b]) == B_COMMANDS
    counts = minute_counts(times_a)
    assert len(counts) >= 8
    utilisation = sum(counts) / (60 * len(counts))
    print(f"A per-minute calls {counts}, utilisation {utilisation:.1%}")
    assert utilisation >= 0.95, counts
