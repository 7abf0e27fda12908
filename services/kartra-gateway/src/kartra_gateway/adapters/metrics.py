"""Prometheus metrics of the gateway (one registry per app instance, served at ``/metrics``)."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Histogram


@dataclass
class GatewayMetrics:
    registry: CollectorRegistry
    webhooks: Counter
    unknown_actions: Counter
    commands: Counter
    intake_seconds: Histogram

    @classmethod
    def create(cls, registry: CollectorRegistry | None = None) -> GatewayMetrics:
        registry = registry or CollectorRegistry()
        return cls(
            registry=registry,
            webhooks=Counter(
                "kartra_webhooks",
                "Kartra deliveries by channel and outcome",
                ["channel", "outcome"],
                registry=registry,
            ),
            unknown_actions=Counter(
                "kartra_unknown_actions",
                "Accepted deliveries with an action kxflow does not know",
                ["action"],
                registry=registry,
            ),
            commands=Counter(
                "kartra_commands",
                "Commands handled by action and result status",
                ["action", "status"],
                registry=registry,
            ),
            intake_seconds=Histogram(
                "kartra_intake_seconds",
                "Webhook intake latency (auth to Kafka acks)",
                ["channel"],
                registry=registry,
                buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0),
            ),
        )
