"""DLQ replay tool on a real broker: dry run changes nothing; a replay republishes to the original
topic without the reason headers, once."""

from __future__ import annotations

import asyncio

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from kxflow_contracts.runtime.dlq_replay import main, replay


async def _read_all(bootstrap: str, topic: str) -> list[tuple[bytes | None, bytes | None, dict[str, bytes]]]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None)
    await consumer.start()
    try:
        tp = TopicPartition(topic, 0)
        consumer.assign([tp])
        await consumer.seek_to_beginning(tp)
        end = (await consumer.end_offsets([tp]))[tp]
        out = []
        while await consumer.position(tp) < end:
            for records in (await consumer.getmany(timeout_ms=1000)).values():
                out += [(r.key, r.value, dict(r.headers or ())) for r in records]
        return out
    finally:
        await consumer.stop()


async def test_replay_republishes_to_the_original_topic_once(
    kafka_bootstrap: str, create_topics, unique_id: str
) -> None:
    original, dlq = f"orig-{unique_id}", f"orig-{unique_id}.dlq"
    await create_topics([original, dlq], partitions=1)
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()
    try:
        for i in range(2):
            await producer.send_and_wait(
                dlq,
                f'{{"n": {i}}}'.encode(),
                key=f"k{i}".encode(),
                headers=[
                    ("ce_id", f"e{i}".encode()),
                    ("x-error-class", b"ValidationError"),
                    ("x-error-message", b"amount: not a number"),
                    ("x-original-topic", original.encode()),
                    ("x-original-partition", b"0"),
                    ("x-original-offset", str(10 + i).encode()),
                ],
            )
    finally:
        await producer.stop()
    group = f"replay-{unique_id}"

    listed = await replay(kafka_bootstrap, dlq, dry_run=True, group=group)
    assert [(r.target, r.offset, r.error) for r in listed] == [
        (original, 10, "ValidationError: amount: not a number"),
        (original, 11, "ValidationError: amount: not a number"),
    ]
    assert await _read_all(kafka_bootstrap, original) == []

    assert len(await replay(kafka_bootstrap, dlq, group=group)) == 2
    assert await _read_all(kafka_bootstrap, original) == [
        (b"k0", b'{"n": 0}', {"ce_id": b"e0"}),
        (b"k1", b'{"n": 1}', {"ce_id": b"e1"}),
    ]
    # Committed as it went: a second run (the CLI) finds nothing new.
    args = ["--topic", dlq, "--bootstrap-servers", kafka_bootstrap, "--group", group]
    assert await asyncio.to_thread(main, args) == 0
    assert len(await _read_all(kafka_bootstrap, original)) == 2
