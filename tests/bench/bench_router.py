"""Router benchmark: 10,000 zaps over 100 tenants; non-matching and matching events per second.

Runs the router as its own OS process (``python -m zap_router``) against real Kafka and MongoDB
(FerretDB locally), loads the zaps, then measures, each against the committed offsets of the
router's consumer group (a commit happens only after the work of a batch is durable):

* non-matching events/s: events of tenants that have zaps on the trigger, for a product no zap
  watches (decoded and looked up, the expensive kind of miss);
* matched events/s: every event matches one one-step zap, so a run is stored and a command sent;
  latency = command record time − event record time;
* resident memory of the router process (peak during the run);
* two floors in the same run: a bare aiokafka consume → produce → commit loop on the same broker,
  and the store's own insert rate for the router's run documents (copies of the runs it stored,
  ``insert_many`` of 100, two at once, into a collection indexed like the runs).

    uv run python tests/bench/bench_router.py            # full: 10,000 zaps, 20,000 events per phase
    uv run python tests/bench/bench_router.py --smoke    # seconds: proves it runs (CI)

Targets per process (issue 5): ≥10,000 non-matching events/s, ≥2,000 matched events/s, <200 MB.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import psutil
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from pymongo import AsyncMongoClient

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: free_ports

from free_ports import free_port

from kxflow_contracts.catalog import CATALOG
from kxflow_contracts.envelope import CloudEvent, encode
from kxflow_contracts.runtime.kafka import ensure_topics, make_broker
from kxflow_contracts.topics import Topics, TopicSpec
from zap_router.adapters.connections import StaticConnectionDirectory
from zap_router.adapters.publisher import Publisher
from zap_router.adapters.run_store import RunStore
from zap_router.adapters.zap_store import ZapStore
from zap_router.domain.clock import SystemClock
from zap_router.domain.matching import MatchIndex
from zap_router.domain.zaps import ZapSpec
from zap_router.engine.zaps import ZapService

TRIGGER = "kartra.product.purchased"
CONNECTION = "kartra-main"
PARTITIONS = 6


def zap_spec(product: str) -> ZapSpec:
    return ZapSpec.model_validate(
        {
            "name": f"tag buyers of {product}",
            "trigger": {
                "app": "kartra",
                "event": TRIGGER,
                "connection": CONNECTION,
                "params": {"product_id": product},
            },
            "steps": [
                {
                    "id": "tag",
                    "action": "kartra.lead.tag.assign",
                    "input": {"email": "{{ trigger.lead.email }}", "tag_name": "{{ trigger.id }}"},
                }
            ],
        }
    )


def event_record(event_id: str, tenant: str, product: str) -> tuple[bytes, list[tuple[str, bytes]]]:
    data = {
        "connection_id": CONNECTION,
        "origin": "webhook",
        "lead": {"id": "L1", "email": "ada@example.com", "first_name": "Ada", "last_name": "Lovelace"},
        "product": {"id": product, "name": "Course", "price_point": "pp1"},
        "transaction": {"id": event_id, "amount": 49.0, "currency": "USD"},
    }
    ce = CloudEvent(
        id=event_id, source=f"/kartra-gateway/{CONNECTION}", type=f"{TRIGGER}.v1", tenant=tenant, data=data
    )
    value, headers = encode(ce)
    return value, [(k, v.encode()) for k, v in headers.items()]


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


async def produce(
    bootstrap: str, topic: str, records: list[tuple[str, bytes, list[tuple[str, bytes]]]]
) -> dict[str, int]:
    """Produce (event id, value, headers) records; returns event id → record timestamp (ms)."""
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=5, max_batch_size=262144
    )
    await producer.start()
    try:
        futures = []
        for event_id, value, headers in records:
            futures.append(
                (event_id, await producer.send(topic, value, key=event_id.encode(), headers=headers))
            )
        return {event_id: (await fut).timestamp for event_id, fut in futures}
    finally:
        await producer.stop()


async def committed_total(admin: AIOKafkaAdminClient, group: str, topic: str) -> int:
    offsets = await admin.list_consumer_group_offsets(group)
    return sum(meta.offset for tp, meta in offsets.items() if tp.topic == topic and meta.offset >= 0)


async def end_total(consumer: AIOKafkaConsumer, topic: str) -> int:
    tps = [TopicPartition(topic, p) for p in range(PARTITIONS)]
    return sum((await consumer.end_offsets(tps)).values())


class MemorySampler:
    def __init__(self, pid: int) -> None:
        self.proc = psutil.Process(pid)
        self.peak = 0
        self._task: asyncio.Task[None] | None = None

    def sample(self) -> int:
        rss = self.proc.memory_info().rss
        self.peak = max(self.peak, rss)
        return rss

    async def _loop(self) -> None:
        while True:
            self.sample()
            await asyncio.sleep(0.1)  # sampling period

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop())

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


async def wait_committed(admin, consumer, group: str, topic: str, timeout: float) -> float:
    """Poll until the group has committed everything on ``topic``; returns when (monotonic)."""
    target = await end_total(consumer, topic)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await committed_total(admin, group, topic) >= target:
            return time.monotonic()
        await asyncio.sleep(0.02)  # polling interval
    raise TimeoutError(f"router did not commit {topic} within {timeout}s")


async def raw_floor(bootstrap: str, prefix: str, n: int) -> dict[str, float]:
    """A bare aiokafka consume → produce → commit loop: the floor the router is compared with."""
    src, dst = f"{prefix}raw.in", f"{prefix}raw.out"
    await ensure_topics(bootstrap, [TopicSpec(src, PARTITIONS), TopicSpec(dst, PARTITIONS)])
    records = [(f"raw-{i}", *event_record(f"raw-{i}", "t0", "p-x")) for i in range(n)]
    consumer = AIOKafkaConsumer(
        src,
        bootstrap_servers=bootstrap,
        group_id=f"{prefix}raw",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await consumer.start()
    await producer.start()
    latencies: list[float] = []
    try:
        started = time.monotonic()
        produced = asyncio.create_task(produce(bootstrap, src, records))
        done = 0
        while done < n:
            batch = await consumer.getmany(timeout_ms=200, max_records=500)
            futures = []
            for recs in batch.values():
                for r in recs:
                    futures.append(
                        (r.timestamp, await producer.send(dst, r.value, key=r.key, headers=list(r.headers)))
                    )
            for ts, fut in futures:
                latencies.append((await fut).timestamp - ts)
            if futures:
                await consumer.commit()
            done += len(futures)
        elapsed = time.monotonic() - started
        await produced
    finally:
        await consumer.stop()
        await producer.stop()
    return {"events_per_s": n / elapsed, "p50_ms": pct(latencies, 50), "p99_ms": pct(latencies, 99)}


async def store_floor(db: Any, n: int) -> float:
    """Documents/s the store inserts copies of the router's runs at, as the router inserts them."""
    sample = await db["runs"].find().limit(n).to_list(None)
    if not sample:
        return float("nan")
    scratch = RunStore(db, name="floor_runs")
    await scratch.ensure_indexes()
    docs = [{**d, "_id": f"f{i}", "trigger_event_id": f"f{i}"} for i, d in enumerate(sample)]
    gate = asyncio.Semaphore(2)

    async def insert(chunk: list[dict[str, Any]]) -> None:
        async with gate:
            await db["floor_runs"].insert_many(chunk, ordered=False)

    started = time.monotonic()
    await asyncio.gather(*(insert(docs[i : i + 100]) for i in range(0, len(docs), 100)))
    return len(docs) / (time.monotonic() - started)


async def main(args: argparse.Namespace) -> int:
    bootstrap = args.kafka
    prefix = f"bench{uuid.uuid4().hex[:6]}.kxflow."
    db_name = f"kxbench_{uuid.uuid4().hex[:6]}"
    topics = Topics(prefix)
    group = f"{prefix}router"
    n_zaps, n_tenants, n_events = args.zaps, args.tenants, args.events
    per_tenant = n_zaps // n_tenants
    print(f"# router benchmark: {n_zaps} zaps over {n_tenants} tenants, {n_events} events per phase")
    await ensure_topics(bootstrap, topics.specs(PARTITIONS))

    # ---- load zaps through the service's bulk path (validated against the real catalog)
    mongo = AsyncMongoClient(args.mongo, tz_aware=True)
    broker = make_broker(bootstrap, client_id="bench-loader")
    await broker.connect()
    db = mongo[db_name]
    tenants = [f"tenant{t:03d}" for t in range(n_tenants)]
    zaps = ZapService(
        store=ZapStore(db),
        runs=RunStore(db),
        index=MatchIndex(),
        catalog=CATALOG,
        directory=StaticConnectionDirectory(kartra={CONNECTION}, xero=set()),
        publisher=Publisher(broker, topics),
        clock=SystemClock(),
    )
    await zaps.store.ensure_indexes()
    t0 = time.monotonic()
    await zaps.create_many([(t, zap_spec(f"p{j}")) for t in tenants for j in range(per_tenant)])
    print(f"loaded {n_zaps} zaps in {time.monotonic() - t0:.1f}s")
    await broker.stop()

    # ---- start the router process
    port = free_port()
    env = {
        **os.environ,
        "ROUTER_KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "ROUTER_MONGODB_URL": args.mongo,
        "ROUTER_MONGODB_DATABASE": db_name,
        "ROUTER_TOPIC_PREFIX": prefix,
        "ROUTER_TOPIC_PARTITIONS": str(PARTITIONS),
        "ROUTER_GROUP_ID": group,
        "ROUTER_HTTP_PORT": str(port),
        "ROUTER_LOG_LEVEL": "WARNING",
        "ROUTER_API_TOKENS": "bench-token-0123456789:tenant000",
    }
    proc = subprocess.Popen([sys.executable, "-m", "zap_router"], env=env)  # noqa: ASYNC220 - started once
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    probe = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await probe.start()
    sampler = MemorySampler(proc.pid)
    results: dict[str, Any] = {}
    try:
        async with httpx.AsyncClient() as http:
            deadline = time.monotonic() + 120
            while True:
                with contextlib.suppress(httpx.HTTPError):
                    if (await http.get(f"http://127.0.0.1:{port}/readyz")).status_code == 200:
                        break
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("router did not become ready")
                await asyncio.sleep(0.1)  # polling a subprocess
        rss_loaded = sampler.sample()
        results["rss_after_load_mb"] = rss_loaded / 2**20
        # warm-up: the group has joined and consumed once
        await produce(bootstrap, topics.kartra_events, [("warm", *event_record("warm", tenants[0], "none"))])
        await wait_committed(admin, probe, group, topics.kartra_events, 120)
        sampler.start()

        rng = random.Random(7)
        # ---- phase 1: non-matching
        misses = [
            (f"m{i}", *event_record(f"m{i}", rng.choice(tenants), f"none{i % 50}")) for i in range(n_events)
        ]
        t_start = time.monotonic()
        await produce(bootstrap, topics.kartra_events, misses)
        t_end = await wait_committed(admin, probe, group, topics.kartra_events, 600)
        results["nonmatching_events_per_s"] = n_events / (t_end - t_start)

        # ---- phase 2: matching (one one-step zap each; run stored, command sent)
        hits = [
            (f"h{i}", *event_record(f"h{i}", rng.choice(tenants), f"p{rng.randrange(per_tenant)}"))
            for i in range(n_events)
        ]
        t_start = time.monotonic()
        sent_at = await produce(bootstrap, topics.kartra_events, hits)
        t_end = await wait_committed(admin, probe, group, topics.kartra_events, 600)
        results["matched_events_per_s"] = n_events / (t_end - t_start)
        runs = await RunStore(db).count()
        commands = AIOKafkaConsumer(
            topics.kartra_commands, bootstrap_servers=bootstrap, auto_offset_reset="earliest"
        )
        await commands.start()
        latencies = []
        try:
            while len(latencies) < n_events:
                batch = await commands.getmany(timeout_ms=2000)
                if not batch:
                    break
                for recs in batch.values():
                    for r in recs:
                        event_id = json.loads(r.value)["input"]["tag_name"]
                        latencies.append(r.timestamp - sent_at[event_id])
        finally:
            await commands.stop()
        results.update(
            runs_stored=runs,
            commands_seen=len(latencies),
            matched_p50_ms=pct(latencies, 50),
            matched_p99_ms=pct(latencies, 99),
            matched_mean_ms=statistics.fmean(latencies) if latencies else 0,
        )
        await sampler.stop()
        results["rss_peak_mb"] = sampler.peak / 2**20
        proc.terminate()  # the store floor is measured with the router stopped
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=20)
        results["store_insert_docs_per_s"] = await store_floor(db, min(n_events, 10_000))
    finally:
        await sampler.stop()
        proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=20)
        if proc.poll() is None:
            proc.kill()
        await probe.stop()
        await admin.close()
        await mongo.drop_database(db_name)
        await mongo.close()

    try:
        floor = await raw_floor(bootstrap, prefix, n_events)
    finally:  # a shared broker must not collect partitions (each holds open files)
        cleanup = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        await cleanup.start()
        await cleanup.delete_topics([t for t in await cleanup.list_topics() if t.startswith(prefix)])
        await cleanup.close()
    ok = {
        "nonmatching": results["nonmatching_events_per_s"] >= 10_000,
        "matched": results["matched_events_per_s"] >= 2_000,
        "memory": results["rss_peak_mb"] < 200,
        "all_runs": results["runs_stored"] == n_events and results["commands_seen"] == n_events,
    }
    print(f"router non-matching : {results['nonmatching_events_per_s']:>9,.0f} events/s   (target ≥ 10,000)")
    print(
        f"router matched      : {results['matched_events_per_s']:>9,.0f} events/s   (target ≥ 2,000)  "
        f"latency p50 {results['matched_p50_ms']:.0f} ms, p99 {results['matched_p99_ms']:.0f} ms"
    )
    print(
        f"raw aiokafka floor  : {floor['events_per_s']:>9,.0f} events/s   consume→produce→commit, "
        f"latency p50 {floor['p50_ms']:.0f} ms, p99 {floor['p99_ms']:.0f} ms"
    )
    print(
        f"store insert floor  : {results['store_insert_docs_per_s']:>9,.0f} docs/s     "
        "insert_many of the router's run documents (100 a call, 2 at once)"
    )
    print(
        f"router memory       : {results['rss_after_load_mb']:.0f} MB after loading zaps, "
        f"{results['rss_peak_mb']:.0f} MB peak   (target < 200 MB)"
    )
    stored, seen = results["runs_stored"], results["commands_seen"]
    print(f"runs stored {stored}, commands {seen} of {n_events} matched events")
    if args.json:
        write_json(args, results, floor, ok)
    if args.smoke:
        return 0 if ok["all_runs"] else 1
    print("targets:", ", ".join(f"{k}={'PASS' if v else 'FAIL'}" for k, v in ok.items()))
    return 0 if all(ok.values()) else 1


def write_json(args: argparse.Namespace, results: dict[str, Any], floor: dict[str, float], ok: dict) -> None:
    sizes = {"zaps": args.zaps, "tenants": args.tenants, "events": args.events}
    args.json.write_text(json.dumps({**sizes, **results, "floor": floor, "targets_met": ok}, indent=2))


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--smoke", action="store_true", help="tiny run that proves the benchmark works")
    parser.add_argument("--kafka", default=os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:19092"))
    parser.add_argument(
        "--mongo", default=os.environ.get("MONGODB_URL", "mongodb://127.0.0.1:27027/?directConnection=true")
    )
    parser.add_argument("--zaps", type=int, default=10_000)
    parser.add_argument("--tenants", type=int, default=100)
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args(argv)
    if args.smoke:
        args.zaps, args.tenants, args.events = 200, 4, 1_000
    return args


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    raise SystemExit(asyncio.run(main(parse())))
