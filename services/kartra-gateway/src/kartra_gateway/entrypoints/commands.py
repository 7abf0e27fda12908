"""The consumer of ``kxflow.kartra.commands.v1`` (thin: the shared keyed consumer → the runner)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from opentelemetry import trace

from kxflow_contracts.runtime.commands import CommandRunner, command_record_handler
from kxflow_contracts.runtime.keyed_consumer import KeyedConsumer
from kxflow_contracts.runtime.telemetry import traced_record_handler


def command_consumer(
    bootstrap_servers: str,
    topic: str,
    group_id: str,
    runner: CommandRunner,
    dead_letter: Callable[[Any, BaseException], Awaitable[None]],
    tracer: trace.Tracer,
    *,
    per_key_workers: int,
    client_id: str,
) -> KeyedConsumer:
    """One lane per connection (the record key ``{tenant}:{connection_id}``): with one worker per
    lane a connection's commands run in their order, and one App's backlog delays no other."""
    return KeyedConsumer(
        bootstrap_servers,
        topic,
        group_id,
        traced_record_handler(tracer, command_record_handler(runner, dead_letter)),
        per_key_workers=per_key_workers,
        client_id=client_id,
    )
