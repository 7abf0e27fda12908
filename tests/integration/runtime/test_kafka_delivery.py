"""The shared Kafka plumbing on a real broker: explicit acks, CloudEvents, and the DLQ."""

from __future__ import annotations

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from faststream.kafka import KafkaMessage
from waiting import wait_for

from kxflow_contracts.envelope import CloudEvent
from kxflow_contracts.runtime.kafka import CONSUMER_DEFAULTS, decode_message, make_broker, publish_event
from kxflow_contracts.topics import Topics

pytestmark = pytest.mark.kafka


async def _committed(bootstrap: str, group: str, topic: str) -> int | None:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        return await consumer.committed(TopicPartition(topic, 0))
    finally:
        await consumer.stop()


async def _dlq_records(bootstrap: str, topic: str, expected: int) -> list:
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest")
    await consumer.start()
    records: list = []
    try:

        async def fetch() -> bool:
            batch = await consumer.getmany(timeout_ms=200)
            for recs in batch.values():
                records.extend(recs)
            return len(records) >= expected

        await wait_for(fetch, timeout=20, message=f"{expected} records on {topic}")
        return records
    finally:
        await consumer.stop()


async def test_cloudevent_consumed_with_explicit_ack_and_poison_goes_to_dlq(
    kafka_bootstrap: str, create_topics, unique_id: str
) -> None:
    topic = f"{unique_id}.smoke.v1"
    group = f"{unique_id}-group"
    await create_topics([topic, Topics.dlq(topic)], partitions=1)

    received: list[CloudEvent] = []
    broker = make_broker(kafka_bootstrap, client_id=f"{unique_id}-smoke")

    @broker.subscriber(topic, group_id=group, **CONSUMER_DEFAULTS)
    async def handle(msg: KafkaMessage) -> None:
        received.append(decode_message(msg))

    good = CloudEvent(source="/test", type="test.thing.happened.v1", tenant="acme", data={"n": 1})
    async with broker:
        await broker.start()
        # Poison first on the only partition: it must not block the good event behind it.
        await broker.publish(b"{not json", topic, key=b"k", headers={"ce_specversion": "1.0"})
        await publish_event(broker, topic, good, key="acme:lead-1")
        await wait_for(lambda: len(received) == 1, timeout=20, message="good event consumed")

    assert received[0].id == good.id
    assert received[0].data == {"n": 1}
    assert received[0].tenant == "acme"

    dead = await _dlq_records(kafka_bootstrap, Topics.dlq(topic), expected=1)
    headers = {k: v.decode() for k, v in dead[0].headers}
    assert dead[0].value == b"{not json"
    assert dead[0].key == b"k"
    assert headers["x-error-class"] == "EnvelopeError"
    assert "missing CloudEvents headers" in headers["x-error-message"]
    assert (headers["x-original-topic"], headers["x-original-partition"], headers["x-original-offset"]) == (
        topic,
        "0",
        "0",
    )
    # Both records are committed: the poison message is parked, not redelivered forever.
    assert await wait_for(lambda: _committed_is(kafka_bootstrap, group, topic, 2), timeout=10)


async def _committed_is(bootstrap: str, group: str, topic: str, offset: int) -> bool:
    return await _committed(bootstrap, group, topic) == offset


async def test_a_transient_failure_is_redelivered_not_committed(
    kafka_bootstrap: str, create_topics, unique_id: str
) -> None:
    topic = f"{unique_id}.transient.v1"
    group = f"{unique_id}-group"
    await create_topics([topic, Topics.dlq(topic)], partitions=1)
    attempts: list[str] = []
    broker = make_broker(kafka_bootstrap, client_id=f"{unique_id}-transient")

    @broker.subscriber(topic, group_id=group, **CONSUMER_DEFAULTS)
    async def handle(msg: KafkaMessage) -> None:
        event = decode_message(msg)
        attempts.append(event.id)
        if len(attempts) == 1:
            raise ConnectionError("store briefly down")

    event = CloudEvent(source="/test", type="test.thing.happened.v1", tenant="acme", data={})
    async with broker:
        await broker.start()
        await publish_event(broker, topic, event, key="acme:x")
        await wait_for(lambda: len(attempts) == 2, timeout=20, message="redelivered after the failure")
    assert attempts == [event.id, event.id]
    assert await wait_for(lambda: _committed_is(kafka_bootstrap, group, topic, 1), timeout=10)
