"""Replay a dead-letter topic: republish each record to the topic it came from.

    uv run python -m kxflow_contracts.runtime.dlq_replay --topic kxflow.kartra.events.v1.dlq [--dry-run]

Reads ``<topic>.dlq`` from the offsets its consumer group (``kxflow-dlq-replay``) committed, prints
each record's origin and error, and unless ``--dry-run`` publishes key, value and the original
headers (the ``x-*`` reason headers dropped) to ``x-original-topic`` with ``acks=all``, committing
after each acknowledged record, so a second run replays nothing twice.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from kxflow_contracts.runtime.connections import KafkaTarget, kafka_options
from kxflow_contracts.runtime.settings import ServiceSettings

REASON_HEADERS = frozenset(
    {"x-error-class", "x-error-message", "x-original-topic", "x-original-partition", "x-original-offset"}
)
GROUP = "kxflow-dlq-replay"


@dataclass
class Replayed:
    topic: str
    partition: int
    offset: int
    error: str
    target: str | None  # None: no x-original-topic header, left alone


def original_topic(dlq_topic: str, headers: dict[str, str]) -> str | None:
    target = headers.get("x-original-topic")
    if target:
        return target
    return dlq_topic.removesuffix(".dlq") if dlq_topic.endswith(".dlq") else None


async def replay(
    bootstrap_servers: KafkaTarget,
    topic: str,
    *,
    dry_run: bool = False,
    limit: int | None = None,
    group: str = GROUP,
) -> list[Replayed]:
    consumer = AIOKafkaConsumer(
        **kafka_options(bootstrap_servers),
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    producer = None if dry_run else AIOKafkaProducer(**kafka_options(bootstrap_servers), acks="all")
    await consumer.start()
    if producer is not None:
        await producer.start()
    out: list[Replayed] = []
    try:
        # Every partition, assigned by hand (no group membership to wait for); positions start at
        # the group's committed offsets.
        partitions = consumer.partitions_for_topic(topic)
        if not partitions:
            await consumer._client.force_metadata_update()
            partitions = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(tps)
        ends = await consumer.end_offsets(tps) if tps else {}
        pending = {tp for tp in tps if await consumer.position(tp) < ends[tp]}
        while pending and (limit is None or len(out) < limit):
            batch = await consumer.getmany(timeout_ms=1000, max_records=100)
            for records in batch.values():
                for r in records:
                    if limit is not None and len(out) >= limit:
                        break
                    headers = {k: v.decode(errors="replace") for k, v in r.headers or ()}
                    target = original_topic(r.topic, headers)
                    item = Replayed(
                        headers.get("x-original-topic", r.topic),
                        int(headers.get("x-original-partition") or -1),
                        int(headers.get("x-original-offset") or -1),
                        f"{headers.get('x-error-class', '?')}: {headers.get('x-error-message', '')}",
                        target,
                    )
                    if producer is not None and target is not None:
                        kept = [(k, v) for k, v in r.headers or () if k not in REASON_HEADERS]
                        await producer.send_and_wait(target, r.value, key=r.key, headers=kept)
                    if producer is not None:
                        await consumer.commit({TopicPartition(r.topic, r.partition): r.offset + 1})
                    out.append(item)
            pending = {tp for tp in pending if await consumer.position(tp) < ends[tp]}
    finally:
        await consumer.stop()
        if producer is not None:
            await producer.stop()
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--topic", required=True, help="the dead-letter topic, e.g. kxflow.kartra.events.v1.dlq"
    )
    parser.add_argument("--dry-run", action="store_true", help="list what would be replayed; change nothing")
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument(
        "--bootstrap-servers", default=os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:19092")
    )
    parser.add_argument("--group", default=GROUP)
    args = parser.parse_args(argv)
    # SASL/TLS from the same KAFKA_* variables as the services (KAFKA_SECURITY_PROTOCOL, ...).
    kafka = ServiceSettings(kafka_bootstrap_servers=args.bootstrap_servers).kafka
    items = asyncio.run(replay(kafka, args.topic, dry_run=args.dry_run, limit=args.limit, group=args.group))
    verb = "would replay" if args.dry_run else "replayed"
    for it in items:
        where = f"{it.topic}/{it.partition}/{it.offset}"
        print(f"{verb if it.target else 'skipped (no original topic)'} {where} → {it.target}  [{it.error}]")
    print(f"{len(items)} record(s) {verb}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
