"""In-memory fakes of the command-execution ports (``kxflow_contracts.runtime.commands``).

``FakeLedger`` keeps the action ledger's contract (DESIGN.md §3) in a dict, with a clock the test
moves, so redelivery, busy commands and lease takeovers are millisecond unit tests.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from kxflow_contracts.commands import ActionCommand
from kxflow_contracts.envelope import CloudEvent
from kxflow_contracts.results import ActionError, ActionResult, ResultStatus
from kxflow_contracts.runtime.commands import ActionFailed
from kxflow_contracts.runtime.ledger import Claim, Decision


@dataclass
class _Entry:
    state: str  # pending | done
    attempt: int
    owner: str
    lease_until: datetime | None
    executions: int = 1
    result: ActionResult | None = None


@dataclass
class FakeLedger:
    lease: timedelta = timedelta(seconds=30)
    now: Callable[[], datetime] = lambda: datetime.now(UTC)
    entries: dict[str, _Entry] = field(default_factory=dict)
    kept: list[str] = field(default_factory=list)

    async def claim(self, cmd: ActionCommand, owner: str = "") -> Claim:
        now = self.now()
        entry = self.entries.get(cmd.command_id)
        if entry is None:
            self.entries[cmd.command_id] = _Entry("pending", cmd.attempt, owner, now + self.lease)
            return Claim(Decision.execute)
        if entry.state == "done":
            assert entry.result is not None
            final = entry.result.status is not ResultStatus.failed
            if final or cmd.attempt <= entry.attempt:
                return Claim(Decision.replay, entry.result)
        elif entry.lease_until is not None and entry.lease_until > now:
            return Claim(Decision.busy)
        entry.state, entry.owner, entry.lease_until = "pending", owner, now + self.lease
        entry.attempt = max(entry.attempt, cmd.attempt)
        entry.executions += 1
        return Claim(Decision.execute, previous_attempts=entry.executions - 1)

    @contextlib.asynccontextmanager
    async def keep(self, cmd: ActionCommand) -> AsyncIterator[None]:
        self.kept.append(cmd.command_id)
        yield

    async def complete(self, cmd: ActionCommand, result: ActionResult) -> None:
        entry = self.entries[cmd.command_id]
        entry.state, entry.attempt, entry.result, entry.lease_until = "done", cmd.attempt, result, None


@dataclass
class FakeResults:
    """The published result events; ``fail_next`` loses the next publish (the broker away)."""

    published: list[tuple[CloudEvent, str]] = field(default_factory=list)
    fail_next: int = 0

    async def publish(self, event: CloudEvent, key: str) -> None:
        if self.fail_next:
            self.fail_next -= 1
            raise ConnectionError("broker unreachable")
        self.published.append((event, key))


@dataclass
class ScriptedPort:
    """An :class:`ActionPort` answering from a script: one entry per call, an output or an error.

    An ``ActionError`` entry fails the command; an exception instance is raised as is (mapped by
    ``failure``: ``transient`` exceptions propagate, others become ``internal_error``)."""

    script: list[Any] = field(default_factory=list)
    calls: list[tuple[str, bool]] = field(default_factory=list)
    transient: tuple[type[BaseException], ...] = (ConnectionError,)

    async def run(self, cmd: ActionCommand, reexecution: bool) -> dict[str, Any] | list[Any] | None:
        self.calls.append((cmd.command_id, reexecution))
        step = self.script.pop(0) if self.script else {"ok": True}
        if isinstance(step, ActionError):
            raise ActionFailed(step)
        if isinstance(step, BaseException):
            raise step
        return step

    def failure(self, cmd: ActionCommand, exc: Exception) -> ActionError | None:
        if isinstance(exc, self.transient):
            return None
        return ActionError(code="internal_error", message=f"{type(exc).__name__}: {exc}", retryable=True)


def make_command(**fields: Any) -> ActionCommand:
    """An action command for use-case tests: defaults for every field, ``fields`` override them."""
    defaults: dict[str, Any] = {
        "command_id": "c1",
        "tenant": "acme",
        "connection_id": "conn",
        "action": "demo.thing.create",
        "input": {},
        "run_id": "r1",
        "zap_id": "z1",
        "zap_version": 1,
        "step_id": "s1",
        "attempt": 1,
    }
    return ActionCommand.model_validate({**defaults, **fields})
