"""Kartra webhook intake benchmark: webhooks/s and latency of one gateway process, beside a raw
aiokafka producer loop (the floor: the same two acks=all records per webhook, no HTTP, no Mongo).

    uv run python tests/bench/bench_kartra_intake.py [--smoke] [--n 5000] [--concurrency 64]

Needs Kafka and a MongoDB-wire server (KAFKA_BOOTSTRAP_SERVERS / MONGODB_URL, defaults are the
local deploy/local/infra.sh ports). The gateway runs as its own process (``python -m kartra_gateway``)
so the load generator does not share its CPU.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
import uuid
from pathlib import Path

import aiohttp
import httpx
import psutil
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from cryptography.fernet import Fernet
from pymongo import AsyncMongoClient

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: free_ports

from free_ports import free_port

KAFKA = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:19092")
MONGO = os.environ.get("MONGODB_URL", "mongodb://127.0.0.1:27027/?directConnection=true")


def _payload(i: int) -> bytes:
    return json.dumps(
        {
            "lead": {
                "id": 1000 + i,
                "email": f"lead{i}@example.com",
                "first_name": "Jane",
                "last_name": "Smith",
            },
            "action": "buy_product",
            "action_details": {
                "transaction_details": {
                    "transaction_id": 50000 + i,
                    "product_id": 223,
                    "product_name": "Pro Course",
                    "product_price_point": 2,
                    "transaction_quantity": 1,
                    "transaction_full_amount": 97.0,
                }
            },
        }
    ).encode()


async def _delete_topics(prefix: str) -> None:
    """The run's topics: a shared broker must not collect partitions (each holds open files)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=KAFKA)
    await admin.start()
    try:
        names = [t for t in await admin.list_topics() if t.startswith(prefix)]
        if names:
            await admin.delete_topics(names)
    finally:
        await admin.close()


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


async def _drive(n: int, concurrency: int, one) -> tuple[float, list[float]]:  # type: ignore[no-untyped-def]
    latencies: list[float] = []
    queue = iter(range(n))

    async def worker() -> None:
        for i in queue:
            t0 = time.perf_counter()
            await one(i)
            latencies.append((time.perf_counter() - t0) * 1000)

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return n / (time.perf_counter() - start), latencies


async def main(n: int, concurrency: int) -> dict[str, float]:
    uid = "b" + uuid.uuid4().hex[:7]
    port = free_port()
    env = {
        **os.environ,
        "KARTRA_GW_KAFKA_BOOTSTRAP_SERVERS": KAFKA,
        "KARTRA_GW_TOPIC_PREFIX": f"{uid}.kxflow.",
        "KARTRA_GW_TOPIC_PARTITIONS": "3",
        "KARTRA_GW_MONGODB_URL": MONGO,
        "KARTRA_GW_MONGODB_DATABASE": f"kxbench_{uid}",
        "KARTRA_GW_API_TOKENS": "bench-token-0123456789:acme",
        "KARTRA_GW_SECRET_KEYS": Fernet.generate_key().decode(),
        "KARTRA_GW_HTTP_PORT": str(port),
        "KARTRA_GW_LOG_LEVEL": "WARNING",
    }
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "kartra_gateway", env=env)
    base = f"http://127.0.0.1:{port}"
    mongo = AsyncMongoClient(MONGO)
    try:
        async with httpx.AsyncClient(
            timeout=30,
            limits=httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency),
        ) as http:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if (await http.get(f"{base}/readyz")).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline or proc.returncode is not None:
                    raise RuntimeError("gateway did not become ready")
                await asyncio.sleep(0.2)  # polling a child process's readiness
            conn = (
                await http.post(
                    f"{base}/v1/connections",
                    json={"name": "bench", "app_id": "a", "api_key": "k" * 8, "api_password": "p" * 8},
                    headers={"authorization": "Bearer bench-token-0123456789"},
                )
            ).json()
            url = f"{base}/v1/webhooks/kartra/{conn['id']}/{conn['webhook_secret']}"
            for i in range(min(50, n)):  # warm-up (connections, producer, caches)
                await http.post(url, content=_payload(10**6 + i))

        # The load comes from aiohttp: httpx spent a whole core to push ~400 requests/s, so the
        # client, not the gateway, was what the first figures measured.
        async with aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=concurrency),
            headers={"content-type": "application/json"},
        ) as session:
            bodies = [_payload(i) for i in range(n)]

            async def post(i: int) -> None:
                async with session.post(url, data=bodies[i]) as resp:
                    if resp.status != 200:
                        raise RuntimeError(f"HTTP {resp.status}: {await resp.text()}")
                    await resp.read()

            rss_before = psutil.Process(proc.pid).memory_info().rss
            rate, lat = await _drive(n, concurrency, post)
            rss_after = psutil.Process(proc.pid).memory_info().rss

        producer = AIOKafkaProducer(bootstrap_servers=KAFKA, acks="all", enable_idempotence=True)
        await producer.start()
        topic = f"{uid}.kxflow.kartra.webhooks.raw.v1"
        try:

            async def raw(i: int) -> None:
                body = _payload(i)
                await asyncio.gather(
                    producer.send_and_wait(topic, body, key=str(i).encode()),
                    producer.send_and_wait(topic, body, key=str(i).encode()),
                )

            floor_rate, floor_lat = await _drive(n, concurrency, raw)
        finally:
            await producer.stop()
    finally:
        proc.terminate()
        await asyncio.wait_for(proc.wait(), timeout=30)
        await mongo.drop_database(f"kxbench_{uid}")
        await mongo.close()
        await _delete_topics(f"{uid}.kxflow.")

    figures = {
        "webhooks_per_s": rate,
        "p50_ms": statistics.median(lat),
        "p99_ms": _pct(lat, 99),
        "floor_per_s": floor_rate,
        "floor_p50_ms": statistics.median(floor_lat),
        "floor_p99_ms": _pct(floor_lat, 99),
        "gateway_rss_mb": rss_after / 2**20,
        "gateway_rss_growth_mb": (rss_after - rss_before) / 2**20,
    }
    f = figures
    print(f"kartra intake  n={n} concurrency={concurrency}")
    print(f"  gateway  : {rate:8.0f} webhooks/s  p50 {f['p50_ms']:7.2f} ms  p99 {f['p99_ms']:7.2f} ms")
    floor = f"p50 {f['floor_p50_ms']:7.2f} ms  p99 {f['floor_p99_ms']:7.2f} ms"
    print(f"  raw floor: {floor_rate:8.0f} pairs/s     {floor}")
    print(f"  gateway RSS {f['gateway_rss_mb']:.1f} MB (+{f['gateway_rss_growth_mb']:.1f} MB during the run)")
    return figures


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--smoke", action="store_true", help="a few hundred webhooks: proves it runs")
    parser.add_argument("--n", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()
    n, concurrency = (200, 8) if args.smoke else (args.n, args.concurrency)
    figures = asyncio.run(main(n, concurrency))
    if args.json:
        args.json.write_text(json.dumps({"n": n, "concurrency": concurrency, **figures}, indent=2))
