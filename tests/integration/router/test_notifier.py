"""The notifier on real Kafka and FerretDB: run events on runs.v1 → rules → webhook and SMTP.

A local webhook receiver (an ASGI app on a real port) and a local SMTP server (aiosmtpd) stand in
for Slack and the mail relay.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from asgi_server import free_port, serve
from fastapi import FastAPI, Request
from router_harness import ACME, GLOBEX, publish_events, router_settings
from waiting import wait_for

from kxflow_contracts.runs import RunEvent, RunStatus, RunTransition
from zap_router.adapters.connections import StaticConnectionDirectory
from zap_router.adapters.notify_store import NotifyStore
from zap_router.adapters.publisher import run_cloud_event
from zap_router.domain.clock import ManualClock
from zap_router.domain.notifications import (
    FlushPolicy,
    Message,
    notice_from_dead_letter,
    notice_from_run_event,
)
from zap_router.engine.notifier import Notifier
from zap_router.main import create_app
from zap_router.testing import demo_catalog

pytestmark = [pytest.mark.kafka, pytest.mark.mongo]


class Inbox:
    """Webhook bodies and e-mails received."""

    def __init__(self) -> None:
        self.hooks: list[dict[str, Any]] = []
        self.mails: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # aiosmtpd handler
        self.mails.append(message_from_bytes(envelope.content))
        return "250 OK"


@pytest.fixture
async def inbox() -> AsyncIterator[tuple[Inbox, str, int]]:
    box = Inbox()
    hooks = FastAPI()

    @hooks.post("/hook")
    async def hook(request: Request) -> dict[str, str]:
        box.hooks.append(await request.json())
        return {"ok": "yes"}

    smtp_port = free_port()
    controller = Controller(box, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    try:
        async with serve(hooks) as url:
            yield box, f"{url}/hook", smtp_port
    finally:
        controller.stop()


class Gateway:
    """A gateway's ``GET /v1/connections``: acme's Xero organisation needs re-authorisation."""

    def __init__(self) -> None:
        self.asked: list[str] = []
        self.app = FastAPI()

        @self.app.get("/v1/connections")
        async def connections(request: Request) -> list[dict[str, Any]]:
            auth = request.headers.get("authorization", "")
            self.asked.append(auth)
            if auth != ACME["Authorization"]:
                return []
            return [
                {"id": "xero-acme-au", "app": "xero", "name": "Acme AU", "status": "active"},
                {
                    "id": "xero-acme-nz",
                    "app": "xero",
                    "name": "Acme NZ",
                    "status": "needs_reauth",
                    "status_reason": "refresh token rejected (invalid_grant)",
                },
            ]


@pytest.fixture
async def notifier_app(kafka_bootstrap, mongodb_url, topic_prefix, mongo_db_name, inbox):
    _, _, smtp_port = inbox
    gateway = Gateway()
    async with serve(gateway.app) as gateway_url:
        settings = router_settings(
            kafka_bootstrap,
            mongodb_url,
            topic_prefix,
            mongo_db_name,
            notify_group_id=f"{topic_prefix}notifier",
            notify_settle_s=2.0,
            notify_min_interval_s=0.0,
            notify_tick_s=0.2,
            notify_connections_check_s=0.3,
            smtp_host="127.0.0.1",
            smtp_port=smtp_port,
            smtp_from="kxflow@test.example",
            console_url="http://console.test/console",
            xero_gateway_url=gateway_url,
            kartra_gateway_url="http://127.0.0.1:9",  # not answering: left out of each check
        )
        directory = StaticConnectionDirectory({"acme": {"kartra": {"kartra-main"}, "xero": {"xero-acme-au"}}})
        app = create_app(settings, catalog=demo_catalog(), directory=directory, run_scheduler=False)
        app.state.fake_gateway = gateway
        async with serve(app) as url, httpx.AsyncClient(base_url=url, timeout=30) as http:
            yield app, http, settings


def run_event(i: int, transition: RunTransition, status: RunStatus, tenant: str = "acme", zap: str = "z1"):
    return RunEvent(
        run_id=f"r{i}",
        tenant=tenant,
        zap_id=zap,
        zap_version=1,
        trigger_event_id=f"e{i}",
        transition=transition,
        status=status,
        error={"code": "xero_validation", "message": f"invoice {i} refused"}
        if status == RunStatus.failed
        else None,
        at=datetime.now(UTC),
    )


async def publish(settings, events: list[RunEvent]) -> None:
    await publish_events(
        settings.kafka_bootstrap_servers,
        settings.topics.runs,
        [(e.run_id, run_cloud_event(e)) for e in events],
    )


async def test_rules_route_failures_by_webhook_and_halts_by_email_once_each(notifier_app, inbox) -> None:
    app, http, settings = notifier_app
    box, hook_url, _ = inbox
    hook = await http.post(
        "/v1/notifications/rules",
        json={"name": "ops", "kinds": ["run_failed"], "channel": "webhook", "target": hook_url},
        headers=ACME,
    )
    assert hook.status_code == 201, hook.text
    mail = await http.post(
        "/v1/notifications/rules",
        json={
            "name": "finance",
            "zap_id": "z1",
            "kinds": ["run_halted", "zap_disabled"],
            "channel": "email",
            "target": "finance@acme.example",
        },
        headers=ACME,
    )
    assert mail.status_code == 201, mail.text
    events = [
        run_event(1, RunTransition.finished, RunStatus.failed),
        run_event(2, RunTransition.finished, RunStatus.halted),
        run_event(3, RunTransition.finished, RunStatus.succeeded),
        run_event(4, RunTransition.finished, RunStatus.halted, zap="z2"),  # not finance's zap
        run_event(5, RunTransition.finished, RunStatus.failed, tenant="globex"),  # another tenant
        # handled by its on_error branch (halted + status_detail): run_handled, not a halt
        run_event(6, RunTransition.finished, RunStatus.halted).model_copy(
            update={"status_detail": "handled"}
        ),
    ]
    await publish(settings, events + events[:2])  # the first two delivered twice
    await wait_for(lambda: len(box.hooks) >= 1 and len(box.mails) >= 1, timeout=30, message="both sent")
    store = app.state.notifier.store

    async def all_sent() -> bool:
        return await store.count({"state": {"$ne": "sent"}}) == 0

    await wait_for(all_sent, timeout=10)
    assert len(box.hooks) == 1 and len(box.mails) == 1
    assert box.hooks[0]["text"].startswith("[kxflow] Run r1 of zap z1 failed")
    assert "http://console.test/console/runs/r1" in box.hooks[0]["text"]
    assert box.mails[0]["To"] == "finance@acme.example"
    assert box.mails[0]["Subject"] == "[kxflow] Run r2 of zap z1 halted"
    assert await store.count({}) == 2  # one item per (rule, event): the duplicates inserted nothing


async def test_a_burst_of_500_failures_is_one_digest(notifier_app, inbox) -> None:
    app, http, settings = notifier_app
    box, hook_url, _ = inbox
    rule = {"name": "ops", "kinds": ["run_failed"], "channel": "webhook", "target": hook_url}
    assert (await http.post("/v1/notifications/rules", json=rule, headers=ACME)).status_code == 201
    await publish(settings, [run_event(i, RunTransition.finished, RunStatus.failed) for i in range(500)])
    store = app.state.notifier.store

    async def sent_500() -> bool:
        return await store.count({"state": "sent"}) == 500

    await wait_for(sent_500, timeout=60, interval=0.5)
    assert len(box.hooks) == 1
    assert box.hooks[0]["kxflow"]["count"] == 500
    assert "500 notifications" in box.hooks[0]["text"]
    registry = app.state.metrics.registry
    assert registry.get_sample_value("kxflow_notifications_total", {"outcome": "digest"}) == 1


async def test_rules_are_tenant_scoped_and_checked(notifier_app, inbox) -> None:
    _, http, _ = notifier_app
    _, hook_url, _ = inbox
    created = await http.post(
        "/v1/notifications/rules",
        json={"name": "ops", "kinds": ["run_failed"], "channel": "webhook", "target": hook_url},
        headers=ACME,
    )
    rule_id = created.json()["id"]
    assert (await http.get("/v1/notifications/rules", headers=GLOBEX)).json()["items"] == []
    assert (await http.delete(f"/v1/notifications/rules/{rule_id}", headers=GLOBEX)).status_code == 404
    assert (await http.get("/v1/notifications/rules")).status_code == 401
    bad = await http.post(
        "/v1/notifications/rules",
        json={"name": "x", "kinds": ["run_failed"], "channel": "email", "target": "a@b.c\r\nBcc: e@f.g"},
        headers=ACME,
    )
    assert bad.status_code == 422 and "one address" in bad.text
    assert (await http.delete(f"/v1/notifications/rules/{rule_id}", headers=ACME)).status_code == 204


class Recorder:
    def __init__(self) -> None:
        self.sent: list[Message] = []

    async def send(self, channel: str, target: str, message: Message) -> None:
        await asyncio.sleep(0)  # let the other replica interleave
        self.sent.append(message)


async def test_two_replicas_send_a_rule_once(mongo_client, mongo_db_name) -> None:
    """Both replicas see the same events (a rebalance) and flush at once: one message."""
    store = NotifyStore(mongo_client[mongo_db_name])
    clock = ManualClock(datetime(2026, 12, 1, tzinfo=UTC))
    await store.create_rule(
        "acme",
        {"name": "ops", "kinds": ["run_failed"], "channel": "webhook", "target": "http://x"},
        clock.now(),
    )
    recorder = Recorder()
    policy = FlushPolicy(timedelta(seconds=60), timedelta(seconds=1), timedelta(seconds=10))
    replicas = [Notifier(store=store, sender=recorder, clock=clock, policy=policy) for _ in range(2)]
    notices = [
        notice_from_run_event(
            f"r{i}:finished", run_event(i, RunTransition.finished, RunStatus.failed).model_dump()
        )
        for i in range(3)
    ]
    added = [await r.on_notices([n for n in notices if n]) for r in replicas]
    assert added == [3, 0]
    clock.advance(2)
    assert sorted(await asyncio.gather(*(r.flush() for r in replicas))) == [0, 1]
    assert [m.count for m in recorder.sent] == [3]
    clock.advance(30)  # within the rate cap nothing more; new failures wait for the next slot
    extra = notice_from_run_event(
        "r9:finished", run_event(9, RunTransition.finished, RunStatus.failed).model_dump()
    )
    assert extra is not None
    await replicas[0].on_notices([extra])
    assert await replicas[1].flush() == 0
    clock.advance(31)
    assert await replicas[1].flush() == 1 and recorder.sent[-1].count == 1


async def test_dead_letters_of_a_tenant_reach_its_rule_once(notifier_app, inbox) -> None:
    """Records landing on ``*.dlq`` topics: acme's two (on two DLQs) are one digest to acme's
    rule; globex's and one naming no tenant reach nobody; a second pass of the same records (a
    rebalance) adds nothing."""
    app, http, settings = notifier_app
    box, hook_url, _ = inbox
    rule = {"name": "dlq", "kinds": ["dead_letters"], "channel": "webhook", "target": hook_url}
    assert (await http.post("/v1/notifications/rules", json=rule, headers=ACME)).status_code == 201

    def letter(tenant: str | None, message: str) -> tuple[bytes, list[tuple[str, bytes]]]:
        headers = [("x-error-class", b"EnvelopeError"), ("x-error-message", message.encode())]
        return b"\xff not json", headers + ([("ce_tenant", tenant.encode())] if tenant else [])

    topics = settings.topics
    await publish_events(
        settings.kafka_bootstrap_servers,
        topics.dlq(topics.xero_commands),
        [],
        raw=[letter("acme", "data is not JSON"), letter("globex", "nope"), letter(None, "no tenant")],
    )
    await publish_events(
        settings.kafka_bootstrap_servers,
        topics.dlq(topics.kartra_events),
        [],
        raw=[letter("acme", "bad lead")],
    )
    store = app.state.notifier.store

    async def sent_two() -> bool:
        return await store.count({"state": "sent", "kind": "dead_letters"}) == 2

    await wait_for(sent_two, timeout=30, interval=0.3, message="acme's two dead letters sent")
    assert len(box.hooks) == 1 and box.hooks[0]["kxflow"]["count"] == 2
    text = box.hooks[0]["text"]
    assert "2 dead letters" in text and "data is not JSON" in text and "bad lead" in text
    assert "nope" not in text and "no tenant" not in text
    assert await store.count({}) == 2
    seen_again = []
    for item in await store.items.find({"kind": "dead_letters"}).to_list(None):
        _, _, topic, partition, offset = item["_id"].split(":")  # rule:dlq:topic:partition:offset
        seen_again.append(notice_from_dead_letter(topic, int(partition), int(offset), {"ce_tenant": "acme"}))
    assert await app.state.notifier.on_notices(seen_again) == 0  # a record read twice is one item


async def test_a_connection_needing_reauth_is_told_once_a_day(notifier_app, inbox) -> None:
    """The notifier asks the gateways with the tenant's own token for tenants whose rules want
    it; acme's NZ organisation needs re-authorisation: one e-mail, however often it is checked."""
    app, http, _ = notifier_app
    box, _, _ = inbox
    gateway: Gateway = app.state.fake_gateway
    rule = {
        "name": "connections",
        "kinds": ["connection_needs_reauth"],
        "channel": "email",
        "target": "it@acme.example",
    }
    assert (await http.post("/v1/notifications/rules", json=rule, headers=ACME)).status_code == 201
    await wait_for(lambda: len(box.mails) >= 1, timeout=30, message="the re-authorisation e-mail")
    mail = box.mails[0]
    assert mail["To"] == "it@acme.example"
    assert mail["Subject"] == "[kxflow] The Xero connection Acme NZ needs re-authorisation"
    assert "invalid_grant" in mail.get_payload(decode=True).decode()
    checks = len(gateway.asked)
    await wait_for(lambda: len(gateway.asked) >= checks + 3, timeout=30, message="three more checks")
    store = app.state.notifier.store
    assert await store.count({"kind": "connection_needs_reauth"}) == 1 and len(box.mails) == 1
    assert set(gateway.asked) == {ACME["Authorization"]}  # only acme has such a rule; its own token
