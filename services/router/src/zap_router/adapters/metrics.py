"""Prometheus metrics of the router (served at ``/metrics``)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class RouterMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self.events_in = Counter(
            "kxflow_router_events_total",
            "Trigger events consumed, by CloudEvents type and outcome (matched/unmatched/unknown)",
            ["type", "outcome"],
            registry=self.registry,
        )
        self.runs = Counter(
            "kxflow_router_runs_total", "Runs by final status", ["status"], registry=self.registry
        )
        self.step_latency = Histogram(
            "kxflow_router_step_seconds",
            "Time from dispatching a step's command to its result",
            ["action", "status"],
            registry=self.registry,
            buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
        )
        self.dead_letters = Counter(
            "kxflow_router_dead_letters_total", "Messages sent to a DLQ", ["topic"], registry=self.registry
        )
        self.commands = Counter(
            "kxflow_router_commands_total", "Commands emitted", ["app", "kind"], registry=self.registry
        )
        self.zaps_loaded = Gauge(
            "kxflow_router_index_zaps", "Enabled zaps in this replica's match index", registry=self.registry
        )

    def dead_letter(self, topic: str, _exc: BaseException | None = None) -> None:
        self.dead_letters.labels(topic).inc()
