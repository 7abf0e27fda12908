"""Two router processes in one consumer group; one is SIGKILLed mid-stream (5,000 events, or 600 in CI).

Every event must end with exactly one run, every run must finish, and no command may be emitted
twice for the same step (DESIGN.md §3). The routers are real OS processes (``python -m
zap_router``); the gateway is a fake consumer in the test that answers every command.

The test watches progress from Kafka (commands the fake gateway received, the routers' committed
offsets), not by counting runs: on FerretDB a count decodes every run of every shard, and polling
it would load the store whose speed the test depends on. The runs are counted once at the end.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import os
import signal
import sys
from pathlib import Path

import httpx
import pytest
from asgi_server import free_port
from pymongo import AsyncMongoClient
from router_harness import FakeGateway, ok, publish_events, trigger_event
from waiting import wait_for

from kxflow_contracts.catalog import CATALOG
from kxflow_contracts.runtime.kafka import ensure_topics, make_broker
from kxflow_contracts.topics import Topics
from zap_router.adapters.connections import StaticConnectionDirectory
from zap_router.adapters.publisher import Publisher
from zap_router.adapters.results_progress import KafkaResultsProgress
from zap_router.adapters.run_store import RunStore
from zap_router.adapters.zap_store import ZapStore
from zap_router.domain.clock import SystemClock
from zap_router.domain.matching import MatchIndex
from zap_router.domain.zaps import ZapSpec
from zap_router.engine.zaps import ZapService

pytestmark = [pytest.mark.kafka, pytest.mark.mongo]

EVENTS = 5_000
PARTITIONS = 6
SHARDS = 16  # FerretDB scans a collection per update: spread runs (see docs/router.md)
ZAP = {
    "name": "tag buyers",
    "trigger": {"app": "kartra", "event": "kartra.product.purchased", "connection": "kartra-main"},
    "steps": [
        {
            "id": "first",
            "action": "kartra.lead.tag.assign",
            "input": {"email": "{{ trigger.lead.email }}", "tag_name": "buyer-{{ trigger.id }}"},
        },
    ],
}


async def start_router(env: dict[str, str], log: Path) -> asyncio.subprocess.Process:
    handle = log.open("wb")
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "zap_router", env={**os.environ, **env}, stdout=handle, stderr=handle
    )


@pytest.mark.parametrize(
    "n_events",
    [
        pytest.param(600, id="600-events"),
        # The 5,000: a few minutes on FerretDB on a shared 2-core machine (docs/router.md).
        pytest.param(EVENTS, id="5000-events", marks=[pytest.mark.slow, pytest.mark.timeout(900)]),
    ],
)
async def test_sigkill_one_of_two_replicas_mid_stream(
    n_events, kafka_bootstrap, mongodb_url, topic_prefix, mongo_db_name, tmp_path
):
    topics = Topics(topic_prefix)
    await ensure_topics(kafka_bootstrap, topics.specs(PARTITIONS))
    mongo = AsyncMongoClient(mongodb_url, tz_aware=True)
    db = mongo[mongo_db_name]
    broker = make_broker(kafka_bootstrap, client_id="test-loader")
    await broker.connect()
    zaps = ZapService(
        store=ZapStore(db),
        runs=RunStore(db, SHARDS),
        index=MatchIndex(),
        catalog=CATALOG,
        directory=StaticConnectionDirectory(kartra={"kartra-main"}),
        publisher=Publisher(broker, topics),
        clock=SystemClock(),
    )
    [zap_id] = await zaps.create_many([("acme", ZapSpec.model_validate(ZAP))])
    await broker.stop()

    base_env = {
        "ROUTER_KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "ROUTER_MONGODB_URL": mongodb_url,
        "ROUTER_MONGODB_DATABASE": mongo_db_name,
        "ROUTER_TOPIC_PREFIX": topic_prefix,
        "ROUTER_TOPIC_PARTITIONS": str(PARTITIONS),
        "ROUTER_GROUP_ID": f"{topic_prefix}router",
        "ROUTER_SESSION_TIMEOUT_MS": "6000",
        "ROUTER_HEARTBEAT_INTERVAL_MS": "1000",
        "ROUTER_REDISPATCH_AFTER_S": "15",
        "ROUTER_SCHEDULER_INTERVAL_S": "0.5",
        "ROUTER_EVENT_BATCH_MAX": "200",
        "ROUTER_STORE_CONCURRENCY": "1",
        "ROUTER_RUN_SHARDS": str(SHARDS),
        "ROUTER_LOG_LEVEL": "WARNING",
        "ROUTER_API_TOKENS": "tok-acme-0123456789abcdef:acme",
    }
    ports = [free_port(), free_port()]
    procs = [
        await start_router({**base_env, "ROUTER_HTTP_PORT": str(port)}, tmp_path / f"router{i}.log")
        for i, port in enumerate(ports)
    ]
    runs = RunStore(db, SHARDS)
    try:
        async with httpx.AsyncClient() as http:

            async def ready() -> bool:
                for port in ports:
                    try:
                        if (await http.get(f"http://127.0.0.1:{port}/readyz")).status_code != 200:
                            return False
                    except httpx.HTTPError:
                        return False
                return True

            await wait_for(ready, timeout=60, interval=0.2, message="both routers ready")

        async with FakeGateway(
            kafka_bootstrap, topics, {"kartra.lead.tag.assign": ok({"status": "Success"})}
        ) as gw:
            events = [
                (
                    f"acme:L{i}",
                    trigger_event(
                        f"evt-{i}",
                        "acme",
                        {
                            "connection_id": "kartra-main",
                            "lead": {"email": f"lead{i}@example.com"},
                            "product": {"id": "123"},
                            "transaction": {"amount": 1},
                        },
                    ),
                )
                for i in range(n_events)
            ]

            async def stream() -> None:
                # A paced stream (40 chunks over ~4 s), so the kill below lands while events are
                # still arriving: published all at once, the routers finished before the kill.
                chunk = max(1, n_events // 40)
                for start in range(0, n_events, chunk):
                    await publish_events(kafka_bootstrap, topics.kartra_events, events[start : start + chunk])
                    await asyncio.sleep(0.1)  # pacing the load generator, not waiting on a result

            publishing = asyncio.create_task(stream())

            def steps_sent() -> int:
                return len({(cmd.run_id, cmd.step_id) for _, cmd in gw.received})

            # Runs are stored before their command is sent: commands seen = runs that exist.
            await wait_for(
                lambda: steps_sent() >= n_events // 4,
                timeout=120,
                interval=0.05,
                message="the stream is under way",
            )
            procs[0].send_signal(signal.SIGKILL)
            await procs[0].wait()
            at_kill = await runs.count({})
            assert at_kill < n_events, "the kill must happen mid-stream"
            await publishing

            group = f"{topic_prefix}router"
            events_progress = KafkaResultsProgress(kafka_bootstrap, group, topics.kartra_events)
            results_progress = KafkaResultsProgress(kafka_bootstrap, group, topics.action_results)
            await events_progress.start()
            await results_progress.start()
            try:

                async def settled() -> bool:
                    """Every step sent and answered, every event and every result committed."""
                    if steps_sent() < n_events:
                        return False
                    for progress in (events_progress, results_progress):
                        if not await progress.caught_up(await progress.end_offsets()):
                            return False
                    return True

                await wait_for(settled, timeout=60 + n_events / 10, interval=0.5, message="all applied")
            finally:
                await events_progress.stop()
                await results_progress.stop()

            async def all_succeeded() -> bool:
                return await runs.count({"status": "succeeded"}) == n_events

            await wait_for(all_succeeded, timeout=60, interval=2, message=f"{n_events} runs succeeded")
            await asyncio.sleep(0)  # let the gateway task drain what it has already read

            assert await runs.count({}) == n_events
            event_ids = [e for col in runs.collections for e in await col.distinct("trigger_event_id")]
            assert len(event_ids) == len(set(event_ids)) == n_events
            per_step = collections.Counter((cmd.run_id, cmd.step_id) for _, cmd in gw.received)
            assert len(per_step) == n_events
            twice = {k: n for k, n in per_step.items() if n > 1}
            assert twice == {}, f"{len(twice)} steps got more than one command"
            assert all(cmd.zap_id == zap_id for _, cmd in gw.received)
    finally:
        for proc in procs:
            if proc.returncode is None:
                proc.send_signal(signal.SIGTERM)
        for proc in procs:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(proc.wait(), timeout=30)
            if proc.returncode is None:
                proc.kill()
        await mongo.close()
