"""The whole of kxflow in this process, for the security tests: both sandboxes, both gateways and
the router, each on a real loopback port, on the real Kafka and FerretDB, with unique topics and
databases.

The services run on an event loop in a background thread, so synchronous clients (schemathesis,
``httpx.Client``) and the test's own event loop can both talk to them. Two tenants share every
service (``acme`` and ``globex``); ``acme`` owns one of everything (a Kartra connection, Xero
connections, a zap with runs, a backfill job), ``globex`` owns nothing, so any of ``acme``'s data
in an answer to ``globex`` is a leak.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

import httpx
from asgi_server import free_port, serve
from cryptography.fernet import Fernet

from kartra_gateway.main import create_app as create_kartra_gateway
from kartra_gateway.settings import GatewaySettings
from kxflow_contracts.topics import Topics
from kxflow_sandboxes.kartra import create_app as create_kartra_sandbox
from kxflow_sandboxes.xero import SandboxConfig
from kxflow_sandboxes.xero import create_app as create_xero_sandbox
from xero_gateway.main import create_app as create_xero_gateway
from xero_gateway.settings import XeroGatewaySettings
from zap_router.main import create_app as create_router
from zap_router.settings import RouterSettings

ACME_TOKEN = "sec-token-acme-0123456789"
GLOBEX_TOKEN = "sec-token-globex-0123456789"
TOKENS = {ACME_TOKEN: "acme", GLOBEX_TOKEN: "globex"}
ACME = {"Authorization": f"Bearer {ACME_TOKEN}"}
GLOBEX = {"Authorization": f"Bearer {GLOBEX_TOKEN}"}
PRODUCT_ID = "223"  # the Kartra sandbox's seeded product


# acme's notification rule (the admin-auth tests check that globex can neither see nor delete it).
NOTIFICATION_RULE = {
    "name": "acme failures",
    "kinds": ["run_failed"],
    "channel": "webhook",
    "target": "http://127.0.0.1:9/acme-hook",
}


def design_zap(kartra_connection: str, xero_connection: str, name: str = "purchase to invoice") -> dict:
    """The example zap of DESIGN §4 (Kartra purchase → Xero contact, invoice, payment), as JSON.

    The invoice line carries the Kartra transaction id so invoices can be counted by content."""
    return {
        "name": name,
        "trigger": {
            "app": "kartra",
            "event": "kartra.product.purchased",
            "connection": kartra_connection,
            "params": {"product_id": PRODUCT_ID},
        },
        "filter": {"any": [{"all": [{"field": "trigger.transaction.amount", "op": "gt", "value": 0}]}]},
        "steps": [
            {
                "id": "contact",
                "action": "xero.contact.find_or_create",
                "connection": xero_connection,
                "input": {
                    "Name": "{{ trigger.lead.first_name }} {{ trigger.lead.last_name }}",
                    "EmailAddress": "{{ trigger.lead.email }}",
                },
            },
            {
                "id": "invoice",
                "action": "xero.sales_invoice.create",
                "input": {
                    "Contact": {"ContactID": "{{ steps.contact.ContactID }}"},
                    "Status": "AUTHORISED",
                    "Reference": "kartra-{{ trigger.transaction.id }}",
                    "LineItems": [
                        {
                            "Description": "{{ trigger.product.name }} (kartra {{ trigger.transaction.id }})",
                            "Quantity": 1,
                            "UnitAmount": "{{ trigger.transaction.amount }}",
                            "AccountCode": "200",
                        }
                    ],
                },
            },
            {
                "id": "paid",
                "action": "xero.payment.create",
                "input": {
                    "Invoice": {"InvoiceID": "{{ steps.invoice.InvoiceID }}"},
                    "Account": {"Code": "090"},
                    "Amount": "{{ trigger.transaction.amount }}",
                    "Date": "{{ trigger.time | date('%Y-%m-%d') }}",
                },
            },
        ],
    }


@dataclass
class System:
    """URLs of every process-like part, the apps (for in-process state) and acme's resources."""

    kafka: str
    topics: Topics
    urls: dict[str, str]
    apps: dict[str, Any]
    kartra_app: dict[str, str] = field(default_factory=dict)
    kartra_connection: dict[str, Any] = field(default_factory=dict)
    xero_connections: list[dict[str, Any]] = field(default_factory=list)
    zap: dict[str, Any] = field(default_factory=dict)
    run_id: str = ""
    backfill_id: str = ""
    rule_id: str = ""

    @property
    def kartra_webhook_url(self) -> str:
        c = self.kartra_connection
        return f"{self.urls['kartra-gateway']}/v1/webhooks/kartra/{c['id']}/{c['webhook_secret']}"

    @property
    def kartra_ipn_url(self) -> str:
        return f"{self.urls['kartra-gateway']}/v1/ipn/kartra/{self.kartra_connection['id']}"

    @property
    def xero_sandbox(self) -> Any:
        return self.apps["xero-sandbox"].state.sandbox


@contextlib.asynccontextmanager
async def running_system(
    kafka: str,
    mongodb_url: str,
    *,
    wrap_kartra_api: Callable[[Any], Any] | None = None,
    wrap_xero_api: Callable[[Any], Any] | None = None,
    seed: bool = True,
) -> AsyncIterator[System]:
    """Start everything, seed acme's data (``seed``), yield the :class:`System`, stop everything.

    ``wrap_kartra_api`` / ``wrap_xero_api`` wrap the sandboxes' ASGI apps as seen by the gateways
    (the SSRF tests put a redirecting front in place of "the app's API")."""
    uid = "s" + uuid.uuid4().hex[:7]
    prefix = f"{uid}.kxflow."
    key = Fernet.generate_key().decode()
    ports = {name: free_port() for name in ("kartra-gateway", "xero-gateway", "router")}
    urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    kartra_sandbox = create_kartra_sandbox()
    xero_sandbox = create_xero_sandbox(SandboxConfig(webhook_url=f"{urls['xero-gateway']}/v1/webhooks/xero"))
    apps: dict[str, Any] = {"kartra-sandbox": kartra_sandbox, "xero-sandbox": xero_sandbox}
    async with contextlib.AsyncExitStack() as stack:
        urls["kartra-sandbox"] = await stack.enter_async_context(serve(kartra_sandbox))
        urls["xero-sandbox"] = await stack.enter_async_context(serve(xero_sandbox))
        kartra_api = urls["kartra-sandbox"]
        if wrap_kartra_api is not None:
            kartra_api = await stack.enter_async_context(serve(wrap_kartra_api(kartra_sandbox)))
        xero_api = urls["xero-sandbox"]
        if wrap_xero_api is not None:
            xero_api = await stack.enter_async_context(serve(wrap_xero_api(xero_sandbox)))
        common: dict[str, Any] = {
            "kafka_bootstrap_servers": kafka,
            "mongodb_url": mongodb_url,
            "topic_prefix": prefix,
            "topic_partitions": 3,
            "api_tokens": TOKENS,
            "secret_keys": key,
            "log_json": False,
        }
        cfg = xero_sandbox.state.sandbox.config
        apps["kartra-gateway"] = create_kartra_gateway(
            GatewaySettings(
                **common,
                mongodb_database=f"kxtest_{uid}_kartra",
                consumer_group=f"{prefix}kartra-gateway",
                public_base_url=urls["kartra-gateway"],
                kartra_api_url=f"{kartra_api}/api",
                kartra_backoff_seconds=0.2,
            )
        )
        apps["xero-gateway"] = create_xero_gateway(
            XeroGatewaySettings(
                **common,
                mongodb_database=f"kxtest_{uid}_xero",
                consumer_group=f"{prefix}xero-gateway",
                public_url=urls["xero-gateway"],
                api_base_url=xero_api,
                identity_base_url=urls["xero-sandbox"],
                login_base_url=urls["xero-sandbox"],
                client_id=cfg.client_id,
                client_secret=cfg.client_secret,
                webhook_key=cfg.webhook_key,
                poll_enabled=False,
            )
        )
        apps["router"] = create_router(
            RouterSettings(
                **common,
                mongodb_database=f"kxtest_{uid}_router",
                group_id=f"{prefix}router",
                kartra_gateway_url=urls["kartra-gateway"],
                xero_gateway_url=urls["xero-gateway"],
                scheduler_interval_s=0.2,
                batch_timeout_ms=20,
            )
        )
        for name in ("kartra-gateway", "xero-gateway", "router"):
            await stack.enter_async_context(serve(apps[name], port=ports[name]))
        system = System(kafka, Topics(prefix), urls, apps)
        stack.push_async_callback(_drop_databases, mongodb_url, uid)
        if seed:
            await _seed(system)
        yield system


async def _drop_databases(mongodb_url: str, uid: str) -> None:
    from pymongo import AsyncMongoClient

    client: AsyncMongoClient[Any] = AsyncMongoClient(mongodb_url)
    try:
        for suffix in ("kartra", "xero", "router"):
            await client.drop_database(f"kxtest_{uid}_{suffix}")
    finally:
        await client.close()


async def _seed(system: System) -> None:
    """acme: a Kartra connection wired to the sandbox, Xero connections by OAuth, the DESIGN zap,
    one purchase run to completion, a backfill job."""
    from waiting import wait_for

    urls = system.urls
    async with httpx.AsyncClient(timeout=30, follow_redirects=True) as http:
        system.kartra_app = (await http.post(f"{urls['kartra-sandbox']}/_sandbox/apps", json={})).json()
        res = await http.post(
            f"{urls['kartra-gateway']}/v1/connections",
            json={"name": "kartra-main", **system.kartra_app},
            headers=ACME,
        )
        res.raise_for_status()
        system.kartra_connection = res.json()
        res = await http.post(
            f"{urls['kartra-sandbox']}/_sandbox/webhooks",
            json={
                "app_id": system.kartra_app["app_id"],
                "url": system.kartra_webhook_url,
                "ipn_url": system.kartra_ipn_url,
                "ipn_secret": system.kartra_connection["ipn_secret_key"],
            },
        )
        res.raise_for_status()
        res = await http.get(f"{urls['xero-gateway']}/v1/xero/connect", headers=ACME)
        res.raise_for_status()
        system.xero_connections = res.json()["connections"]
        xero_id = next(c["id"] for c in system.xero_connections if "acme" in c["id"])
        res = await http.post(
            f"{urls['router']}/v1/zaps",
            json=design_zap(system.kartra_connection["id"], xero_id),
            headers=ACME,
        )
        assert res.status_code == 201, res.text
        system.zap = res.json()
        res = await http.post(
            f"{urls['kartra-sandbox']}/_sandbox/simulate/purchase",
            json={"app_id": system.kartra_app["app_id"], "email": "ada@example.com", "first_name": "Ada"},
        )
        res.raise_for_status()

        async def finished_run() -> str | None:
            page = (await http.get(f"{urls['router']}/v1/runs", headers=ACME)).json()["items"]
            done = [r for r in page if r["status"] == "succeeded"]
            return done[0]["id"] if done else None

        system.run_id = await wait_for(finished_run, timeout=60, interval=0.2, message="acme's first run")
        res = await http.post(
            f"{urls['router']}/v1/notifications/rules",
            json=NOTIFICATION_RULE,
            headers=ACME,
        )
        assert res.status_code == 201, res.text
        system.rule_id = res.json()["id"]
        res = await http.post(
            f"{urls['xero-gateway']}/v1/backfills",
            json={"connection_id": xero_id, "resource": "invoices", "since": "2020-01-01T00:00:00Z"},
            headers=ACME,
        )
        if res.status_code == 202:
            system.backfill_id = res.json().get("id", "")


class ThreadedSystem:
    """Runs :func:`running_system` on an event loop in a daemon thread (for synchronous clients)."""

    def __init__(self, kafka: str, mongodb_url: str, **options: Any) -> None:
        self._args = (kafka, mongodb_url)
        self._options = options
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="kxflow-system", daemon=True)
        self._stop: asyncio.Event | None = None
        self._done: Future[None] | None = None

    def __enter__(self) -> System:
        self._thread.start()
        started: Future[System] = Future()

        async def main() -> None:
            self._stop = asyncio.Event()
            try:
                async with running_system(*self._args, **self._options) as system:
                    started.set_result(system)
                    await self._stop.wait()
            except BaseException as exc:
                if not started.done():
                    started.set_exception(exc)
                raise

        self._done = asyncio.run_coroutine_threadsafe(main(), self._loop)  # type: ignore[assignment]
        return started.result(timeout=180)

    def __exit__(self, *exc: object) -> None:
        assert self._stop is not None and self._done is not None
        self._loop.call_soon_threadsafe(self._stop.set)
        with contextlib.suppress(Exception):
            self._done.result(timeout=60)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)

    def call(self, coro: Any, timeout: float = 60) -> Any:
        """Run a coroutine on the system's loop (to read in-process sandbox state safely)."""
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=timeout)


@contextlib.contextmanager
def threaded_system(kafka: str, mongodb_url: str, **options: Any) -> Iterator[System]:
    with ThreadedSystem(kafka, mongodb_url, **options) as system:
        yield system
