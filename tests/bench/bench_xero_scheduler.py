"""Benchmark of the Xero scheduler: budget utilisation and hydration throughput beside the
theoretical limits (60 calls/min per organisation, 10,000/min per app) and a raw floor.

Runs the real sandbox over loopback HTTP (OpenAPI validation on) at an accelerated clock and the
gateway's real ``XeroApi`` + ``Scheduler`` (token lookup stubbed: tokens are not what is measured).

* raw floor: plain httpx calls to a sandbox without rate limits, 5 in flight per organisation;
* actions: every organisation gets a backlog bigger than its budget for the measured minutes;
  reports calls per virtual minute per organisation / 60, app-wide calls / 10,000, 429s;
* hydration: ``GET /Invoices?IDs=`` batches of 50 at hydration priority; resources hydrated per
  virtual minute per organisation beside 60 × 50.

``uv run python tests/bench/bench_xero_scheduler.py [--smoke] [--orgs 20] [--speed 300] [--minutes 3]``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
from pymongo import AsyncMongoClient

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: asgi_server

from asgi_server import serve

from kxflow_contracts.runtime.shared_limits import SharedRateLimits
from kxflow_sandboxes.xero import SandboxConfig
from kxflow_sandboxes.xero import create_app as create_sandbox
from kxflow_sandboxes.xero.accounting import create
from kxflow_sandboxes.xero.state import RESOURCES
from xero_gateway.adapters.repositories import Connection
from xero_gateway.adapters.xero_api import XeroApi
from xero_gateway.domain.budget import AppBudget, OrgBudget, Priority
from xero_gateway.domain.clock import Clock
from xero_gateway.service_layer.scheduler import Scheduler

BATCH = 50


class StaticTokens:
    """The token edge of ``XeroApi``: one grant's access token (refresh is not measured here)."""

    def __init__(self, token: str) -> None:
        self.token = token

    async def access_token(self, conn: Connection, stale: str | None = None) -> str:
        return self.token

    async def mark_needs_reauth(self, token_set_id: str, reason: str) -> None:
        raise RuntimeError(reason)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def grant(sandbox: Any) -> tuple[str, list[str]]:
    tenants = list(sandbox.orgs)
    code = sandbox.identity.authorize(
        tenants, "accounting.invoices", "http://localhost/cb", sandbox.clock.now()
    )
    return sandbox.identity.exchange_code(code, "http://localhost/cb", sandbox.clock.now())[
        "access_token"
    ], tenants


async def raw_floor(orgs: int, calls_per_org: int) -> dict[str, float]:
    cfg = SandboxConfig(
        orgs=[(f"Org {i}", "AU") for i in range(orgs)], per_minute=10**9, app_per_minute=10**9
    )
    app = create_sandbox(cfg)
    token, tenants = grant(app.state.sandbox)
    latencies: list[float] = []
    async with serve(app) as url, httpx.AsyncClient(base_url=url, timeout=30) as client:

        async def worker(tenant: str, n: int) -> None:
            for _ in range(n):
                t = time.perf_counter()
                res = await client.get(
                    "/api.xro/2.0/Organisation",
                    headers={
                        "Authorization": f"Bearer {token}",
                        "xero-tenant-id": tenant,
                        "Accept": "application/json",
                    },
                )
                res.raise_for_status()
                latencies.append((time.perf_counter() - t) * 1000)

        start = time.perf_counter()
        await asyncio.gather(*(worker(t, calls_per_org // 5) for t in tenants for _ in range(5)))
        elapsed = time.perf_counter() - start
    return {"calls_per_s": len(latencies) / elapsed, "p50": pct(latencies, 0.5), "p99": pct(latencies, 0.99)}


async def _phase(
    apis: list[XeroApi],
    conns: list[Connection],
    sandbox: Any,
    clock: Clock,
    priority: Priority,
    minutes: float,
    hydrate: bool,
) -> dict[str, Any]:
    """Backlog every organisation beyond what ``minutes`` can take, spread over ``apis`` (the
    replicas); count what the sandbox served per virtual minute."""
    sandbox.call_times.clear()
    sandbox.stats.rate_limited = 0
    latencies: list[float] = []
    backlog = int(60 * minutes) + 60

    async def one(api: XeroApi, conn: Connection, ids: str | None) -> None:
        t = time.perf_counter()
        params = {"IDs": ids} if ids else None
        path = "/api.xro/2.0/Invoices" if ids else "/api.xro/2.0/Organisation"
        res = await api.call(conn, "GET", path, params=params, priority=priority)
        res.raise_for_status()
        latencies.append((time.perf_counter() - t) * 1000)

    ids_of = {
        c.xero_tenant_id: ",".join(list(sandbox.orgs[c.xero_tenant_id].coll("Invoices"))[:BATCH])
        for c in conns
    }
    started = clock.now()
    tasks = [
        asyncio.create_task(one(apis[n % len(apis)], c, ids_of[c.xero_tenant_id] if hydrate else None))
        for c in conns
        for n in range(backlog)
    ]
    await asyncio.sleep(clock.real(60 * minutes))  # the measured window is the behaviour
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    window = (clock.now() - started) / 60
    per_org = [len(sandbox.call_times.get(c.xero_tenant_id, [])) / window for c in conns]
    return {
        "per_org_per_min": statistics.mean(per_org),
        "min_org_per_min": min(per_org),
        "app_per_min": sum(per_org),
        "rate_limited": sandbox.stats.rate_limited,
        "p50": pct(latencies, 0.5),
        "p99": pct(latencies, 0.99),
    }


def _scheduler(clock: Clock, shared: SharedRateLimits | None = None) -> Scheduler:
    return Scheduler(clock, lambda: OrgBudget(60, 5000, 5, 1.0), AppBudget(10_000, 1.0), shared)


async def scheduled(orgs: int, speed: float, minutes: float, mongodb_url: str | None) -> dict[str, Any]:
    cfg = SandboxConfig(orgs=[(f"Org {i}", "AU") for i in range(orgs)], clock_speed=speed)
    app = create_sandbox(cfg)
    sandbox = app.state.sandbox
    token, tenants = grant(sandbox)
    for tenant in tenants:  # invoices for the hydration phase
        org = sandbox.orgs[tenant]
        contact = create(org, RESOURCES["Contacts"], {"Name": "Bench"})["ContactID"]
        for _ in range(BATCH):
            create(
                org,
                RESOURCES["Invoices"],
                {"Type": "ACCREC", "Contact": {"ContactID": contact}, "LineItems": []},
            )
    clock = Clock(speed)
    conns = [Connection("bench", f"c{i}", t, f"Org {i}", "ts") for i, t in enumerate(tenants)]
    out: dict[str, Any] = {}
    async with serve(app) as url, httpx.AsyncClient(timeout=30) as http:
        api = XeroApi(http, url, _scheduler(clock), StaticTokens(token))  # type: ignore[arg-type]
        out["actions"] = await _phase([api], conns, sandbox, clock, Priority.action, minutes, False)
        out["hydration"] = await _phase([api], conns, sandbox, clock, Priority.hydration, minutes, True)
        if mongodb_url:
            # Two replicas sharing every organisation's backlog and budget through MongoDB. They
            # start fresh, as after a quiet minute: Xero's window must not still hold the
            # hydration phase's calls, which these replicas never made.
            sandbox.clock.advance(2 * 61)
            # A third of the clock, at most 10×: both replicas and the sandbox share this one
            # process, and each call now also costs MongoDB round trips (CPU here, real time
            # that a fast clock magnifies into virtual seconds no production replica loses).
            shared_speed = round(min(speed / 3, 10.0), 1)
            sandbox.clock.set_speed(shared_speed)
            shared_clock = Clock(shared_speed)
            db = f"kxbench_shared_{uuid.uuid4().hex[:8]}"
            clients = [AsyncMongoClient(mongodb_url) for _ in range(2)]
            try:
                shared = [
                    SharedRateLimits(c[db]["shared_limits"], shared_clock.common, shared_clock.sleep)
                    for c in clients
                ]
                await shared[0].ensure_indexes()
                replicas = [
                    XeroApi(http, url, _scheduler(shared_clock, s), StaticTokens(token))  # type: ignore[arg-type]
                    for s in shared
                ]
                out["actions_shared"] = await _phase(
                    replicas, conns, sandbox, shared_clock, Priority.action, minutes, False
                )
                out["actions_shared"]["speed"] = shared_speed
            finally:
                await clients[0].drop_database(db)
                for c in clients:
                    await c.close()
        out["openapi_rejections"] = sandbox.stats.openapi_rejections
    return out


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--orgs", type=int, default=20)
    parser.add_argument("--speed", type=float, default=0.0, help="clock speed; 0 = a third of the raw floor")
    parser.add_argument("--minutes", type=float, default=3.0)
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument(
        "--mongodb-url",
        default=os.environ.get("MONGODB_URL"),
        help="also measure two replicas sharing the budgets through this MongoDB (default: $MONGODB_URL)",
    )
    args = parser.parse_args()
    if args.smoke:
        args.orgs, args.minutes = 3, 2.0
    floor = await raw_floor(args.orgs, 100 if args.smoke else 500)
    # Keep the theoretical load (orgs × 60/min at this speed) well under what the sandbox can
    # serve, so the figures measure the scheduler and not the fake Xero.
    args.speed = args.speed or max(1.0, round(floor["calls_per_s"] / 3 / args.orgs, 1))
    result = await scheduled(args.orgs, args.speed, args.minutes, args.mongodb_url)
    a, h = result["actions"], result["hydration"]
    limit_org, limit_app = 60, min(10_000, 60 * args.orgs)
    print(f"orgs {args.orgs}, clock {args.speed}x, {args.minutes} virtual minutes per phase")
    print(
        f"raw floor (httpx → sandbox, no scheduler, no limits): {floor['calls_per_s']:.0f} calls/s, "
        f"p50 {floor['p50']:.1f} ms, p99 {floor['p99']:.1f} ms"
    )
    print(
        f"actions: {a['per_org_per_min']:.1f} calls/min per org (min {a['min_org_per_min']:.1f}) "
        f"of {limit_org} = {a['per_org_per_min'] / limit_org:.1%} budget utilisation; "
        f"app {a['app_per_min']:.0f}/min "
        f"of {limit_app} reachable (app cap 10,000); 429s {a['rate_limited']}; "
        f"latency incl. budget wait p50 {a['p50']:.0f} ms p99 {a['p99']:.0f} ms (real)"
    )
    print(
        f"hydration: {h['per_org_per_min'] * BATCH:.0f} resources/min per org "
        f"of {limit_org * BATCH} theoretical "
        f"({h['per_org_per_min'] / limit_org:.1%}); {h['app_per_min'] * BATCH:.0f} resources/min app-wide; "
        f"429s {h['rate_limited']}"
    )
    shared = result.get("actions_shared")
    if shared:
        print(
            f"actions, 2 replicas sharing budgets through MongoDB (clock {shared['speed']}×): "
            f"{shared['per_org_per_min']:.1f} "
            f"calls/min per org (min {shared['min_org_per_min']:.1f}) of {limit_org} = "
            f"{shared['per_org_per_min'] / limit_org:.1%} budget utilisation; 429s {shared['rate_limited']}; "
            f"latency incl. budget wait p50 {shared['p50']:.0f} ms p99 {shared['p99']:.0f} ms (real)"
        )
    print(f"openapi rejections {result['openapi_rejections']}; max RSS {rss_mb():.0f} MB")
    if args.json:
        sizes = {"orgs": args.orgs, "speed": args.speed, "minutes": args.minutes, "batch": BATCH}
        limits = {"limit_per_org_per_min": limit_org, "limit_app_per_min": limit_app}
        figures = {**sizes, **limits, "floor": floor, **result, "max_rss_mb": rss_mb()}
        args.json.write_text(json.dumps(figures, indent=2))
    if (
        a["rate_limited"]
        or h["rate_limited"]
        or (shared or {}).get("rate_limited")
        or result["openapi_rejections"]
    ):
        raise SystemExit("the scheduler drew 429s or sent requests the spec rejects")


if __name__ == "__main__":
    asyncio.run(main())
