"""Kafka plumbing: producer guarantees, topic creation, CloudEvent publishing and the DLQ.

DESIGN.md §3: producers use ``acks=all`` and idempotence; consumers acknowledge after the work is
durable (``NACK_ON_ERROR``: commit on success, seek back on a transient error); poison messages go
to ``<topic>.dlq`` with reason headers and are then committed so they never block a partition.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError
from faststream import AckPolicy, BaseMiddleware
from faststream.kafka import KafkaBroker, KafkaMessage
from pydantic import ValidationError

from kxflow_contracts.envelope import CloudEvent, EnvelopeError, decode, encode
from kxflow_contracts.runtime.connections import KafkaTarget, kafka_options, kafka_security
from kxflow_contracts.topics import Topics, TopicSpec

log = logging.getLogger("kxflow.kafka")

CONSUMER_DEFAULTS: dict[str, Any] = {
    "auto_offset_reset": "earliest",
    "ack_policy": AckPolicy.NACK_ON_ERROR,
    "max_poll_interval_ms": 300_000,
}


class PoisonMessage(Exception):
    """A message that can never be processed (undecodable, invalid); it goes to the DLQ."""


POISON_ERRORS: tuple[type[BaseException], ...] = (PoisonMessage, EnvelopeError, ValidationError)


def decode_message(msg: KafkaMessage) -> CloudEvent:
    """The CloudEvent in a consumed record; raises :class:`EnvelopeError` (→ DLQ)."""
    return decode(msg.body, msg.headers)


def _reason_headers(raw: Any, exc: BaseException) -> dict[str, str]:
    return {
        "x-error-class": type(exc).__name__,
        "x-error-message": str(exc)[:2000],
        "x-original-topic": str(getattr(raw, "topic", "")),
        "x-original-partition": str(getattr(raw, "partition", "")),
        "x-original-offset": str(getattr(raw, "offset", "")),
    }


def dlq_headers(msg: KafkaMessage, exc: BaseException) -> dict[str, str]:
    raw = msg.raw_message
    headers = {k: v for k, v in (msg.headers or {}).items() if isinstance(v, str)}
    headers.update(_reason_headers(raw, exc))
    return headers


async def dead_letter_record(broker: KafkaBroker, record: Any, exc: BaseException) -> None:
    """Send one consumed record to ``<topic>.dlq`` with the middleware's reason headers.

    For batch consumers, which must dead-letter a single poison record and process the rest of
    the batch (the middleware only sees the batch as a whole).
    """
    headers: dict[str, str] = {}
    for key, value in record.headers or ():
        try:
            headers[key] = value.decode() if isinstance(value, bytes | bytearray) else str(value)
        except UnicodeDecodeError:
            continue
    headers.update(_reason_headers(record, exc))
    await broker.publish(record.value, Topics.dlq(record.topic), key=record.key, headers=headers)
    log.warning("dead-lettered %s/%s/%s: %s", record.topic, record.partition, record.offset, exc)


def dead_letter_middleware(
    get_broker: Callable[[], KafkaBroker],
    on_dead_letter: Callable[[str, BaseException], None] | None = None,
    transient_backoff: float = 1.0,
) -> type[BaseMiddleware]:
    """A broker middleware sending poison messages to ``<topic>.dlq`` and backing off on others.

    A failed DLQ publish raises, so the message is not committed and comes back.
    """

    class DeadLetter(BaseMiddleware):
        async def consume_scope(self, call_next: Callable[[Any], Awaitable[Any]], msg: Any) -> Any:
            try:
                return await call_next(msg)
            except POISON_ERRORS as exc:
                raw = msg.raw_message
                topic = getattr(raw, "topic", "unknown")
                await get_broker().publish(
                    msg.body,
                    Topics.dlq(topic),
                    key=getattr(raw, "key", None),
                    headers=dlq_headers(msg, exc),
                )
                log.warning("dead-lettered %s/%s/%s: %s", topic, raw.partition, raw.offset, exc)
                if on_dead_letter is not None:
                    on_dead_letter(topic, exc)
                return None
            except Exception:
                # Redelivered by NACK_ON_ERROR; the pause keeps a down dependency from a hot loop.
                await asyncio.sleep(transient_backoff)
                raise

    return DeadLetter


def make_broker(
    bootstrap_servers: KafkaTarget,
    *,
    client_id: str,
    middlewares: Sequence[Any] = (),
    dead_letters: bool = True,
    on_dead_letter: Callable[[str, BaseException], None] | None = None,
    **kwargs: Any,
) -> KafkaBroker:
    """A broker with the producer guarantees of DESIGN.md §3 and the DLQ middleware; SASL and
    TLS as ``bootstrap_servers`` (a :class:`~kxflow_contracts.runtime.connections.KafkaConnection`)
    says."""
    holder: list[KafkaBroker] = []
    mws = list(middlewares)
    if dead_letters:
        mws.append(dead_letter_middleware(lambda: holder[0], on_dead_letter))
    broker = KafkaBroker(
        kafka_options(bootstrap_servers)["bootstrap_servers"],
        security=kafka_security(bootstrap_servers),
        client_id=client_id,
        acks="all",
        enable_idempotence=True,
        ack_policy=AckPolicy.NACK_ON_ERROR,
        middlewares=tuple(mws),
        graceful_timeout=15.0,
        logger=logging.getLogger(f"kxflow.{client_id}.faststream"),
        **kwargs,
    )
    holder.append(broker)
    return broker


async def ensure_topics(
    bootstrap_servers: KafkaTarget, specs: Iterable[TopicSpec], timeout: float = 30.0
) -> None:
    """Create missing topics (idempotent) and wait until the cluster reports them."""
    specs = list(specs)
    admin = AIOKafkaAdminClient(**kafka_options(bootstrap_servers), request_timeout_ms=int(timeout * 1000))
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [s for s in specs if s.name not in existing]
        for spec in missing:
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics(
                    [NewTopic(spec.name, spec.partitions, 1, topic_configs=dict(spec.config))]
                )
        deadline = asyncio.get_running_loop().time() + timeout
        wanted = {s.name for s in specs}
        while not wanted <= set(await admin.list_topics()):
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"topics not visible after {timeout}s: {wanted}")
            await asyncio.sleep(0.1)
    finally:
        await admin.close()


async def publish_event(broker: KafkaBroker, topic: str, event: CloudEvent, key: str) -> Any:
    """Publish ``event`` in binary mode and wait for the broker's acknowledgement."""
    value, headers = encode(event)
    return await broker.publish(value, topic, key=key.encode(), headers=headers)


class KafkaResults:
    """``runtime.commands.ResultSink`` on a broker: result events to ``action_results``."""

    def __init__(self, broker: KafkaBroker, topic: str) -> None:
        self._broker = broker
        self._topic = topic

    async def publish(self, event: CloudEvent, key: str) -> None:
        await publish_event(self._broker, self._topic, event, key)


def record_dead_letterer(
    broker: KafkaBroker, on_dead_letter: Callable[[str, BaseException], None] | None = None
) -> Callable[[Any, BaseException], Awaitable[None]]:
    """``dead_letter(record, exc)`` for raw-record consumers: to the DLQ, then counted."""

    async def dead_letter(record: Any, exc: BaseException) -> None:
        await dead_letter_record(broker, record, exc)
        if on_dead_letter is not None:
            on_dead_letter(record.topic, exc)

    return dead_letter


async def _undecoded(_msg: Any) -> Any:
    """A decoder that leaves record values alone (a changelog handler reads them, a tombstone has none)."""
    return None


def subscribe_changelog(
    broker: KafkaBroker, topic: str, title: str, apply: Callable[[str, bytes | None], None]
) -> None:
    """Read a compacted changelog whole on every replica (no group, from the start, never committed):
    ``apply(key, value)`` for each record in order, ``value`` ``None`` for a tombstone."""

    @broker.subscriber(
        topic,
        group_id=None,
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.MANUAL,
        decoder=_undecoded,
        title=title,
    )
    async def on_record(msg: KafkaMessage) -> None:
        record = msg.raw_message
        apply((record.key or b"").decode(errors="replace"), record.value or None)
