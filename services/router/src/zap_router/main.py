"""Composition root: settings, MongoDB, Kafka, the engine, the HTTP app. Wiring only."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import httpx
from fastapi import FastAPI
from pymongo import AsyncMongoClient
from pymongo.errors import PyMongoError

from kxflow_contracts.catalog import CATALOG, Catalog
from kxflow_contracts.runtime.connections import check_kafka, mongo_options
from kxflow_contracts.runtime.http import health_router, kafka_check, mongo_check
from kxflow_contracts.runtime.kafka import ensure_topics, make_broker
from kxflow_contracts.runtime.lag import watch_consumer_lag
from kxflow_contracts.runtime.limits import AdminLimits
from kxflow_contracts.runtime.logging import REDACTOR
from kxflow_contracts.runtime.mongo import mongo_client as make_mongo_client
from kxflow_contracts.runtime.telemetry import instrument_app, make_tracer_provider
from zap_router.adapters.catchup_store import CatchupStore
from zap_router.adapters.connections import ConnectionDirectory, HttpConnectionDirectory
from zap_router.adapters.event_reader import KafkaEventReader
from zap_router.adapters.metrics import RouterMetrics
from zap_router.adapters.publisher import Publisher
from zap_router.adapters.results_progress import KafkaResultsProgress
from zap_router.adapters.run_store import RunStore
from zap_router.adapters.schedule_store import ScheduleStore
from zap_router.adapters.step_test_store import StepTestStore
from zap_router.adapters.zap_store import ZapStore
from zap_router.domain.clock import Clock, SystemClock
from zap_router.domain.matching import MatchIndex
from zap_router.engine.active import ZapVersions
from zap_router.engine.catchup import Catchups
from zap_router.engine.drafts import Drafts
from zap_router.engine.dryrun import EventReader
from zap_router.engine.runner import RunEngine
from zap_router.engine.step_test import StepTests
from zap_router.engine.zaps import ZapService
from zap_router.entrypoints import (
    http_catalog,
    http_catchups,
    http_drafts,
    http_runs,
    http_step_tests,
    http_zaps,
)
from zap_router.entrypoints.console import mount_console
from zap_router.entrypoints.consumers import register_consumers
from zap_router.entrypoints.deps import Services, install_error_handlers
from zap_router.entrypoints.notifier import install_notifier, make_notifier
from zap_router.settings import RouterSettings

log = logging.getLogger("kxflow.router")


async def _every(
    seconds: float, job: Callable[[], Awaitable[Any]], name: str, wait_first: bool = False
) -> None:
    """Run ``job`` forever, ``seconds`` apart (the pause is the schedule, not synchronisation)."""
    if wait_first:
        await asyncio.sleep(seconds)  # a restarting replica does not redo the job at once
    while True:
        try:
            await job()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("%s failed; retrying in %ss", name, seconds)
        await asyncio.sleep(seconds)


async def _with_retries(job: Callable[[], Awaitable[Any]], name: str, attempts: int = 10) -> Any:
    """Start-up steps that race with other replicas (creating the same indexes) are retried."""
    for attempt in range(1, attempts + 1):
        try:
            return await job()
        except PyMongoError as exc:
            if attempt == attempts:
                raise
            log.warning("%s failed (%s); retrying", name, type(exc).__name__)
            await asyncio.sleep(0.2 * attempt)  # back-off between start-up attempts
    return None


def create_app(
    settings: RouterSettings | None = None,
    *,
    catalog: Catalog = CATALOG,
    clock: Clock | None = None,
    directory: ConnectionDirectory | None = None,
    reader: EventReader | None = None,
    run_scheduler: bool = True,
) -> FastAPI:
    """The router app; overrides (catalog, clock, connection directory, event reader) are for tests."""
    settings = settings or RouterSettings()
    clock = clock or SystemClock()
    metrics = RouterMetrics()
    provider = make_tracer_provider(settings.service_name, settings.otlp_endpoint)
    tracer = provider.get_tracer("kxflow.router")
    REDACTOR.pin(*settings.secret_values())
    mongo: AsyncMongoClient = make_mongo_client(
        settings.mongodb_url,
        count_commands_in=metrics.registry if settings.store_command_metrics else None,
        tz_aware=True,
        connect=False,
        **mongo_options(settings),
    )
    db = mongo[settings.mongodb_database]
    http_client = httpx.AsyncClient()
    directory = directory or HttpConnectionDirectory(
        {"kartra": settings.kartra_gateway_url, "xero": settings.xero_gateway_url}, http_client
    )
    broker = make_broker(settings.kafka, client_id="kxflow-router", on_dead_letter=metrics.dead_letter)
    publisher = Publisher(broker, settings.topics, tracer)
    index = MatchIndex()
    zap_store, run_store, schedule = (
        ZapStore(db),
        RunStore(db, settings.run_shards),
        ScheduleStore(db["schedule"]),
    )
    zaps = ZapService(
        store=zap_store,
        runs=run_store,
        index=index,
        catalog=catalog,
        directory=directory,
        publisher=publisher,
        clock=clock,
        policy=settings.auto_disable,
    )
    progress = KafkaResultsProgress(settings.kafka, settings.group_id, settings.topics.action_results)
    engine = RunEngine(
        index=index,
        versions=ZapVersions(zap_store, index, catalog),
        catalog=catalog,
        runs=run_store,
        schedule=schedule,
        publisher=publisher,
        clock=clock,
        metrics=metrics,
        ladder=settings.ladder,
        redispatch_after=timedelta(seconds=settings.redispatch_after_s),
        deadline=timedelta(seconds=settings.command_deadline_s),
        on_run_failed=zaps.check_health,
        progress=progress,
        retention=settings.retention,
        tracer=tracer,
    )
    zaps.on_disabled = engine.cancel_waiting  # turning a zap off cancels its waiting runs
    step_test_store = StepTestStore(db)
    if settings.consume:
        register_consumers(broker, settings, engine, zaps, metrics, step_test_store)
    notifier = make_notifier(settings, db, http_client, clock, run_store)
    reader = reader or KafkaEventReader(settings.kafka)
    catchup_store = CatchupStore(db)
    catchups = Catchups(
        store=catchup_store,
        engine=engine,
        zaps=zaps,
        runs=run_store,
        reader=reader,
        catalog=catalog,
        topics=settings.topics,
        clock=clock,
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await check_kafka(settings.kafka)  # a refused password or CA: a clear error now
        if settings.ensure_topics:
            await ensure_topics(settings.kafka, settings.topics.specs(settings.topic_partitions))
        await _with_retries(zap_store.ensure_indexes, "zap indexes")
        await _with_retries(run_store.ensure_indexes, "run indexes")
        await _with_retries(schedule.ensure_indexes, "schedule indexes")
        await _with_retries(catchup_store.ensure_indexes, "catch-up indexes")
        await _with_retries(step_test_store.ensure_indexes, "step test indexes")
        # The index is complete before any event is read.
        metrics.zaps_loaded.set(await _with_retries(zaps.reload, "zap index load"))
        await broker.start()
        await progress.start()
        tasks = [asyncio.create_task(_every(settings.reconcile_interval_s, zaps.reload, "zap reconcile"))]
        if settings.notify and settings.consume:
            tasks.append(asyncio.create_task(_every(settings.notify_tick_s, notifier.flush, "notifier")))
            tasks.append(asyncio.create_task(_every(3600, notifier.purge, "notifier purge", wait_first=True)))
            tasks.append(
                asyncio.create_task(
                    _every(
                        settings.notify_connections_check_s,
                        notifier.check_connections,
                        "notifier connections",
                    )
                )
            )
        if run_scheduler:
            tasks.append(asyncio.create_task(_every(settings.scheduler_interval_s, engine.tick, "scheduler")))
            if settings.retention is not None:
                tasks.append(
                    asyncio.create_task(
                        _every(
                            settings.retention_interval_s,
                            engine.expire_runs,
                            "run retention",
                            wait_first=True,
                        )
                    )
                )
        try:
            yield
        finally:
            await catchups.stop()  # this replica's catch-ups end "interrupted"
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await progress.stop()
            await broker.stop()
            await http_client.aclose()
            await mongo.close()
            provider.shutdown()  # flushes spans not yet exported

    app = FastAPI(
        title="kxflow router",
        version="1.0",
        description="Zaps, runs, replay and the catalog (DESIGN.md §4-5)",
        lifespan=lifespan,
    )
    app.state.services = Services(
        settings=settings,
        catalog=catalog,
        zaps=zaps,
        engine=engine,
        runs=run_store,
        reader=reader,
        drafts=Drafts(zaps, zap_store),
        catchups=catchups,
        step_tests=StepTests(
            zaps=zaps,
            runs=run_store,
            store=step_test_store,
            reader=reader,
            publisher=publisher,
            catalog=catalog,
            topics=settings.topics,
            clock=clock,
            deadline=timedelta(seconds=settings.command_deadline_s),
        ),
    )
    app.state.broker = broker
    app.state.metrics = metrics

    checks = {"mongodb": mongo_check(mongo), "kafka": kafka_check(broker)}
    app.include_router(health_router(metrics.registry, checks))
    app.include_router(http_zaps.router)
    app.include_router(http_drafts.router)
    app.include_router(http_catchups.router)
    app.include_router(http_step_tests.router)
    app.include_router(http_runs.router)
    app.include_router(http_catalog.router)
    install_notifier(app, broker, settings, notifier)
    mount_console(app, http_client, secure_cookie=settings.console_cookie_secure)
    install_error_handlers(app)
    instrument_app(app, provider)
    app.add_middleware(AdminLimits, **settings.admin_limits())
    topics = settings.topics
    watch_consumer_lag(
        app,
        settings.kafka,
        settings.group_id,
        [topics.kartra_events, topics.xero_events, topics.action_results],
        metrics.registry,
    )
    return app
