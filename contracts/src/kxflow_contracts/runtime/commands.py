"""The command-execution skeleton both gateways run (DESIGN.md §3, §8), written once.

One consumed command goes: decode (an undecodable record → DLQ) → ledger claim → (busy: try again
later; a known result: republish it) → execute through the gateway's port while the lease is
renewed → ledger complete → the result event (built here, once) → published. The gateway supplies
only an :class:`ActionPort` (what calling Kartra or Xero means); the Kafka side is
``runtime.keyed_consumer`` (per-key lanes, contiguous commits).

Deadlines: a command past its ``not_after`` is failed ``deadline_exceeded`` without any upstream
call. xero-gateway used to say ``deadline_passed``; that name is kept in the error's ``details``
(``aliases``) so a consumer matching the old code can still find it.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, Protocol

from opentelemetry import trace
from pydantic import ValidationError

from kxflow_contracts.commands import ActionCommand
from kxflow_contracts.envelope import CloudEvent, EnvelopeError, decode
from kxflow_contracts.results import (
    PROGRESS_TYPE,
    RESULT_TYPE,
    ActionError,
    ActionResult,
    CommandProgress,
    ResultStatus,
)
from kxflow_contracts.runtime.connections import KafkaTarget
from kxflow_contracts.runtime.keyed_consumer import KeyedConsumer
from kxflow_contracts.runtime.ledger import Claim, Decision
from kxflow_contracts.runtime.telemetry import traced_record_handler

DEADLINE_EXCEEDED = "deadline_exceeded"
DEADLINE_ALIASES = ("deadline_passed",)


class ActionFailed(Exception):
    """The port's way to end a command with a result other than success (the outcome is known)."""

    def __init__(self, error: ActionError, status: ResultStatus = ResultStatus.failed) -> None:
        super().__init__(error.message)
        self.error = error
        self.status = status


class ActionPort(Protocol):
    """What executing one command means for a gateway (calling Kartra, calling Xero)."""

    async def run(self, cmd: ActionCommand, reexecution: bool) -> dict[str, Any] | list[Any] | None:
        """The typed output (``None``: a search found nothing → ``not_found``). ``reexecution``:
        an earlier execution of this command may have reached upstream (a lost answer, a lease
        taken over). Raises :class:`ActionFailed` for a known failure."""
        ...

    def failure(self, cmd: ActionCommand, exc: Exception) -> ActionError | None:
        """The result error for any other exception, or ``None`` to let it propagate: the command
        is then not completed and is tried again (a store or broker away)."""
        ...


class CommandLedger(Protocol):
    """``runtime.ledger.ActionLedger``; ``tests/fakes`` holds an in-memory one."""

    async def claim(self, cmd: ActionCommand, owner: str = "") -> Claim: ...

    def keep(self, cmd: ActionCommand) -> AbstractAsyncContextManager[None]: ...

    async def complete(self, cmd: ActionCommand, result: ActionResult) -> None: ...


class ResultSink(Protocol):
    """Publishes one result event (acks=all) keyed by the run id."""

    async def publish(self, event: CloudEvent, key: str) -> None: ...


def result_event(cmd: ActionCommand, result: ActionResult, source: str) -> CloudEvent:
    """The result event; its id is stable per attempt, so a republished result has the same id."""
    return CloudEvent(
        id=f"{cmd.command_id}:{cmd.attempt}",
        source=source,
        type=RESULT_TYPE,
        subject=cmd.command_id,
        tenant=cmd.tenant,
        data=result,
    )


# A command that waits (for its organisation's API budget) longer than this is reported holding.
HOLDING_AFTER_S = 3.0
_holding: ContextVar[Callable[[str], Awaitable[None]] | None] = ContextVar("kxflow_holding", default=None)


@asynccontextmanager
async def holding_watch(detail: str, after_s: float | None = None) -> AsyncIterator[None]:
    """Around a wait of the command being executed (in this task): if it lasts longer than
    ``after_s``, the command's progress is published once as ``holding`` with ``detail``. Outside a
    command (a poll, a backfill) it does nothing."""
    report = _holding.get()
    if report is None:
        yield
        return
    delay = HOLDING_AFTER_S if after_s is None else after_s

    async def later() -> None:
        await asyncio.sleep(delay)  # a timer: the progress is said only if the wait lasts this long
        await report(detail)

    task = asyncio.create_task(later())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task


def progress_event(cmd: ActionCommand, progress: CommandProgress, source: str) -> CloudEvent:
    """The progress event; one id per command attempt and state (a duplicate is the same event)."""
    return CloudEvent(
        id=f"{cmd.command_id}:{cmd.attempt}:{progress.state}",
        source=source,
        type=PROGRESS_TYPE,
        subject=cmd.command_id,
        tenant=cmd.tenant,
        data=progress,
    )


def deadline_error(cmd: ActionCommand) -> ActionError | None:
    if cmd.not_after is None or cmd.not_after >= datetime.now(UTC):
        return None
    return ActionError(
        code=DEADLINE_EXCEEDED,
        message=f"command deadline {cmd.not_after.isoformat()} has passed",
        details={"not_after": cmd.not_after.isoformat(), "aliases": list(DEADLINE_ALIASES)},
    )


class CommandRunner:
    """The use case "execute one consumed command", the same for both gateways."""

    def __init__(
        self,
        ledger: CommandLedger,
        port: ActionPort,
        results: ResultSink,
        *,
        source: str,
        owner: str = "",
        on_result: Callable[[ActionCommand, ActionResult], None] | None = None,
    ) -> None:
        self._ledger = ledger
        self._port = port
        self._results = results
        self._source = source
        self._owner = owner or source.strip("/")
        self._on_result = on_result

    async def handle(self, cmd: ActionCommand) -> ActionResult | None:
        """The result, once durable and published; ``None`` when another consumer executes the
        command right now (busy: try again later)."""
        claim = await self._ledger.claim(cmd, self._owner)
        if claim.decision is Decision.busy:
            return None
        if claim.decision is Decision.replay and claim.result is not None:
            await self._publish(cmd, claim.result)  # the answer may have been lost: say it again
            return claim.result
        async with self._ledger.keep(cmd):
            result = await self.execute(cmd, reexecution=claim.previous_attempts > 0)
        await self._ledger.complete(cmd, result)
        await self._publish(cmd, result)
        return result

    async def execute(self, cmd: ActionCommand, reexecution: bool = False) -> ActionResult:
        """Run the port and turn what happened into an :class:`ActionResult` (no ledger, no Kafka)."""
        started = time.perf_counter()
        status, output, error = ResultStatus.succeeded, None, deadline_error(cmd)
        said: list[str] = []

        async def report_holding(detail: str) -> None:
            if said:
                return
            said.append(detail)
            progress = CommandProgress(
                command_id=cmd.command_id,
                run_id=cmd.run_id,
                step_id=cmd.step_id,
                attempt=cmd.attempt,
                since=datetime.now(UTC),
                detail=detail,
            )
            await self._results.publish(progress_event(cmd, progress, self._source), cmd.run_id)

        if error is not None:
            status = ResultStatus.failed
        else:
            token = _holding.set(report_holding)
            try:
                output = await self._port.run(cmd, reexecution)
                if output is None:
                    status = ResultStatus.not_found
            except ActionFailed as exc:
                status, error = exc.status, exc.error
            except Exception as exc:
                error = self._port.failure(cmd, exc)
                if error is None:
                    raise
                status = ResultStatus.failed
            finally:
                _holding.reset(token)
        return ActionResult(
            command_id=cmd.command_id,
            run_id=cmd.run_id,
            step_id=cmd.step_id,
            status=status,
            output=output,
            error=error,
            attempts=cmd.attempt,
            duration_ms=round((time.perf_counter() - started) * 1000, 3),
        )

    async def _publish(self, cmd: ActionCommand, result: ActionResult) -> None:
        await self._results.publish(result_event(cmd, result, self._source), cmd.run_id)
        if self._on_result is not None:
            self._on_result(cmd, result)


DeadLetter = Callable[[Any, BaseException], Awaitable[None]]


def command_record_handler(
    runner: CommandRunner, dead_letter: DeadLetter
) -> Callable[[Any], Awaitable[bool]]:
    """``handle(record) -> done`` for ``runtime.keyed_consumer``: a record that is not a command
    goes to the DLQ (done); a busy command answers False (the lane tries it again)."""

    async def handle(record: Any) -> bool:
        try:
            event = decode(record.value, record.headers or ())
            cmd = ActionCommand.model_validate(event.data)
        except (EnvelopeError, ValidationError) as exc:
            await dead_letter(record, exc)
            return True
        return await runner.handle(cmd) is not None

    return handle


def command_consumer(
    bootstrap_servers: KafkaTarget,
    topic: str,
    group_id: str,
    runner: CommandRunner,
    dead_letter: DeadLetter,
    tracer: trace.Tracer,
    *,
    per_key_workers: int,
    client_id: str,
    max_buffered_per_partition: int = 5000,
) -> KeyedConsumer:
    """A gateway's command consumer: one lane per connection (the record key
    ``{tenant}:{connection_id}``), ``per_key_workers`` wide (1 keeps a connection's order), each
    record processed in a span continuing the router's trace."""
    return KeyedConsumer(
        bootstrap_servers,
        topic,
        group_id,
        traced_record_handler(tracer, command_record_handler(runner, dead_letter)),
        per_key_workers=per_key_workers,
        max_buffered_per_partition=max_buffered_per_partition,
        client_id=client_id,
    )
