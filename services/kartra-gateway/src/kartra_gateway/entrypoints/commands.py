"""FastStream subscriber for ``kxflow.kartra.commands.v1`` (thin: decode → executor)."""

from __future__ import annotations

from typing import Any

from faststream.kafka import KafkaBroker, KafkaMessage

from kartra_gateway.service_layer.execute import CommandExecutor
from kxflow_contracts.commands import ActionCommand
from kxflow_contracts.runtime.kafka import CONSUMER_DEFAULTS, decode_message


def register_command_consumer(
    broker: KafkaBroker, topic: str, group_id: str, executor: CommandExecutor, workers: int = 1
) -> None:
    extra = {"max_workers": workers} if workers > 1 else {}

    @broker.subscriber(topic, group_id=group_id, **CONSUMER_DEFAULTS, **extra)
    async def on_command(body: Any, msg: KafkaMessage) -> None:  # body: JSON-decoded value, unused
        event = decode_message(msg)  # EnvelopeError → DLQ
        cmd = ActionCommand.model_validate(event.data)  # ValidationError → DLQ
        await executor.handle(cmd)
