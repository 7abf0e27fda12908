"""The notifier's wiring: its consumer groups on ``kxflow.runs.v1`` and on the ``*.dlq`` topics, the
flush loop and the rules API (``/v1/notifications/rules``, tenant-scoped like every admin route)."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Annotated, Any

import httpx
from fastapi import APIRouter, Depends, FastAPI, Request, Response, status
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from prometheus_client import Counter
from pymongo.asynchronous.database import AsyncDatabase

from kxflow_contracts.envelope import EnvelopeError, decode
from kxflow_contracts.runtime.kafka import dead_letter_record
from kxflow_contracts.topics import DLQ_SUFFIX
from zap_router.adapters.connections import GatewayConnectionStates, HttpConnectionDirectory
from zap_router.adapters.notify_senders import Senders, SmtpConfig, SmtpSender, WebhookSender
from zap_router.adapters.notify_store import NotifyStore
from zap_router.domain.clock import Clock
from zap_router.domain.notifications import (
    FlushPolicy,
    Notice,
    RuleSpec,
    notice_from_dead_letter,
    notice_from_run_event,
)
from zap_router.engine.notifier import Notifier, Outcomes
from zap_router.entrypoints.consumers import batch_group
from zap_router.entrypoints.deps import tenant_only
from zap_router.settings import RouterSettings

log = logging.getLogger("kxflow.router.notifier")

router = APIRouter(prefix="/v1/notifications", tags=["notifications"])
Tenant = Annotated[str, Depends(tenant_only)]


def _notifier(request: Request) -> Notifier:
    return request.app.state.notifier


def public_rule(doc: dict[str, Any]) -> dict[str, Any]:
    return {"id": doc["_id"], **{k: v for k, v in doc.items() if k not in ("_id", "tenant")}}


@router.get("/rules")
async def list_rules(tenant: Tenant, notifier: Annotated[Notifier, Depends(_notifier)]) -> dict[str, Any]:
    store: NotifyStore = notifier.store  # type: ignore[assignment]
    return {"items": [public_rule(r) for r in await store.list_rules(tenant)]}


@router.post("/rules", status_code=status.HTTP_201_CREATED)
async def create_rule(
    body: RuleSpec, tenant: Tenant, notifier: Annotated[Notifier, Depends(_notifier)]
) -> dict[str, Any]:
    store: NotifyStore = notifier.store  # type: ignore[assignment]
    doc = await store.create_rule(tenant, body.model_dump(mode="json"), notifier.clock.now())
    notifier.forget_rules()
    return public_rule(doc)


@router.delete("/rules/{rule_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_rule(
    rule_id: str, tenant: Tenant, notifier: Annotated[Notifier, Depends(_notifier)]
) -> Response:
    store: NotifyStore = notifier.store  # type: ignore[assignment]
    if not await store.delete_rule(tenant, rule_id):
        return Response(status_code=status.HTTP_404_NOT_FOUND)
    notifier.forget_rules()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


def make_notifier(
    settings: RouterSettings, db: AsyncDatabase, http: httpx.AsyncClient, clock: Clock, outcomes: Outcomes
) -> Notifier:
    smtp = None
    if settings.smtp_host:
        password = settings.smtp_password.get_secret_value() if settings.smtp_password else None
        smtp = SmtpSender(
            SmtpConfig(
                settings.smtp_host,
                settings.smtp_port,
                settings.smtp_from,
                settings.smtp_username,
                password,
                settings.smtp_starttls,
            )
        )
    return Notifier(
        store=NotifyStore(db),
        sender=Senders(WebhookSender(http), smtp),
        clock=clock,
        policy=FlushPolicy(
            min_interval=timedelta(seconds=settings.notify_min_interval_s),
            settle=timedelta(seconds=settings.notify_settle_s),
            max_delay=timedelta(seconds=settings.notify_max_delay_s),
        ),
        health=settings.auto_disable,
        outcomes=outcomes,
        connections=GatewayConnectionStates(
            HttpConnectionDirectory(
                {"kartra": settings.kartra_gateway_url, "xero": settings.xero_gateway_url}, http
            ),
            settings.api_tokens,
        ),
        console_url=settings.console_url,
    )


def register_notifier(broker: KafkaBroker, settings: RouterSettings, notifier: Notifier) -> None:
    """The notifier's own consumer group on runs.v1: a batch is committed once its items are stored."""

    @broker.subscriber(
        settings.topics.runs, **batch_group(settings, settings.notify_group_id), title="notifier-run-events"
    )
    async def on_run_events(msg: KafkaMessage) -> None:
        notices: list[Notice] = []
        for record in msg.raw_message:
            try:
                event = decode(record.value, record.headers)
                if not isinstance(event.data, dict):
                    raise EnvelopeError("run event data is not an object")
            except EnvelopeError as exc:
                await dead_letter_record(broker, record, exc)
                continue
            notice = notice_from_run_event(event.id, {**event.data, "tenant": event.tenant})
            if notice is not None:
                notices.append(notice)
        if notices:
            await notifier.on_notices(notices + await notifier.warnings_for(notices))


def register_dead_letter_notices(broker: KafkaBroker, settings: RouterSettings, notifier: Notifier) -> None:
    """A second consumer group on every ``*.dlq`` topic: each record becomes a ``dead_letters``
    notice of its tenant. Only headers are read (a dead letter's value is by nature undecodable),
    and nothing here is dead-lettered again."""
    dlqs = [spec.name for spec in settings.topics.specs() if spec.name.endswith(DLQ_SUFFIX)]

    @broker.subscriber(
        *dlqs, **batch_group(settings, f"{settings.notify_group_id}-dlq"), title="notifier-dead-letters"
    )
    async def on_dead_letters(msg: KafkaMessage) -> None:
        notices: list[Notice] = []
        for record in msg.raw_message:
            headers = {k: v.decode(errors="replace") for k, v in record.headers or () if isinstance(v, bytes)}
            notice = notice_from_dead_letter(record.topic, record.partition, record.offset, headers)
            if notice is not None:
                notices.append(notice)
        if notices:
            await notifier.on_notices(notices)


def install_notifier(app: FastAPI, broker: KafkaBroker, settings: RouterSettings, notifier: Notifier) -> None:
    sent = Counter(
        "kxflow_notifications",
        "Notification messages by outcome (single, digest, failed)",
        ["outcome"],
        registry=app.state.metrics.registry,
    )
    notifier.on_sent = lambda outcome: sent.labels(outcome).inc()
    app.state.notifier = notifier
    app.include_router(router)
    if settings.notify and settings.consume:
        register_notifier(broker, settings, notifier)
        register_dead_letter_notices(broker, settings, notifier)
