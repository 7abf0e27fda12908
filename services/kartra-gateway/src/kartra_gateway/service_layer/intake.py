"""Webhook and IPN intake: authenticate → normalize → dedupe → publish raw + event → answer.

A delivery is answered 2xx only after Kafka acknowledged both the raw record and the event
(DESIGN §3). When publishing fails the dedupe mark is removed again, so Kartra's retry of the
same delivery is not mistaken for a duplicate of something that was never published.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from kartra_gateway.adapters.connections import ConnectionRepository
from kartra_gateway.adapters.dedupe_batcher import BatchedSeenKeys
from kartra_gateway.adapters.metrics import GatewayMetrics
from kartra_gateway.domain.normalize import SECRET_FIELD, Normalized, normalize_ipn, normalize_outbound
from kartra_gateway.domain.payloads import parse_body
from kxflow_contracts.envelope import CloudEvent, dataschema_uri
from kxflow_contracts.runtime.producer import CloudEventProducer
from kxflow_contracts.topics import Topics

RAW_TYPE = "kxflow.kartra.webhook.raw.v1"


class Unauthorized(Exception):
    pass


class Unavailable(Exception):
    pass


class Outcome(StrEnum):
    accepted = "accepted"
    duplicate = "duplicate"
    unknown_action = "unknown_action"


@dataclass(frozen=True)
class IntakeResult:
    outcome: Outcome
    event_id: str
    event_type: str | None


class Intake:
    def __init__(
        self,
        connections: ConnectionRepository,
        seen: BatchedSeenKeys,
        producer: CloudEventProducer,
        topics: Topics,
        metrics: GatewayMetrics,
    ) -> None:
        self._connections = connections
        self._seen = seen
        self._producer = producer
        self._topics = topics
        self._metrics = metrics

    async def _connection(self, connection_id: str, secret: str | None) -> Any:
        conn = await self._connections.get(connection_id)
        if conn is None or secret is None or not conn.secret_matches(secret):
            raise Unauthorized("unknown connection or wrong secret")
        return conn

    async def webhook(self, connection_id: str, secret: str, body: bytes, content_type: str) -> IntakeResult:
        conn = await self._connection(connection_id, secret)
        received = _now_iso()
        normalized = normalize_outbound(parse_body(body, content_type), connection_id, received)
        return await self._accept(conn.tenant, normalized, received)

    async def ipn(self, connection_id: str, body: bytes, content_type: str) -> IntakeResult:
        conn = await self._connections.get(connection_id)
        if conn is None:
            raise Unauthorized("unknown connection or wrong secret_key")
        payload = parse_body(body, content_type)  # the IPN carries its secret in the body
        presented = payload.get(SECRET_FIELD)
        if not isinstance(presented, str) or not conn.secret_matches(presented):
            raise Unauthorized("unknown connection or wrong secret_key")
        received = _now_iso()
        return await self._accept(conn.tenant, normalize_ipn(payload, connection_id, received), received)

    async def _accept(self, tenant: str, n: Normalized, received: str) -> IntakeResult:
        dedupe_key = f"kartra:{n.digest}"
        try:
            first = await self._seen.first_time(dedupe_key)
        except Exception as exc:
            raise Unavailable(f"dedupe store unavailable: {type(exc).__name__}") from exc
        if not first:
            return IntakeResult(Outcome.duplicate, n.digest, n.entry.ce_type if n.entry else None)
        key = f"{tenant}:{n.subject}"
        source = f"/kartra-gateway/{n.event.connection_id if n.event else 'unknown'}"
        raw = CloudEvent(
            id=f"{n.digest}:raw",
            source=source,
            type=RAW_TYPE,
            subject=n.subject,
            tenant=tenant,
            data={
                "channel": n.channel,
                "action": n.action,
                "known": n.entry is not None,
                "received_at": received,
                "payload": n.payload,
            },
        )
        records = [(self._topics.kartra_webhooks_raw, raw, key)]
        if n.entry is not None and n.event is not None:
            event = CloudEvent(
                id=n.digest,
                source=source,
                type=n.entry.ce_type,
                subject=n.subject,
                tenant=tenant,
                dataschema=dataschema_uri(n.entry.ce_type),
                data=n.event,
            )
            records.append((self._topics.kartra_events, event, key))
        try:
            await self._producer.publish_all(records)
        except Exception as exc:
            try:
                await self._seen.forget(dedupe_key)
            finally:
                raise Unavailable(f"Kafka did not acknowledge: {type(exc).__name__}") from exc
        if n.entry is None:
            self._metrics.unknown_actions.labels(n.action).inc()
            return IntakeResult(Outcome.unknown_action, n.digest, None)
        return IntakeResult(Outcome.accepted, n.digest, n.entry.ce_type)


def _now_iso() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")
