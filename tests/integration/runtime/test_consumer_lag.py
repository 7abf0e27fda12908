"""Consumer lag gauge on a real broker: end offset − committed offset, uncommitted from log start."""

from __future__ import annotations

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.structs import OffsetAndMetadata
from prometheus_client import CollectorRegistry

from kxflow_contracts.runtime.lag import ConsumerLag


async def test_lag_is_end_minus_committed_per_partition(
    kafka_bootstrap: str, create_topics, unique_id: str
) -> None:
    topic, group = f"lag-{unique_id}", f"group-{unique_id}"
    await create_topics([topic], partitions=2)
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()
    try:
        for _ in range(5):
            await producer.send_and_wait(topic, b"x", partition=0)
        for _ in range(3):
            await producer.send_and_wait(topic, b"y", partition=1)
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(bootstrap_servers=kafka_bootstrap, group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign([TopicPartition(topic, 0)])
        await consumer.commit({TopicPartition(topic, 0): OffsetAndMetadata(2, "")})
    finally:
        await consumer.stop()

    registry = CollectorRegistry()
    lag = ConsumerLag(kafka_bootstrap, group, [topic], registry)
    await lag.start()
    try:
        measured = await lag.measure()
    finally:
        await lag.stop()
    assert measured == {TopicPartition(topic, 0): 3, TopicPartition(topic, 1): 3}
    labels = {"group": group, "topic": topic, "partition": "0"}
    assert registry.get_sample_value("kxflow_consumer_lag", labels) == 3
