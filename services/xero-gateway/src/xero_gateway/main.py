"""Composition root of xero-gateway: settings → clients → scheduler → use cases → routes and
subscribers. Wiring only."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from functools import partial
from typing import Any

import httpx
from fastapi import FastAPI
from opentelemetry.sdk.trace import TracerProvider
from pymongo import AsyncMongoClient

from kxflow_contracts.runtime.commands import CommandRunner, command_consumer
from kxflow_contracts.runtime.connections import check_kafka, mongo_options
from kxflow_contracts.runtime.dedupe import SeenKeys
from kxflow_contracts.runtime.http import health_router, mongo_check
from kxflow_contracts.runtime.kafka import KafkaResults, ensure_topics, make_broker, record_dead_letterer
from kxflow_contracts.runtime.lag import watch_consumer_lag
from kxflow_contracts.runtime.ledger import ActionLedger
from kxflow_contracts.runtime.limits import AdminLimits
from kxflow_contracts.runtime.logging import REDACTOR, configure_logging
from kxflow_contracts.runtime.mongo import mongo_client as make_mongo_client
from kxflow_contracts.runtime.retention import Retention, Rule, keep_retention
from kxflow_contracts.runtime.secrets import SecretBox
from kxflow_contracts.runtime.shared_limits import SharedRateLimits
from kxflow_contracts.runtime.telemetry import (
    instrument_app,
    instrument_httpx_client,
    make_tracer_provider,
)
from kxflow_contracts.runtime.url_fetch import fetch_url
from xero_gateway.adapters.identity import IdentityClient
from xero_gateway.adapters.invoice_snapshots import InvoiceSnapshots
from xero_gateway.adapters.metrics import Metrics
from xero_gateway.adapters.oauth_states import OAuthStates, purge_orphan_token_sets
from xero_gateway.adapters.publisher import Publisher
from xero_gateway.adapters.repositories import BackfillJobs, Repositories
from xero_gateway.adapters.write_attempts import WriteAttempts
from xero_gateway.adapters.xero_api import XeroApi
from xero_gateway.domain.budget import AppBudget, OrgBudget
from xero_gateway.domain.clock import Clock
from xero_gateway.domain.report_demand import ReportDemand
from xero_gateway.entrypoints import consumers, http_routes
from xero_gateway.service_layer.backfills import Backfills
from xero_gateway.service_layer.connect import ConnectService
from xero_gateway.service_layer.executor import Executor
from xero_gateway.service_layer.hydrator import Hydrator
from xero_gateway.service_layer.poller import Poller
from xero_gateway.service_layer.scheduler import Scheduler
from xero_gateway.service_layer.tokens import TokenManager
from xero_gateway.service_layer.writes import WriteGuard
from xero_gateway.settings import XeroGatewaySettings


def create_app(
    settings: XeroGatewaySettings | None = None,
    *,
    tracer_provider: TracerProvider | None = None,
    mongo_client: AsyncMongoClient[Any] | None = None,
    http_client: httpx.AsyncClient | None = None,
    clock: Clock | None = None,
    configure_logs: bool = False,
) -> FastAPI:
    """The xero-gateway app; the keyword overrides are for tests (and ``configure_logs`` for
    ``python -m xero_gateway``)."""
    settings = settings or XeroGatewaySettings()
    if configure_logs:
        configure_logging(settings.service_name, settings.log_level, settings.log_json)
    REDACTOR.pin(*settings.secret_values(), settings.client_secret, settings.webhook_key)
    provider = tracer_provider or make_tracer_provider(settings.service_name, settings.otlp_endpoint)
    metrics = Metrics()
    clock = clock or Clock(settings.clock_speed)
    http = http_client or httpx.AsyncClient(timeout=settings.http_timeout_seconds)
    instrument_httpx_client(http, provider)
    mongo: AsyncMongoClient[Any] = mongo_client or make_mongo_client(
        settings.mongodb_url,
        count_commands_in=metrics.registry if settings.store_command_metrics else None,
        serverSelectionTimeoutMS=20000,
        **mongo_options(settings),
    )
    db = mongo[settings.mongodb_database]
    repos = Repositories(db, SecretBox(settings.secret_keys))
    identity = IdentityClient(
        http,
        settings.identity_base_url,
        settings.login_base_url,
        settings.api_base_url,
        settings.client_id,
        settings.client_secret,
    )
    tokens = TokenManager(
        repos,
        identity,
        settings.scopes,
        settings.token_refresh_skew_seconds,
        settings.refresh_lease_seconds,
        wall=clock.wall,
    )
    scheduler = Scheduler(
        clock,
        lambda: OrgBudget(
            settings.per_minute, settings.per_day, settings.concurrent, settings.window_margin_seconds
        ),
        AppBudget(settings.app_per_minute, settings.window_margin_seconds),
        SharedRateLimits(db["shared_limits"], now=clock.common, sleep=clock.sleep)
        if settings.shared_rate_limits
        else None,
    )
    api = XeroApi(http, settings.api_base_url, scheduler, tokens, settings.max_attempts)
    from faststream.kafka.opentelemetry import KafkaTelemetryMiddleware

    def on_dead_letter(topic: str, _exc: BaseException) -> None:
        metrics.dead_letters.labels(topic).inc()

    broker = make_broker(
        settings.kafka,
        client_id=settings.service_name,
        middlewares=[KafkaTelemetryMiddleware(tracer_provider=provider)],
        on_dead_letter=on_dead_letter,
    )
    publisher = Publisher(broker, settings.topics)
    seen = SeenKeys(db["seen_keys"])
    write_attempts = WriteAttempts(db)
    writes = WriteGuard(
        write_attempts,
        settings.write_safe_window_seconds,
        settings.write_lookup_margin_seconds,
        settings.clock_speed,
        on_event=lambda outcome: metrics.write_guard.labels(outcome).inc(),
    )
    ledger = ActionLedger(db["action_ledger"])
    states = OAuthStates(db["oauth_states"], settings.oauth_state_ttl_seconds)
    runner = CommandRunner(
        ledger,
        Executor(api, repos, writes, fetch=partial(fetch_url, policy=settings.fetch_policy)),
        KafkaResults(broker, settings.topics.action_results),
        source="/xero-gateway",
        owner=settings.service_name,
        on_result=lambda _cmd, result: metrics.results.labels(result.status.value).inc(),
    )
    snapshots = InvoiceSnapshots(db["invoice_snapshots"])
    hydrator = Hydrator(api, repos, seen, publisher, snapshots)
    report_demand = ReportDemand()
    poller = Poller(api, repos, seen, hydrator, settings, clock, report_demand)
    backfills = Backfills(repos, BackfillJobs(db), poller)
    connect = ConnectService(
        repos,
        identity,
        f"{settings.public_url.rstrip('/')}/v1/xero/callback",
        settings.scopes,
        on_limit=lambda org, per_day: scheduler.budget(org).set_daily_limit(per_day or settings.per_day),
        wall=clock.wall,
        states=states,
        custom_connection_tenant=settings.custom_connection_tenant if settings.custom_connection else None,
    )
    consumers.register_webhooks(broker, settings.topics, hydrator, settings.consumer_group)
    consumers.register_zap_changelog(broker, settings.topics, report_demand)
    commands = command_consumer(
        settings.kafka,
        settings.topics.xero_commands,
        settings.consumer_group,
        runner,
        record_dead_letterer(broker, on_dead_letter),
        provider.get_tracer("kxflow.xero-gateway"),
        per_key_workers=settings.concurrent,
        max_buffered_per_partition=settings.command_buffer_per_partition,
        client_id=settings.service_name,
    )

    async def refresh_metrics() -> None:
        while True:
            now = clock.now()
            for org, budget in scheduler.orgs().items():
                metrics.minute_left.labels(org).set(budget.minute.remaining(now))
                metrics.day_left.labels(org).set(budget.day.remaining(now))
                metrics.queued.labels(org).set(scheduler.queued(org))
                metrics.throttled.labels(org).set(budget.throttled)
            with contextlib.suppress(Exception):
                metrics.needs_reauth.set(await repos.count_needing_reauth())
            await asyncio.sleep(2)

    async def purge_write_attempts() -> None:
        keep = timedelta(days=settings.write_attempts_retention_days)
        while True:
            with contextlib.suppress(Exception):
                await write_attempts.purge(keep)
            await asyncio.sleep(3600)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await check_kafka(settings.kafka)  # a refused password or CA: a clear error now
        if settings.ensure_topics:
            await ensure_topics(settings.kafka, settings.topics.specs(settings.topic_partitions))
        if scheduler.shared is not None:
            await scheduler.shared.ensure_indexes()
        for conn in await repos.list():
            if conn.daily_limit:
                scheduler.budget(conn.xero_tenant_id).set_daily_limit(conn.daily_limit)
        await broker.start()
        await commands.start()
        tasks = [asyncio.create_task(refresh_metrics()), asyncio.create_task(purge_write_attempts())]
        if settings.poll_enabled:
            tasks.append(asyncio.create_task(poller.run()))
        if settings.backfills_enabled:
            tasks.append(asyncio.create_task(backfills.run(settings.poll_tick_seconds)))
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await commands.stop()
            await broker.stop()
            if http_client is None:
                await http.aclose()
            if mongo_client is None:
                await mongo.close()

    app = FastAPI(title="kxflow xero-gateway", version="1.0", lifespan=lifespan)
    app.include_router(http_routes.router)
    app.include_router(health_router(metrics.registry, {"mongodb": mongo_check(db)}))
    instrument_app(app, provider)
    app.add_middleware(AdminLimits, **settings.admin_limits())
    keep_retention(app, _retention(settings, db, ledger, seen, states, snapshots))
    watch_consumer_lag(
        app,
        settings.kafka,
        settings.consumer_group,
        [settings.topics.xero_commands, settings.topics.xero_webhooks_raw],
        metrics.registry,
    )
    app.state.settings = settings  # entrypoints.deps reads what the routes need from app.state
    app.state.connect = connect
    app.state.metrics = metrics
    app.state.scheduler = scheduler
    app.state.repos = repos
    app.state.api = api
    app.state.publisher = publisher
    app.state.poller = poller
    app.state.report_demand = report_demand
    app.state.commands = commands
    app.state.backfills = backfills
    app.state.executor = runner
    app.state.writes = writes
    return app


def _retention(
    settings: XeroGatewaySettings,
    db: Any,
    ledger: ActionLedger,
    seen: SeenKeys,
    states: OAuthStates,
    snapshots: InvoiceSnapshots,
) -> Retention:
    keep_snapshots = timedelta(days=settings.invoice_snapshot_retention_days)
    keep_ledger = timedelta(days=settings.ledger_retention_days)
    keep_seen = timedelta(days=settings.seen_keys_retention_days)
    keep_orphans = timedelta(days=settings.orphan_token_set_days)
    rules = [
        Rule("action_ledger", lambda now: ledger.purge(keep_ledger, now)),
        Rule("seen_keys", lambda now: seen.purge(keep_seen, now)),
        Rule("oauth_states", states.purge_expired),
        Rule("invoice_snapshots", lambda now: snapshots.purge(keep_snapshots, now)),
        Rule(
            "orphan_token_sets",
            lambda now: purge_orphan_token_sets(db["token_sets"], db["connections"], keep_orphans, now),
        ),
    ]
    return Retention(rules, settings.retention_interval_seconds)
