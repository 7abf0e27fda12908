"""Topic names and their Kafka settings (DESIGN.md §2).

The ``kxflow.`` prefix is a setting: tests give each service a unique prefix so they never see each
other's messages, and a platform team can run two kxflow installations on one cluster.
"""

from __future__ import annotations

from dataclasses import dataclass, field

DEFAULT_PREFIX = "kxflow."
DLQ_SUFFIX = ".dlq"


@dataclass(frozen=True)
class TopicSpec:
    """One topic as it must exist on the cluster (also rendered into Strimzi KafkaTopics)."""

    name: str
    partitions: int = 12
    config: dict[str, str] = field(default_factory=dict)
    description: str = ""


_WEEK_MS = str(7 * 24 * 3600 * 1000)
_MONTH_MS = str(30 * 24 * 3600 * 1000)
_COMPACTED = {
    "cleanup.policy": "compact",
    "min.compaction.lag.ms": "0",
    "delete.retention.ms": "86400000",
    "segment.ms": "3600000",
}


@dataclass(frozen=True)
class Topics:
    """Every topic name of DESIGN.md §2 for one prefix."""

    prefix: str = DEFAULT_PREFIX

    @property
    def kartra_events(self) -> str:
        return f"{self.prefix}kartra.events.v1"

    @property
    def xero_events(self) -> str:
        return f"{self.prefix}xero.events.v1"

    @property
    def kartra_commands(self) -> str:
        return f"{self.prefix}kartra.commands.v1"

    @property
    def xero_commands(self) -> str:
        return f"{self.prefix}xero.commands.v1"

    @property
    def action_results(self) -> str:
        return f"{self.prefix}action-results.v1"

    @property
    def runs(self) -> str:
        return f"{self.prefix}runs.v1"

    @property
    def zaps(self) -> str:
        return f"{self.prefix}zaps.v1"

    @property
    def kartra_webhooks_raw(self) -> str:
        return f"{self.prefix}kartra.webhooks.raw.v1"

    @property
    def xero_webhooks_raw(self) -> str:
        return f"{self.prefix}xero.webhooks.raw.v1"

    def events_for(self, app: str) -> str:
        return {"kartra": self.kartra_events, "xero": self.xero_events}[app]

    def commands_for(self, app: str) -> str:
        return {"kartra": self.kartra_commands, "xero": self.xero_commands}[app]

    @staticmethod
    def dlq(topic: str) -> str:
        return f"{topic}{DLQ_SUFFIX}"

    def specs(self, partitions: int = 12) -> list[TopicSpec]:
        """Every topic with its settings; DLQs for every topic that is consumed."""
        week = {"retention.ms": _WEEK_MS}
        month = {"retention.ms": _MONTH_MS}
        base = [
            TopicSpec(self.kartra_events, partitions, month, "Normalized Kartra trigger events"),
            TopicSpec(self.xero_events, partitions, month, "Normalized Xero trigger events"),
            TopicSpec(self.kartra_commands, partitions, week, "Router → kartra-gateway action commands"),
            TopicSpec(self.xero_commands, partitions, week, "Router → xero-gateway action commands"),
            TopicSpec(self.action_results, partitions, week, "Gateways → router action results"),
            TopicSpec(self.runs, partitions, month, "Run lifecycle for other teams"),
            TopicSpec(self.zaps, 1, dict(_COMPACTED), "Compacted zap changelog (router replicas)"),
            TopicSpec(self.kartra_webhooks_raw, partitions, week, "Every accepted Kartra delivery, raw"),
            TopicSpec(self.xero_webhooks_raw, partitions, week, "Every accepted Xero delivery, raw"),
        ]
        consumed = [
            self.kartra_events,
            self.xero_events,
            self.kartra_commands,
            self.xero_commands,
            self.action_results,
            self.xero_webhooks_raw,
            self.runs,  # the notifier's consumer group
        ]
        dlqs = [TopicSpec(self.dlq(t), 3, month, f"Poison messages from {t}") for t in consumed]
        return base + dlqs
