"""Fault drills on the whole system as OS processes (tests/system_harness.py): drive Kartra purchases
through the DESIGN §4 zap while something breaks, then audit every promise.

The audit, after each drill:
* every purchase whose webhook was answered 2xx has exactly one run, and no purchase has two (a
  delivery refused while the gateway was down is Kartra's to retry: it may have no run);
* every run ends ``succeeded`` (or ``failed`` with an injected reason, when the drill allows it);
* the Xero sandbox holds exactly one invoice per purchase, counted by content (the Kartra
  transaction id in the invoice Reference) and by Idempotency-Key of the requests that created
  them, and each invoice has exactly one payment;
* nothing is in any dead-letter topic.
"""

from __future__ import annotations

import asyncio
import base64
import re
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
from security.inprocess_system import design_zap
from waiting import wait_for

from kxflow_contracts.runs import TERMINAL_STATUSES
from kxflow_contracts.runtime.polite_http import PoliteAsyncTransport
from kxflow_contracts.topics import Topics

TERMINAL = {s.value for s in TERMINAL_STATUSES}

# Rate-limit windows run 10x faster in the Xero sandbox and the gateway: 600 calls per real
# minute per organisation, so a 30-purchase drill is not paced by Xero's 60/min.
CLOCK_SPEED = "10"
FAST_XERO = {
    "extra_env": {
        "xero-gateway": {"CLOCK_SPEED": CLOCK_SPEED, "POLL_ENABLED": "false", "HTTP_TIMEOUT_SECONDS": "5"},
        # A redelivered event/result that finds its step still without a result re-sends the
        # command after REDISPATCH_AFTER_S (60 s in production); 5 s keeps a drill short.
        "router": {
            "SCHEDULER_INTERVAL_S": "0.2",
            "RETRY_LADDER_SECONDS": "1,2,4,8,16",
            "REDISPATCH_AFTER_S": "5",
        },
    },
    "extra_args": {"xero-sandbox": ["--clock-speed", CLOCK_SPEED]},
}


@dataclass
class Purchase:
    index: int
    email: str
    transaction_id: str = ""
    accepted: bool = False
    statuses: list[int] = field(default_factory=list)
    sent_at: float = 0.0


@dataclass
class Report:
    drill: str
    sent: int
    accepted: int
    runs: int
    duplicates: int
    losses: int
    not_succeeded: dict[str, int]
    invoices: int
    invoice_duplicates: int
    payments_missing: int
    dlq: int
    recover_seconds: float

    ROW = "{:<34} {:>6} {:>8} {:>5} {:>10} {:>7} {:>9} {:>9} {:>5} {:>9}"

    @classmethod
    def header(cls) -> str:
        return cls.ROW.format(
            "drill",
            "events",
            "accepted",
            "runs",
            "duplicates",
            "losses",
            "invoices",
            "inv dups",
            "dlq",
            "recover s",
        )

    def row(self) -> str:
        return self.ROW.format(
            self.drill,
            self.sent,
            self.accepted,
            self.runs,
            self.duplicates,
            self.losses,
            self.invoices,
            self.invoice_duplicates,
            self.dlq,
            f"{self.recover_seconds:.1f}",
        )

    def problems(self, allowed_failures: set[str] = frozenset()) -> list[str]:
        out = []
        if self.duplicates:
            out.append(f"{self.duplicates} purchases have more than one run")
        if self.losses:
            out.append(f"{self.losses} accepted purchases have no run")
        bad = {s: n for s, n in self.not_succeeded.items() if s not in allowed_failures}
        if bad:
            out.append(f"runs not succeeded: {bad}")
        if self.invoice_duplicates:
            out.append(f"{self.invoice_duplicates} duplicate invoices in Xero")
        if self.payments_missing:
            out.append(f"{self.payments_missing} invoices without exactly one payment")
        if self.dlq:
            out.append(f"{self.dlq} records in dead-letter topics")
        return out


class Drill:
    """One system with the DESIGN §4 zap applied; sends purchases and audits the outcome."""

    def __init__(self, system: Any) -> None:
        self.system = system
        self.http = httpx.AsyncClient(timeout=60)
        # kxflow's own admin API: its per-token rate limit answers 429 + Retry-After to an audit that
        # reads runs in a burst, and a client is expected to wait as told.
        self.api = httpx.AsyncClient(timeout=60, transport=PoliteAsyncTransport())
        self.topics = Topics(system.prefix)
        self.kartra_app: dict[str, str] = {}
        self.zap_id = ""
        self.purchases: list[Purchase] = []
        self._xero_token: str = ""
        self._triggers: dict[str, Any] = {}

    async def close(self) -> None:
        await self.http.aclose()
        await self.api.aclose()

    def url(self, name: str) -> str:
        return self.system.url(name)

    async def setup(self) -> None:
        auth = self.system.auth
        self.kartra_app = (
            await self.http.post(f"{self.url('kartra-sandbox')}/_sandbox/apps", json={})
        ).json()
        res = await self.http.post(
            f"{self.url('kartra-gateway')}/v1/connections",
            json={"name": "kartra-main", **self.kartra_app},
            headers=auth,
        )
        res.raise_for_status()
        conn = res.json()
        webhook = f"{self.url('kartra-gateway')}/v1/webhooks/kartra/{conn['id']}/{conn['webhook_secret']}"
        await self.http.post(
            f"{self.url('kartra-sandbox')}/_sandbox/webhooks",
            json={"app_id": self.kartra_app["app_id"], "url": webhook},
        )
        res = await self.api.get(
            f"{self.url('xero-gateway')}/v1/xero/connect", headers=auth, follow_redirects=True
        )
        res.raise_for_status()
        res = await self.api.post(
            f"{self.url('router')}/v1/zaps", json=design_zap(conn["id"], "xero-acme-au"), headers=auth
        )
        assert res.status_code == 201, res.text
        self.zap_id = res.json()["id"]

    # -- traffic --------------------------------------------------------------------------------
    async def purchase(self, index: int) -> Purchase:
        p = Purchase(
            index, f"buyer{index}-{self.system.prefix.strip('.')}@example.com", sent_at=time.monotonic()
        )
        self.purchases.append(p)
        try:
            res = await self.http.post(
                f"{self.url('kartra-sandbox')}/_sandbox/simulate/purchase",
                json={
                    "app_id": self.kartra_app["app_id"],
                    "email": p.email,
                    "first_name": "Buyer",
                    "last_name": str(index),
                },
            )
            body = res.json()
            p.transaction_id = str(body["transaction_id"])
            p.statuses = [int(d.get("status") or 0) for d in body.get("deliveries", [])]
            p.accepted = any(200 <= s < 300 for s in p.statuses)
        except (httpx.HTTPError, KeyError, ValueError):
            pass
        return p

    async def stream(
        self, count: int, rate: float, during: Callable[[int], Awaitable[None]] | None = None
    ) -> None:
        """``count`` purchases at ``rate``/s; ``during(i)`` runs before purchase ``i`` (fault hooks)."""
        tasks = []
        start = time.monotonic()
        for i in range(count):
            if during is not None:
                await during(i)
            tasks.append(asyncio.create_task(self.purchase(i)))
            await asyncio.sleep(max(0.0, start + (i + 1) / rate - time.monotonic()))  # the send rate
        await asyncio.gather(*tasks)

    # -- audit ----------------------------------------------------------------------------------
    async def runs(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        cursor = None
        while True:
            params: dict[str, Any] = {"zap_id": self.zap_id, "limit": 500}
            if cursor:
                params["cursor"] = cursor
            res = await self.api.get(f"{self.url('router')}/v1/runs", params=params, headers=self.system.auth)
            res.raise_for_status()
            body = res.json()
            out += body["items"]
            cursor = body.get("next_cursor")
            if not cursor:
                break
        for run in out:  # the list is a summary; the trigger event is on the run itself
            if "trigger" not in run:
                if run["id"] not in self._triggers:
                    one = await self.api.get(
                        f"{self.url('router')}/v1/runs/{run['id']}", headers=self.system.auth
                    )
                    one.raise_for_status()
                    self._triggers[run["id"]] = one.json()["trigger"]
                run["trigger"] = self._triggers[run["id"]]
        return out

    async def settled(self, timeout: float) -> float:
        """Wait until every accepted purchase has a finished run; the seconds it took."""
        started = time.monotonic()
        wanted = {p.transaction_id for p in self.purchases if p.accepted}

        async def all_done() -> bool:
            runs = await self.runs()
            done = {str(r["trigger"]["transaction"]["id"]) for r in runs if r["status"] in TERMINAL}
            return wanted <= done

        try:
            await wait_for(all_done, timeout=timeout, interval=0.5, message="every accepted run finished")
        except AssertionError as exc:
            stuck = [r for r in await self.runs() if r["status"] not in TERMINAL]
            summary = Counter(
                (r["status"], *sorted(f"{k}={v.get('status')}" for k, v in (r.get("steps") or {}).items()))
                for r in stuck
            )
            missing = wanted - {str(r["trigger"]["transaction"]["id"]) for r in await self.runs()}
            raise AssertionError(
                f"{exc}; unfinished: {dict(summary)}; accepted without a run: {len(missing)}"
            ) from exc
        return time.monotonic() - started

    async def xero_token(self) -> str:
        """An access token of our own for reading the Xero sandbox (its real OAuth endpoints)."""
        if self._xero_token:
            return self._xero_token
        sb = self.url("xero-sandbox")
        redirect = "http://127.0.0.1/drill-callback"
        res = await self.http.get(
            f"{sb}/identity/connect/authorize",
            params={
                "client_id": "kxflow-demo-client",
                "redirect_uri": redirect,
                "scope": "offline_access accounting.invoices accounting.payments",
                "state": "drill",
                "response_type": "code",
            },
        )
        code = parse_qs(urlparse(res.headers["location"]).query)["code"][0]
        basic = base64.b64encode(b"kxflow-demo-client:kxflow-demo-secret-0123456789").decode()
        res = await self.http.post(
            f"{sb}/connect/token",
            data={"grant_type": "authorization_code", "code": code, "redirect_uri": redirect},
            headers={"Authorization": f"Basic {basic}"},
        )
        res.raise_for_status()
        self._xero_token = res.json()["access_token"]
        return self._xero_token

    async def invoices(self) -> list[dict[str, Any]]:
        sb = self.url("xero-sandbox")
        orgs = (await self.http.get(f"{sb}/_sandbox/orgs")).json()
        tenant = next(o["tenantId"] for o in orgs if o["name"] == "Acme AU")
        headers = {"Authorization": f"Bearer {await self.xero_token()}", "xero-tenant-id": tenant}
        out: list[dict[str, Any]] = []
        page = 1
        while True:
            res = await self.http.get(f"{sb}/api.xro/2.0/Invoices", params={"page": page}, headers=headers)
            if res.status_code == 429:
                # waiting as the sandbox's 429 tells us is the client behaviour, not synchronisation
                await asyncio.sleep(float(res.headers.get("Retry-After", "1")) / float(CLOCK_SPEED))
                continue
            res.raise_for_status()
            items = res.json()["Invoices"]
            out += items
            if len(items) < 100:
                return out
            page += 1

    async def write_guard_counts(self) -> dict[str, float]:
        """xero-gateway's ``xero_write_guard_total`` by outcome, summed over its replicas (what
        happened to writes whose outcome was unknown past Xero's Idempotency-Key window)."""
        counts: dict[str, float] = {}
        for name in self.system.names:
            if not name.startswith("xero-gateway"):
                continue
            text = (await self.http.get(f"{self.url(name)}/metrics")).text
            for m in re.finditer(r'^xero_write_guard_total\{outcome="(\w+)"\} (\S+)$', text, re.MULTILINE):
                counts[m.group(1)] = counts.get(m.group(1), 0.0) + float(m.group(2))
        return counts

    async def dlq_records(self) -> int:
        return await dlq_records(self.system.kafka_bootstrap, self.system.prefix)

    async def invoice_create_keys(self) -> Counter[str]:
        """Idempotency-Keys of the invoice-creating requests the sandbox received (replays included)."""
        log = (
            await self.http.get(f"{self.url('xero-sandbox')}/_sandbox/requests", params={"limit": 5000})
        ).json()
        return Counter(
            r["idempotency_key"]
            for r in log
            if r["method"] in ("PUT", "POST")
            and r["path"].rstrip("/").endswith("/Invoices")
            and r["idempotency_key"]
        )

    async def evidence(self, limit: int = 3) -> str:
        """What a failed audit shows: a few unsuccessful runs with their errors and step states,
        and duplicated invoices with their update times (the sandbox's virtual clock)."""
        lines = []
        for r in [r for r in await self.runs() if r["status"] != "succeeded"][:limit]:
            res = await self.api.get(f"{self.url('router')}/v1/runs/{r['id']}", headers=self.system.auth)
            full = res.json()
            steps = {k: (v.get("status"), v.get("attempt"), v.get("error")) for k, v in full["steps"].items()}
            lines.append(f"run {r['id']} {full['status']} error={full.get('error')} steps={steps}")
        invoices = [i for i in await self.invoices() if str(i.get("Reference", "")).startswith("kartra-")]
        per_ref = Counter(i["Reference"] for i in invoices)
        for ref in [ref for ref, n in per_ref.items() if n > 1][:limit]:
            same = [
                f"{i['InvoiceID']} at {i.get('UpdatedDateUTCString')}"
                for i in invoices
                if i["Reference"] == ref
            ]
            lines.append(f"invoice {ref} x{len(same)}: {', '.join(same)}")
        return "\n".join(lines)

    async def audit(self, name: str, recover_seconds: float) -> Report:
        runs = await self.runs()
        per_tx = Counter(str(r["trigger"]["transaction"]["id"]) for r in runs)
        accepted = [p for p in self.purchases if p.accepted]
        invoices = [i for i in await self.invoices() if str(i.get("Reference", "")).startswith("kartra-")]
        per_ref = Counter(i["Reference"] for i in invoices)
        keys = await self.invoice_create_keys()
        not_paid = sum(1 for i in invoices if len(i.get("Payments") or []) != 1 and i.get("Status") != "PAID")
        not_succeeded = Counter(
            (r["status"] if r["status"] != "failed" else f"failed:{_failure_code(r)}")
            for r in runs
            if r["status"] != "succeeded"
        )
        succeeded_tx = {str(r["trigger"]["transaction"]["id"]) for r in runs if r["status"] == "succeeded"}
        return Report(
            drill=name,
            sent=len(self.purchases),
            accepted=len(accepted),
            runs=len(runs),
            duplicates=sum(1 for n in per_tx.values() if n > 1),
            losses=sum(1 for p in accepted if per_tx[p.transaction_id] == 0),
            not_succeeded=dict(not_succeeded),
            invoices=len(invoices),
            invoice_duplicates=sum(n - 1 for n in per_ref.values() if n > 1)
            + max(0, len(invoices) - len(keys))
            + sum(1 for tx in succeeded_tx if per_ref[f"kartra-{tx}"] != 1),
            payments_missing=not_paid,
            dlq=await self.dlq_records(),
            recover_seconds=recover_seconds,
        )


def _failure_code(run: dict[str, Any]) -> str:
    for error in [
        run.get("error") or {},
        *((s.get("error") or {}) for s in (run.get("steps") or {}).values()),
    ]:
        if error:
            return str(error.get("code") or error.get("http_status") or "?")
    return "?"


async def until_ready(system: Any, name: str, timeout: float = 60) -> None:
    async with httpx.AsyncClient(timeout=3) as http:

        async def ready() -> bool:
            try:
                return (await http.get(f"{system.url(name)}/readyz")).status_code == 200
            except httpx.HTTPError:
                return False

        await wait_for(ready, timeout=timeout, interval=0.2, message=f"{name} ready")


async def dlq_records(bootstrap: str, prefix: str) -> int:
    """Records in every dead-letter topic whose name starts with ``prefix``.

    Partitions come from the admin client: a plain consumer that has not subscribed knows no
    partitions of a topic (``partitions_for_topic`` is ``None``), which once made this always 0.
    """
    from aiokafka import AIOKafkaConsumer
    from aiokafka.admin import AIOKafkaAdminClient
    from aiokafka.structs import TopicPartition

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        names = [t for t in await admin.list_topics() if t.startswith(prefix) and t.endswith(".dlq")]
        meta = await admin.describe_topics(names) if names else []
    finally:
        await admin.close()
    parts = [TopicPartition(m["topic"], p["partition"]) for m in meta for p in m["partitions"]]
    if not parts:
        return 0
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await consumer.start()
    try:
        return sum((await consumer.end_offsets(parts)).values())
    finally:
        await consumer.stop()
