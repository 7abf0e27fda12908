"""The one way a service makes its MongoDB client, with opt-in store command counting.

``STORE_COMMAND_METRICS=true`` (a ``ServiceSettings`` field) adds a PyMongo command listener that
counts every command the client sends, ``kxflow_store_commands_total{command,collection}`` in the
service's own registry (so ``/metrics`` serves it). ``make bench`` turns it on to report store
commands per purchase by service and command (issue 13). Off (the default), the client has no
listener at all: PyMongo skips its monitoring path entirely, nothing is paid on the hot path.
"""

from __future__ import annotations

import re
from typing import Any

from prometheus_client import CollectorRegistry, Counter
from pymongo import AsyncMongoClient, monitoring

# Run shards (``runs_0`` … ``runs_15``) are one collection for the count: bounded label values.
_SHARD = re.compile(r"_\d+$")
# Commands whose first value is not a collection name.
_NO_COLLECTION = frozenset({"ping", "hello", "ismaster", "isMaster", "endSessions", "buildInfo", "saslStart"})


class StoreCommandCounter(monitoring.CommandListener):
    """Counts commands as they start (the count is of round trips, failed ones included)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.counter = Counter(
            "kxflow_store_commands",
            "MongoDB commands sent by this process, by command and collection (STORE_COMMAND_METRICS)",
            ["command", "collection"],
            registry=registry,
        )

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        name = event.command_name
        target = event.command.get(name) if name not in _NO_COLLECTION else None
        collection = _SHARD.sub("", target) if isinstance(target, str) else ""
        self.counter.labels(name, collection).inc()

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        """Counted when started."""

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        """Counted when started."""


def mongo_client(
    url: str, *, count_commands_in: CollectorRegistry | None = None, **options: Any
) -> AsyncMongoClient[Any]:
    """``AsyncMongoClient(url, **options)``; with ``count_commands_in`` a registry, every command
    is counted there (see the module docstring)."""
    if count_commands_in is not None:
        options["event_listeners"] = [
            *options.get("event_listeners", []),
            StoreCommandCounter(count_commands_in),
        ]
    return AsyncMongoClient(url, **options)
