"""Polling triggers (resources Xero sends no webhook for), the reconciliation poll, backfills.

One lease per (connection, resource) in MongoDB, so exactly one replica polls it; one poll per
resource feeds every trigger on it (the router matches trigger parameters); the interval comes
from the organisation's daily budget (``domain.budget.poll_interval``). Cursors (the highest
``UpdatedDateUTC`` seen) and per-change dedupe keys live in MongoDB and survive restarts and
redeploys, so a change fires its trigger exactly once. What is polled is ``domain.polls``.
"""

from __future__ import annotations

import asyncio
import logging
import os
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from kxflow_contracts.runtime.dedupe import SeenKeys
from xero_gateway.adapters.repositories import Connection, Repositories
from xero_gateway.domain import msdate
from xero_gateway.domain import polls as p
from xero_gateway.domain.budget import poll_interval
from xero_gateway.domain.clock import Clock
from xero_gateway.domain.report_demand import ReportDemand
from xero_gateway.domain.webhooks import change_key

if TYPE_CHECKING:
    from xero_gateway.adapters.xero_api import XeroApi
    from xero_gateway.service_layer.hydrator import Hydrator
    from xero_gateway.settings import XeroGatewaySettings

log = logging.getLogger("xero_gateway.poller")
OVERLAP = timedelta(minutes=2)
PAGE = 100


class PollFailed(Exception):
    """Xero did not answer a poll (the cursor stays where it was; the next poll retries)."""


class Poller:
    def __init__(
        self,
        api: XeroApi,
        repos: Repositories,
        seen: SeenKeys,
        hydrator: Hydrator,
        settings: XeroGatewaySettings,
        clock: Clock,
        demand: ReportDemand | None = None,
    ) -> None:
        self.api = api
        self.repos = repos
        self.seen = seen
        self.hydrator = hydrator
        self.settings = settings
        self.clock = clock
        self.demand = demand if demand is not None else ReportDemand()
        self.owner = f"{os.getpid()}-{id(self)}"
        self.polls_done = 0

    def specs(self) -> list[p.PollSpec]:
        return [
            s
            for s in p.POLLS
            if (s.origin is not p.Origin.reconcile or self.settings.reconcile_enabled)
            and s.name not in self.settings.poll_disabled
        ]

    def report_types(self, conn: Connection) -> list[str]:
        """The configured report types, then those the connection's New Report zaps choose."""
        chosen = self.demand.types_for(conn.tenant, conn.connection_id)
        return list(dict.fromkeys([*self.settings.poll_report_types, *chosen]))

    def leases(self, conn: Connection, spec: p.PollSpec) -> list[tuple[str, str | None]]:
        """(lease key, report type) of each poll of ``spec``: one per report type for reports, so a
        type a zap has just chosen (no cursor yet) is due at once and each keeps its own schedule."""
        key = f"{conn.tenant}/{conn.connection_id}/{spec.name}"
        if spec.kind != "report":
            return [(key, None)]
        return [(f"{key}/{t}", t) for t in self.report_types(conn)]

    def interval(self, conn: Connection, spec: p.PollSpec) -> timedelta:
        seconds = poll_interval(
            conn.daily_limit or self.settings.per_day,
            len(self.specs()),
            self.settings.poll_budget_share,
            max(self.settings.poll_min_interval_seconds, spec.min_interval),
        )
        return timedelta(seconds=self.clock.real(seconds))

    async def run(self) -> None:
        while True:
            try:
                await self.tick()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("poll tick failed")
            await asyncio.sleep(self.settings.poll_tick_seconds)

    async def tick(self) -> int:
        """Poll every (connection, resource) that is due and not leased by another replica."""
        done = 0
        for conn in await self.repos.list():
            if conn.status != "active":
                continue
            for spec in self.specs():
                for key, report_type in self.leases(conn, spec):
                    done += await self._poll_leased(conn, spec, key, report_type)
        self.polls_done += done
        return done

    async def _poll_leased(
        self, conn: Connection, spec: p.PollSpec, key: str, report_type: str | None
    ) -> int:
        """Poll under the lease ``key`` if it is due and no other replica holds it (1 if polled)."""
        now = datetime.now(UTC)
        if not await self.repos.take_poll_lease(key, self.owner, now, now, 300):
            return 0
        cursor = await self.repos.cursor(key)
        watermark = cursor.get("watermark")
        try:
            watermark = await self.poll(conn, spec, watermark, report_type)
        except PollFailed as exc:
            log.warning("poll %s failed: %s", key, exc)
        finally:
            await self.repos.finish_poll(
                key,
                self.owner,
                datetime.now(UTC) + self.interval(conn, spec),
                **({"watermark": watermark} if watermark else {}),
            )
        return 1

    async def poll(
        self, conn: Connection, spec: p.PollSpec, watermark: str | None, report_type: str | None = None
    ) -> str | None:
        if spec.kind == "list":
            return await self.poll_list(conn, spec, watermark)
        if spec.kind == "overdue":
            await self._overdue(conn, spec)
        elif spec.kind == "payslips":
            return await self._payslips(conn, spec, watermark)
        elif spec.kind == "projects":
            await self._projects(conn, spec)
        elif spec.kind == "report":
            for one in [report_type] if report_type else self.report_types(conn):
                await self._report(conn, spec, one)
        return watermark

    async def _get(
        self, conn: Connection, spec: p.PollSpec, path: str, params: dict[str, str], since: datetime | None
    ) -> Any:
        headers = {"If-Modified-Since": msdate.http_date(since)} if since else {}
        res = await self.api.call(
            conn, "GET", path, params=params or None, headers=headers, priority=spec.priority
        )
        if res.status_code != 200:
            raise PollFailed(f"GET {path} answered {res.status_code}")
        return res.json()

    async def poll_list(
        self,
        conn: Connection,
        spec: p.PollSpec,
        watermark: str | None,
        *,
        since: datetime | None = None,
        key_scope: str = "",
        on_page: Any = None,
    ) -> str | None:
        """Every record changed since the watermark (minus an overlap), page by page."""
        best = msdate.parse(watermark) if watermark else None
        if since is None and best is not None:
            since = best - OVERLAP
        page = 1
        while True:
            params = {"page": str(page), **dict(spec.params)}
            if spec.page_size:
                params["pageSize"] = str(PAGE)
            items: list[dict[str, Any]] = (await self._get(conn, spec, spec.path, params, since)).get(
                spec.collection
            ) or []
            emitted = 0
            for item in items:
                emitted += await self.emit(conn, spec, item, key_scope=key_scope)
                updated = msdate.parse(item.get("UpdatedDateUTC"))
                if updated and (best is None or updated > best):
                    best = updated
            if on_page is not None:
                await on_page(page, len(items), emitted)
            if len(items) < PAGE:
                break
            page += 1
        return msdate.to_msdate(best) if best else watermark

    async def _overdue(self, conn: Connection, spec: p.PollSpec) -> None:
        today = datetime.now(UTC)
        page = 1
        while True:
            params = {
                "page": str(page),
                "pageSize": str(PAGE),
                **dict(spec.params),
                "where": p.overdue_where(today),
            }
            items = (await self._get(conn, spec, spec.path, params, None)).get(spec.collection) or []
            for invoice in items:
                days = p.overdue_days(invoice, today)
                for d in range(max(1, days - p.OVERDUE_CATCH_UP + 1), days + 1):
                    await self.emit(conn, spec, invoice, change=str(d), extra={"days_overdue": d})
            if len(items) < PAGE:
                break
            page += 1

    async def _payslips(self, conn: Connection, spec: p.PollSpec, watermark: str | None) -> str | None:
        best = msdate.parse(watermark) if watermark else None
        since = best - OVERLAP if best else None
        runs = (await self._get(conn, spec, spec.path, dict(spec.params), since)).get("PayRuns") or []
        for run in runs:
            # POSTED keeps the keys it had when only posted runs were polled (no re-emission after an
            # upgrade); a draft has its own, so the same run fires again once it is posted
            scope = p.pay_run_scope(run)
            seen_key = change_key(
                conn.tenant, conn.connection_id, "payrun", run["PayRunID"], f"{scope}fetched"
            )
            if await self.seen.contains(seen_key):
                continue
            full = (await self._get(conn, spec, f"{spec.path}/{run['PayRunID']}", {}, None)).get(
                "PayRuns"
            ) or [run]
            pay_run = {k: v for k, v in full[0].items() if k != "Payslips"}
            for slip in full[0].get("Payslips") or []:
                extra = {"pay_run": pay_run, **p.pay_run_period(pay_run)}
                await self.emit(conn, spec, slip, rid=slip["PayslipID"], extra=extra, key_scope=scope)
            await self.seen.first_time(seen_key)
            updated = msdate.parse(run.get("UpdatedDateUTC"))
            if updated and (best is None or updated > best):
                best = updated
        return msdate.to_msdate(best) if best else watermark

    async def _projects(self, conn: Connection, spec: p.PollSpec) -> None:
        page = 1
        while True:
            params = {"page": str(page), "pageSize": str(PAGE), **dict(spec.params)}
            body = await self._get(conn, spec, spec.path, params, None)
            for project in body.get("items") or []:
                await self.emit(conn, spec, project)
            if page >= int((body.get("pagination") or {}).get("pageCount") or 1):
                break
            page += 1

    async def _report(self, conn: Connection, spec: p.PollSpec, report_type: str) -> None:
        body = await self._get(conn, spec, f"{spec.path}/{report_type}", {}, None)
        for report in body.get("Reports") or []:
            await self.emit(
                conn,
                spec,
                report,
                rid=report_type,
                change=p.report_fingerprint(report),
                extra={"report_type": report_type},
            )

    async def emit(
        self,
        conn: Connection,
        spec: p.PollSpec,
        item: dict[str, Any],
        *,
        rid: str | None = None,
        change: str | None = None,
        extra: dict[str, Any] | None = None,
        key_scope: str = "",
    ) -> int:
        """Publish each trigger this record fires, once per change (dedupe keys in MongoDB)."""
        rid = str(rid or item.get(spec.id_field, "")).lower()
        published = 0
        for rule in spec.rules:
            if rule.when is not None and not rule.when(item):
                continue
            what = change if change is not None else p.change_of(item, rule.change_fields)
            key = change_key(conn.tenant, conn.connection_id, key_scope + rule.trigger, rid, what)
            if not await self.seen.first_time(key):
                continue
            try:
                await self.hydrator.publish(
                    conn.tenant,
                    conn.connection_id,
                    conn.xero_tenant_id,
                    rule.trigger,
                    spec.field,
                    item,
                    spec.origin,
                    key,
                    rid,
                    extra,
                )
            except BaseException:
                await self.seen.forget(key)
                raise
            published += 1
        return published
