"""Prometheus metrics of the gateway (own registry, served at ``/metrics``)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.minute_left = Gauge(
            "xero_budget_minute_remaining",
            "Calls left in the rolling minute per organisation",
            ["xero_tenant_id"],
            registry=self.registry,
        )
        self.day_left = Gauge(
            "xero_budget_day_remaining",
            "Calls left in the rolling day per organisation",
            ["xero_tenant_id"],
            registry=self.registry,
        )
        self.queued = Gauge(
            "xero_scheduler_queued",
            "Calls waiting for budget per organisation",
            ["xero_tenant_id"],
            registry=self.registry,
        )
        self.needs_reauth = Gauge(
            "xero_connections_needs_reauth", "Connections that need re-authorisation", registry=self.registry
        )
        self.throttled = Gauge(
            "xero_rate_limited_total_by_org",
            "429s received per organisation",
            ["xero_tenant_id"],
            registry=self.registry,
        )
        self.results = Counter(
            "xero_action_results_total", "Action results by status", ["status"], registry=self.registry
        )
        self.webhook_events = Counter(
            "xero_webhook_events_total", "Webhook events accepted", registry=self.registry
        )
        self.write_guard = Counter(
            "xero_write_guard_total",
            "Keyed writes past Xero's Idempotency-Key window: lookup_found, lookup_not_found, "
            "fresh_epoch (repeatable write sent again), outcome_unknown (refused)",
            ["outcome"],
            registry=self.registry,
        )
        self.dead_letters = Counter(
            "xero_dead_letters_total", "Messages sent to a DLQ", ["topic"], registry=self.registry
        )
