"""Prometheus metrics every service shares (each service keeps its own registry)."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter


def dead_letter_counter(registry: CollectorRegistry) -> Callable[[str, BaseException], None]:
    """``kxflow_dead_letters_total{topic,error}``, shaped as the DLQ middleware's ``on_dead_letter``."""
    counter = Counter(
        "kxflow_dead_letters",
        "Messages sent to <topic>.dlq, by original topic and error class",
        ["topic", "error"],
        registry=registry,
    )

    def count(topic: str, exc: BaseException) -> None:
        counter.labels(topic, type(exc).__name__).inc()

    return count
