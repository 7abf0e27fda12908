"""The notifier: run events, dead letters and connection states in, one message per rule per burst out.

``on_run_events`` turns a batch of ``kxflow.runs.v1`` records into items (one per matching rule,
deduplicated by the store's unique ``_id``) and returns; the batch then commits. Dead letters come
the same way from the ``*.dlq`` topics (``notice_from_dead_letter``); connections that need
re-authorisation are asked of the gateways every few minutes for the tenants whose rules want them
(``check_connections``: the gateways keep that state and publish no event of it). ``flush`` (every
``tick``) sends each rule whose items are due under the :class:`FlushPolicy`: one item as its own
message, a burst as one digest. Sending happens after the item is stored, so a crash can at worst
repeat a message whose ``sent`` mark was not written (at-least-once), never lose one.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Protocol

from zap_router.domain.clock import Clock
from zap_router.domain.health import AutoDisablePolicy, at_risk
from zap_router.domain.notifications import (
    FlushPolicy,
    Kind,
    Message,
    Notice,
    compose,
    notices_from_connections,
    rule_wants,
)

log = logging.getLogger("kxflow.router.notifier")


class Store(Protocol):
    async def list_rules(self, tenant: str | None = None) -> list[dict[str, Any]]: ...
    async def add_items(self, docs: list[dict[str, Any]]) -> int: ...
    async def pending(self) -> list[dict[str, Any]]: ...
    async def take_send_slot(self, rule_id: str, last_sent: datetime | None, now: datetime) -> bool: ...
    async def claim(self, rule_id: str, now: datetime) -> tuple[str, list[dict[str, Any]]]: ...
    async def finish(self, token: str, sent: bool, now: datetime) -> None: ...
    async def release_stale(self, before: datetime) -> int: ...
    async def purge_sent(self, before: datetime) -> int: ...


class Sender(Protocol):
    async def send(self, channel: str, target: str, message: Message) -> None: ...


class ConnectionStates(Protocol):
    async def connections(self, tenant: str) -> list[dict[str, Any]]:
        """The tenant's connections of every gateway (``id``, ``app``, ``name``, ``status``, …)."""
        ...


class Outcomes(Protocol):
    async def count_outcomes(self, zap_id: str, since: datetime) -> tuple[int, int]: ...


@dataclass
class Notifier:
    store: Store
    sender: Sender
    clock: Clock
    policy: FlushPolicy = field(default_factory=FlushPolicy)
    health: AutoDisablePolicy = field(default_factory=AutoDisablePolicy)
    outcomes: Outcomes | None = None
    connections: ConnectionStates | None = None
    console_url: str | None = None
    rules_ttl: timedelta = timedelta(seconds=10)
    stale_claim: timedelta = timedelta(minutes=10)
    keep_sent: timedelta = timedelta(days=30)
    on_sent: Callable[[str], None] = lambda outcome: None  # "single", "digest" or "failed" (metrics)
    _rules: list[dict[str, Any]] = field(default_factory=list)
    _rules_at: datetime | None = None
    _failures: Counter[str] = field(default_factory=Counter)

    async def rules(self) -> list[dict[str, Any]]:
        now = self.clock.now()
        if self._rules_at is None or now - self._rules_at >= self.rules_ttl:
            self._rules, self._rules_at = await self.store.list_rules(), now
        return self._rules

    def forget_rules(self) -> None:
        """Rules changed through this replica's API: read them again at the next event."""
        self._rules_at = None

    async def on_notices(self, notices: list[Notice]) -> int:
        """Store an item per (matching rule, notice); how many were new."""
        rules = await self.rules()
        now = self.clock.now()
        docs = [
            {
                "_id": f"{rule['_id']}:{n.key}",
                "rule_id": rule["_id"],
                "tenant": n.tenant,
                "kind": n.kind.value,
                "zap_id": n.zap_id,
                "run_id": n.run_id,
                "title": n.title,
                "text": n.text[:1000],
                "state": "pending",
                "created_at": now,
            }
            for n in notices
            for rule in rules
            if rule_wants(rule, n)
        ]
        return await self.store.add_items(docs)

    async def warnings_for(self, notices: list[Notice]) -> list[Notice]:
        """A zap failing at the auto-disable ratio gets one warning a day before it is turned off.

        Counted on a zap's first failure seen here and every fifth after (counting runs scans on
        FerretDB), as the router's own auto-disable check does.
        """
        if self.outcomes is None:
            return []
        out: list[Notice] = []
        for n in notices:
            if n.kind != Kind.run_failed or not n.zap_id:
                continue
            seen = self._failures[n.zap_id]
            self._failures[n.zap_id] += 1
            if seen % 5:
                continue
            now = self.clock.now()
            total, failed = await self.outcomes.count_outcomes(n.zap_id, now - self.health.window)
            if at_risk(self.health, total, failed) and not self.health.should_disable(total, failed):
                out.append(
                    Notice(
                        key=f"zap_at_risk:{n.zap_id}:{date.isoformat(now.date())}",
                        tenant=n.tenant,
                        kind=Kind.zap_at_risk,
                        zap_id=n.zap_id,
                        title=f"Zap {n.zap_id} may be turned off soon",
                        text=(
                            f"{failed} of {total} runs failed; it is turned off above "
                            f"{self.health.min_runs} runs at {self.health.error_ratio:.0%} errors"
                        ),
                    )
                )
        return out

    async def check_connections(self) -> int:
        """Notices for connections needing re-authorisation, for tenants with a rule wanting them."""
        if self.connections is None:
            return 0
        rules = await self.rules()
        tenants = sorted(
            {
                r["tenant"]
                for r in rules
                if r.get("enabled", True) and Kind.connection_needs_reauth in r["kinds"]
            }
        )
        notices: list[Notice] = []
        today = self.clock.now().date()
        for tenant in tenants:
            try:
                found = await self.connections.connections(tenant)
            except Exception as exc:  # a gateway away: asked again at the next check
                log.warning("notifier: connections of %s unavailable (%s)", tenant, exc)
                continue
            notices += notices_from_connections(tenant, found, today)
        return await self.on_notices(notices) if notices else 0

    async def flush(self) -> int:
        """Send every due rule's pending items; how many messages were sent."""
        now = self.clock.now()
        await self.store.release_stale(now - self.stale_claim)
        pending = await self.store.pending()
        if not pending:
            return 0
        spans: dict[str, tuple[datetime, datetime]] = {}
        for item in pending:
            at = item["created_at"]
            lo, hi = spans.get(item["rule_id"], (at, at))
            spans[item["rule_id"]] = (min(lo, at), max(hi, at))
        rules = {r["_id"]: r for r in await self.store.list_rules()}
        messages = 0
        for rule_id, (oldest, newest) in spans.items():
            rule = rules.get(rule_id)
            if rule is None:
                continue  # deleted rule: its items stay pending until purged with it
            last = rule.get("last_sent_at")
            if not self.policy.due(oldest, newest, last, now):
                continue
            if not await self.store.take_send_slot(rule_id, last, now):
                continue  # another replica is sending this rule's items
            token, items = await self.store.claim(rule_id, now)
            if not items:
                continue
            message = compose(rule["name"], items, self.console_url)
            try:
                await self.sender.send(rule["channel"], rule["target"], message)
            except Exception as exc:  # any channel failure: keep the items for the next slot
                log.warning("notification rule %s: send failed (%s); kept for later", rule_id, exc)
                await self.store.finish(token, False, now)
                self.on_sent("failed")
                continue
            await self.store.finish(token, True, now)
            self.on_sent("digest" if len(items) > 1 else "single")
            messages += 1
        return messages

    async def purge(self) -> int:
        return await self.store.purge_sent(self.clock.now() - self.keep_sent)
