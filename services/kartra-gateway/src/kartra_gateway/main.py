"""Composition root: settings, Mongo, Kafka, Kartra client, use cases and routes — wiring only."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

import httpx
from fastapi import FastAPI
from faststream.kafka import KafkaBroker
from faststream.kafka.opentelemetry import KafkaTelemetryMiddleware
from opentelemetry.sdk.trace import TracerProvider
from pymongo import AsyncMongoClient

from kartra_gateway.adapters.connections import ConnectionRepository
from kartra_gateway.adapters.dedupe_batcher import BatchedSeenKeys
from kartra_gateway.adapters.kartra_client import KartraClient
from kartra_gateway.adapters.metrics import GatewayMetrics
from kartra_gateway.adapters.rate_limiter import AppRateLimiter
from kartra_gateway.entrypoints import connections_api, webhooks
from kartra_gateway.service_layer.execute import SOURCE, KartraActions
from kartra_gateway.service_layer.intake import Intake
from kartra_gateway.settings import GatewaySettings
from kxflow_contracts.runtime.commands import CommandRunner, command_consumer
from kxflow_contracts.runtime.connections import check_kafka, mongo_options
from kxflow_contracts.runtime.dedupe import SeenKeys
from kxflow_contracts.runtime.http import health_router, kafka_check, mongo_check
from kxflow_contracts.runtime.kafka import KafkaResults, ensure_topics, make_broker, record_dead_letterer
from kxflow_contracts.runtime.lag import watch_consumer_lag
from kxflow_contracts.runtime.ledger import ActionLedger
from kxflow_contracts.runtime.limits import AdminLimits
from kxflow_contracts.runtime.logging import REDACTOR
from kxflow_contracts.runtime.metrics import dead_letter_counter
from kxflow_contracts.runtime.mongo import mongo_client as make_mongo_client
from kxflow_contracts.runtime.producer import CloudEventProducer
from kxflow_contracts.runtime.retention import Retention, Rule, keep_retention
from kxflow_contracts.runtime.secrets import SecretBox
from kxflow_contracts.runtime.shared_limits import SharedRateLimits
from kxflow_contracts.runtime.telemetry import instrument_app, instrument_httpx_client, make_tracer_provider


def create_app(
    settings: GatewaySettings | None = None,
    *,
    tracer_provider: TracerProvider | None = None,
    mongo_client: AsyncMongoClient | None = None,
    http_client: httpx.AsyncClient | None = None,
    broker: KafkaBroker | None = None,
    limiter: AppRateLimiter | None = None,
) -> FastAPI:
    settings = settings or GatewaySettings()
    REDACTOR.pin(*settings.secret_values())
    provider = tracer_provider or make_tracer_provider(settings.service_name, settings.otlp_endpoint)
    metrics = GatewayMetrics.create()
    topics = settings.topics
    mongo = mongo_client or make_mongo_client(
        settings.mongodb_url,
        count_commands_in=metrics.registry if settings.store_command_metrics else None,
        tz_aware=True,
        **mongo_options(settings),
    )
    db = mongo[settings.mongodb_database]
    http = http_client or httpx.AsyncClient(timeout=settings.kartra_timeout_seconds)
    instrument_httpx_client(http, provider)
    on_dead_letter = dead_letter_counter(metrics.registry)
    broker = broker or make_broker(
        settings.kafka,
        client_id=settings.service_name,
        middlewares=[KafkaTelemetryMiddleware(tracer_provider=provider)],
        on_dead_letter=on_dead_letter,
    )
    shared_limits = SharedRateLimits(db["shared_limits"]) if settings.shared_rate_limits else None
    limiter = limiter or AppRateLimiter(
        settings.kartra_rate_per_second,
        settings.kartra_rate_burst,
        shared=shared_limits,
        shared_limit=settings.kartra_shared_calls_per_second,
    )
    client = KartraClient(http, settings.kartra_api_url, limiter, backoff_429=settings.kartra_backoff_seconds)
    connections = ConnectionRepository(
        db["connections"], SecretBox(settings.secret_keys), settings.connection_cache_ttl_seconds
    )
    window = timedelta(seconds=settings.dedupe_window_seconds)
    seen_keys = SeenKeys(db["seen_deliveries"], window)
    seen = BatchedSeenKeys(seen_keys)
    ledger = ActionLedger(db["action_ledger"])
    tracer = provider.get_tracer("kxflow.kartra-gateway")
    producer = CloudEventProducer(settings.kafka, client_id=f"{settings.service_name}-intake", tracer=tracer)
    intake = Intake(connections, seen, producer, topics, metrics)
    runner = CommandRunner(
        ledger,
        KartraActions(connections, client),
        KafkaResults(broker, topics.action_results),
        source=SOURCE,
        on_result=lambda cmd, result: metrics.commands.labels(cmd.action, result.status.value).inc(),
    )
    commands = command_consumer(
        settings.kafka,
        topics.kartra_commands,
        settings.consumer_group,
        runner,
        record_dead_letterer(broker, on_dead_letter),
        tracer,
        per_key_workers=settings.command_workers,
        client_id=settings.service_name,
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await check_kafka(settings.kafka)  # a refused password or CA: a clear error now
        if settings.ensure_topics:
            await ensure_topics(settings.kafka, topics.specs(settings.topic_partitions))
        await connections.init()
        if shared_limits is not None:
            await shared_limits.ensure_indexes()
        await producer.start()
        await broker.start()
        await commands.start()
        try:
            yield
        finally:
            await commands.stop()
            await broker.stop()
            await producer.stop()
            if http_client is None:
                await http.aclose()
            if mongo_client is None:
                await mongo.close()

    app = FastAPI(title="kxflow kartra-gateway", version="1.0.0", lifespan=lifespan)
    checks = {"mongodb": mongo_check(mongo), "kafka": kafka_check(broker)}
    app.include_router(health_router(metrics.registry, checks))
    intakes = webhooks.Webhooks(intake, metrics, tracer)
    app.include_router(webhooks.router)
    app.include_router(connections_api.router)
    instrument_app(app, provider, traced_by_routes=webhooks.WEBHOOK_PATHS)
    app.add_middleware(AdminLimits, **settings.admin_limits())
    app.add_middleware(webhooks.WebhookFastPath, webhooks=intakes)  # added last: the outermost
    keep_retention(app, _retention(settings, ledger, seen_keys))
    watch_consumer_lag(
        app,
        settings.kafka,
        settings.consumer_group,
        [topics.kartra_commands],
        metrics.registry,
    )
    app.state.settings = settings  # entrypoints.deps reads what the routes need from app.state
    app.state.connections = connections
    app.state.webhooks = intakes
    app.state.metrics = metrics
    app.state.executor = runner
    app.state.commands = commands
    app.state.kartra_client = client
    app.state.broker = broker
    return app


def _retention(settings: GatewaySettings, ledger: ActionLedger, seen: SeenKeys) -> Retention:
    keep_ledger = timedelta(days=settings.ledger_retention_days)
    window = timedelta(seconds=settings.dedupe_window_seconds)
    rules = [
        Rule("action_ledger", lambda now: ledger.purge(keep_ledger, now)),
        Rule("seen_deliveries", lambda now: seen.purge(window, now)),
    ]
    return Retention(rules, settings.retention_interval_seconds)
