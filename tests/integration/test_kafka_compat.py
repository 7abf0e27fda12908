"""aiokafka 0.14 / FastStream 0.7 against the project's Kafka (4.2.x locally): the at-least-once basics.

Produce, consume in a group with manual commits, stop, restart, resume from the committed offset;
two members of one group share partitions; FastStream ``AckPolicy.ACK`` commits after the handler.
Evidence is recorded in docs/infrastructure.md.
"""

from __future__ import annotations

import asyncio

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from waiting import wait_for

pytestmark = pytest.mark.kafka


def _consumer(bootstrap: str, topic: str, group: str) -> AIOKafkaConsumer:
    return AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )


async def _produce(
    bootstrap: str, topic: str, values: list[bytes], partition: int | None = None
) -> list[int]:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        offsets = []
        for value in values:
            meta = await producer.send_and_wait(topic, value, key=b"k", partition=partition)
            offsets.append(meta.offset)
        return offsets
    finally:
        await producer.stop()


async def test_aiokafka_group_commit_restart_resume(kafka_bootstrap, create_topics, unique_id):
    topic, group = f"{unique_id}.compat", f"{unique_id}-group"
    await create_topics([topic], partitions=1)
    tp = TopicPartition(topic, 0)

    offsets = await _produce(kafka_bootstrap, topic, [f"v{i}".encode() for i in range(10)], partition=0)
    assert offsets == list(range(10))

    # First run: consume exactly four records, commit manually, stop.
    consumer = _consumer(kafka_bootstrap, topic, group)
    await consumer.start()
    try:
        first = [await asyncio.wait_for(consumer.getone(), timeout=30) for _ in range(4)]
        await consumer.commit()
        assert await consumer.committed(tp) == 4
    finally:
        await consumer.stop()
    assert [(r.offset, r.value) for r in first] == [(i, f"v{i}".encode()) for i in range(4)]

    # The committed offset is visible to an admin client after the member left.
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        committed = await admin.list_consumer_group_offsets(group)
    finally:
        await admin.close()
    assert committed[tp].offset == 4

    # Second run, same group: resumes at offset 4, reads the rest, commits the end.
    consumer = _consumer(kafka_bootstrap, topic, group)
    await consumer.start()
    try:
        rest = [await asyncio.wait_for(consumer.getone(), timeout=30) for _ in range(6)]
        await consumer.commit()
        assert await consumer.committed(tp) == 10
    finally:
        await consumer.stop()
    assert [(r.offset, r.value) for r in rest] == [(i, f"v{i}".encode()) for i in range(4, 10)]

    # A third run has nothing left to read.
    consumer = _consumer(kafka_bootstrap, topic, group)
    await consumer.start()
    try:
        leftover = await consumer.getmany(timeout_ms=1000)
        assert await consumer.committed(tp) == 10
    finally:
        await consumer.stop()
    assert not any(leftover.values())


async def test_aiokafka_two_members_share_partitions(kafka_bootstrap, create_topics, unique_id):
    topic, group = f"{unique_id}.shared", f"{unique_id}-group"
    await create_topics([topic], partitions=3)
    members = [_consumer(kafka_bootstrap, topic, group) for _ in range(2)]
    for member in members:
        await member.start()
    try:
        await wait_for(
            lambda: all(m.assignment() for m in members) and sum(len(m.assignment()) for m in members) == 3,
            timeout=60,
            message="both members assigned, 3 partitions in total",
        )
        # Drive the consumers (polling keeps the group's rebalance moving) until it has settled.
        received: dict[int, list[bytes]] = {0: [], 1: []}
        for p in range(3):
            await _produce(kafka_bootstrap, topic, [f"p{p}-{i}".encode() for i in range(5)], partition=p)

        async def everything_received() -> bool:
            for idx, member in enumerate(members):
                batch = await member.getmany(timeout_ms=100)
                for records in batch.values():
                    received[idx].extend(r.value for r in records)
            return sum(len(v) for v in received.values()) >= 15

        await wait_for(everything_received, timeout=60, message="15 records across the group")
        for member in members:
            await member.commit()
    finally:
        for member in members:
            await member.stop()

    expected = {f"p{p}-{i}".encode() for p in range(3) for i in range(5)}
    assert sorted(received[0] + received[1]) == sorted(expected)  # no loss, no duplicates
    assert received[0] and received[1]
    assert not set(received[0]) & set(received[1])


async def test_faststream_ack_policy_ack_commits_and_resumes(kafka_bootstrap, create_topics, unique_id):
    topic, group = f"{unique_id}.faststream", f"{unique_id}-fs"
    await create_topics([topic], partitions=1)
    tp = TopicPartition(topic, 0)

    def make_broker(sink: list[str]) -> KafkaBroker:
        broker = KafkaBroker(kafka_bootstrap)

        @broker.subscriber(topic, group_id=group, ack_policy=AckPolicy.ACK, auto_offset_reset="earliest")
        async def handle(body: str) -> None:
            sink.append(body)

        return broker

    first: list[str] = []
    broker = make_broker(first)
    await broker.start()
    try:
        for i in range(5):
            await broker.publish(f"m{i}", topic=topic)
        await wait_for(lambda: len(first) >= 5, timeout=30, message="5 messages handled")
    finally:
        await broker.stop()
    assert first == [f"m{i}" for i in range(5)]

    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        committed = await admin.list_consumer_group_offsets(group)
    finally:
        await admin.close()
    assert committed[tp].offset == 5  # AckPolicy.ACK committed after each handler

    # Published while no member runs; a new broker in the same group gets exactly these.
    await _produce(kafka_bootstrap, topic, [b"m5", b"m6", b"m7"])
    second: list[str] = []
    broker = make_broker(second)
    await broker.start()
    try:
        await wait_for(lambda: len(second) >= 3, timeout=30, message="3 new messages handled")
    finally:
        await broker.stop()
    assert second == ["m5", "m6", "m7"]
