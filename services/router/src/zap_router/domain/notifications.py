"""Notification rules and messages (pure): which run events, dead letters and connection states a
rule wants, when a rule's pending notifications are sent, and how one notification or a burst of
them (a digest) reads.

A rule belongs to a tenant, optionally to one zap, lists the kinds it wants and one channel
(a Slack-compatible webhook or an e-mail address). The notifier stores one *item* per (rule, event)
and sends a rule's pending items together: one item is one message, several are one digest.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, field_validator

from kxflow_contracts.runs import CANCELLED, HANDLED, RunStatus, RunTransition
from kxflow_contracts.topics import DLQ_SUFFIX

DIGEST_LINES = 20  # a digest lists this many items, then says how many more there were


class Kind(StrEnum):
    run_failed = "run_failed"
    run_halted = "run_halted"
    run_handled = "run_handled"  # a step failed and its on_error branch ran (DESIGN.md §4.1)
    zap_at_risk = "zap_at_risk"  # warned before the auto-disable rule turns the zap off
    zap_disabled = "zap_disabled"
    connection_needs_reauth = "connection_needs_reauth"
    dead_letters = "dead_letters"


class Channel(StrEnum):
    webhook = "webhook"
    email = "email"


class RuleSpec(BaseModel):
    """The body of ``POST /v1/notifications/rules``."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    zap_id: str | None = Field(default=None, max_length=100, description="Only this zap's events (runs, zap)")
    kinds: list[Kind] = Field(min_length=1, max_length=len(Kind))
    channel: Channel
    target: str = Field(min_length=3, max_length=500, description="Webhook URL or e-mail address")
    enabled: bool = True

    @field_validator("target")
    @classmethod
    def _target(cls, value: str, info: Any) -> str:
        channel = info.data.get("channel")
        if channel == Channel.webhook:
            url = HttpUrl(value)
            if url.scheme not in ("http", "https"):
                raise ValueError("a webhook target must be an http(s) URL")
        elif channel == Channel.email and ("@" not in value or any(c in value for c in " \r\n,;<>")):
            raise ValueError("an email target must be one address, e.g. ops@example.com")
        return value


@dataclass(frozen=True)
class Notice:
    """One thing worth telling: ``key`` makes it unique (a run event's ce_id, or a derived key)."""

    key: str
    tenant: str
    kind: Kind
    zap_id: str | None
    title: str
    text: str
    run_id: str | None = None
    at: datetime | None = None


def notice_from_run_event(ce_id: str, data: dict[str, Any]) -> Notice | None:
    """A run lifecycle event (``kxflow.runs.v1``) as a notice, or ``None`` if nobody is told of it."""
    transition, status = data.get("transition"), data.get("status")
    if data.get("status_detail") == CANCELLED:
        return None  # a person (or turning the zap off) stopped it: nobody needs telling
    error = data.get("error") or {}
    run_id, zap_id = data.get("run_id"), data.get("zap_id")
    reason = f"{error.get('code', 'error')}: {error.get('message', '')}".strip(": ") if error else ""
    if transition == RunTransition.finished and data.get("status_detail") == HANDLED:
        kind, title = (
            Kind.run_handled,
            f"Run {run_id} of zap {zap_id} failed and was handled by its error branch",
        )
    elif transition == RunTransition.finished and status == RunStatus.failed:
        kind, title = Kind.run_failed, f"Run {run_id} of zap {zap_id} failed"
    elif transition == RunTransition.finished and status == RunStatus.halted:
        kind, title = Kind.run_halted, f"Run {run_id} of zap {zap_id} halted"
    elif transition == RunTransition.zap_disabled:
        kind, title = Kind.zap_disabled, f"Zap {zap_id} was turned off"
    else:
        return None
    return Notice(
        key=ce_id,
        tenant=str(data.get("tenant", "")),
        kind=kind,
        zap_id=zap_id,
        title=title,
        text=reason,
        run_id=run_id,
    )


def notice_from_dead_letter(
    topic: str, partition: int, offset: int, headers: dict[str, str]
) -> Notice | None:
    """A record on a ``*.dlq`` topic as a notice for its tenant (``ce_tenant``), or ``None`` when it
    names no tenant (bytes nobody could decode: the platform's DLQ alert covers those).

    Keyed by the record's place in the DLQ, so a redelivered or re-read record is the same notice.
    """
    tenant = headers.get("ce_tenant", "").strip()
    if not tenant:
        return None
    original = headers.get("x-original-topic") or topic.removesuffix(DLQ_SUFFIX)
    reason = f"{headers.get('x-error-class', 'error')}: {headers.get('x-error-message', '')}".strip(": ")
    what = headers.get("ce_type") or "a message"
    return Notice(
        key=f"dlq:{topic}:{partition}:{offset}",
        tenant=tenant,
        kind=Kind.dead_letters,
        zap_id=None,
        title=f"A dead letter on {topic}: {what} from {original} could not be processed",
        text=reason[:500],
    )


def notices_from_connections(tenant: str, connections: list[dict[str, Any]], day: date) -> list[Notice]:
    """One notice per connection that needs re-authorisation, per day it stays so (a reminder a
    day, as Zapier's; the key makes every replica and every check of that day the same notice)."""
    out: list[Notice] = []
    for conn in connections:
        if conn.get("status") != "needs_reauth" or not conn.get("id"):
            continue
        app, cid = str(conn.get("app", "")), str(conn["id"])
        name = str(conn.get("name") or cid)
        reason = str(conn.get("status_reason") or "")
        out.append(
            Notice(
                key=f"needs_reauth:{app}:{cid}:{day.isoformat()}",
                tenant=tenant,
                kind=Kind.connection_needs_reauth,
                zap_id=None,
                title=f"The {app.capitalize()} connection {name} needs re-authorisation",
                text=(reason + " — " if reason else "") + "its runs fail until someone connects it again",
            )
        )
    return out


def rule_wants(rule: dict[str, Any], notice: Notice) -> bool:
    if not rule.get("enabled", True) or rule["tenant"] != notice.tenant:
        return False
    if notice.kind not in rule["kinds"]:
        return False
    return rule.get("zap_id") in (None, notice.zap_id)


@dataclass(frozen=True)
class FlushPolicy:
    """At most one message per rule every ``min_interval``; a burst is held until it has been quiet
    for ``settle`` (or its oldest item waited ``max_delay``) and then goes out as one digest."""

    min_interval: timedelta = timedelta(seconds=60)
    settle: timedelta = timedelta(seconds=5)
    max_delay: timedelta = timedelta(seconds=120)

    def due(self, oldest: datetime, newest: datetime, last_sent: datetime | None, now: datetime) -> bool:
        if last_sent is not None and now - last_sent < self.min_interval:
            return False
        return now - newest >= self.settle or now - oldest >= self.max_delay


@dataclass(frozen=True)
class Message:
    subject: str
    text: str
    count: int

    def slack(self) -> dict[str, Any]:
        """Slack-compatible incoming-webhook JSON (``text`` is enough; ``blocks`` for layout)."""
        return {
            "text": f"{self.subject}\n{self.text}",
            "blocks": [
                {"type": "header", "text": {"type": "plain_text", "text": self.subject[:150]}},
                {"type": "section", "text": {"type": "mrkdwn", "text": self.text[:2900] or "-"}},
            ],
            "kxflow": {"count": self.count},
        }


def compose(rule_name: str, items: list[dict[str, Any]], console_url: str | None = None) -> Message:
    """One item → its own message; several → one digest listing the first ``DIGEST_LINES``."""
    if len(items) == 1:
        item = items[0]
        link = f"\n{console_url}/runs/{item['run_id']}" if console_url and item.get("run_id") else ""
        return Message(f"[kxflow] {item['title']}", (item.get("text") or "") + link, 1)
    kinds: dict[str, int] = {}
    for item in items:
        kinds[item["kind"]] = kinds.get(item["kind"], 0) + 1
    summary = ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in sorted(kinds.items()))
    lines = [f"• {i['title']}" + (f" — {i['text']}" if i.get("text") else "") for i in items[:DIGEST_LINES]]
    if len(items) > DIGEST_LINES:
        lines.append(f"… and {len(items) - DIGEST_LINES} more")
    if console_url:
        lines.append(f"{console_url}/runs")
    return Message(
        f"[kxflow] {rule_name}: {len(items)} notifications ({summary})", "\n".join(lines), len(items)
    )
