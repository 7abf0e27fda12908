"""The command-execution skeleton on in-memory fakes: redelivery, busy, lease takeover, lost
answers and deadlines, each a millisecond test (the same rules hold on real Kafka and FerretDB in
tests/integration/{kartra_gateway,xero_gateway})."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fakes.commands import FakeLedger, FakeResults, ScriptedPort
from waiting import wait_for

from kxflow_contracts.commands import ActionCommand
from kxflow_contracts.envelope import CloudEvent, encode
from kxflow_contracts.results import PROGRESS_TYPE, RESULT_TYPE, ActionError, CommandProgress, ResultStatus
from kxflow_contracts.runtime.commands import (
    DEADLINE_EXCEEDED,
    CommandRunner,
    command_record_handler,
    holding_watch,
)
from kxflow_contracts.runtime.lanes import Item, KeyedDispatcher


class Clock:
    def __init__(self) -> None:
        self.t = datetime(2026, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.t


def command(attempt: int = 1, **extra: object) -> ActionCommand:
    return ActionCommand.model_validate(
        {
            "command_id": "c1",
            "tenant": "t1",
            "connection_id": "conn",
            "action": "demo.thing.create",
            "run_id": "r1",
            "zap_id": "z1",
            "zap_version": 1,
            "step_id": "s1",
            "attempt": attempt,
            **extra,
        }
    )


def runner(ledger: FakeLedger, port: ScriptedPort, results: FakeResults) -> CommandRunner:
    return CommandRunner(ledger, port, results, source="/demo-gateway")


async def test_a_command_is_executed_once_and_its_result_published() -> None:
    ledger, port, results = FakeLedger(), ScriptedPort([{"id": 7}]), FakeResults()
    assert (await runner(ledger, port, results).handle(command())).output == {"id": 7}
    assert port.calls == [("c1", False)]
    assert ledger.kept == ["c1"]
    ((event, key),) = results.published
    assert (event.id, event.type, event.source, event.subject, key) == (
        "c1:1",
        RESULT_TYPE,
        "/demo-gateway",
        "c1",
        "r1",
    )
    assert event.data.status is ResultStatus.succeeded and event.data.output == {"id": 7}


async def test_a_redelivered_command_republishes_without_calling_upstream() -> None:
    ledger, port, results = FakeLedger(), ScriptedPort([{"id": 7}]), FakeResults()
    run = runner(ledger, port, results)
    await run.handle(command())
    assert await run.handle(command()) is not None
    assert len(port.calls) == 1
    assert [e.id for e, _ in results.published] == ["c1:1", "c1:1"]
    assert results.published[1][0].data == results.published[0][0].data


async def test_a_command_another_consumer_executes_is_busy() -> None:
    clock = Clock()
    ledger, port, results = FakeLedger(now=clock), ScriptedPort(), FakeResults()
    await ledger.claim(command(), "other-replica")  # its lease runs
    assert await runner(ledger, port, results).handle(command()) is None
    assert port.calls == [] and results.published == []


async def test_an_expired_lease_is_taken_over_and_executed_as_a_reexecution() -> None:
    clock = Clock()
    ledger, port, results = FakeLedger(now=clock), ScriptedPort([{"id": 7}]), FakeResults()
    await ledger.claim(command(), "died-mid-call")
    clock.t += timedelta(seconds=31)
    assert await runner(ledger, port, results).handle(command()) is not None
    assert port.calls == [("c1", True)]  # the port checks upstream before writing again
    assert ledger.entries["c1"].executions == 2 and ledger.entries["c1"].state == "done"


async def test_a_lost_answer_is_published_again_on_redelivery() -> None:
    ledger, port, results = FakeLedger(), ScriptedPort([{"id": 7}]), FakeResults(fail_next=1)
    run = runner(ledger, port, results)
    with pytest.raises(ConnectionError):
        await run.handle(command())  # executed and recorded, but the result never left
    assert ledger.entries["c1"].state == "done" and results.published == []
    assert await run.handle(command()) is not None  # the redelivered command
    assert len(port.calls) == 1
    assert [e.id for e, _ in results.published] == ["c1:1"]


async def test_a_transient_failure_leaves_the_command_to_be_tried_again() -> None:
    clock = Clock()
    ledger, results = FakeLedger(now=clock), FakeResults()
    port = ScriptedPort([ConnectionError("mongo away"), {"id": 7}])
    run = runner(ledger, port, results)
    with pytest.raises(ConnectionError):
        await run.handle(command())
    assert ledger.entries["c1"].state == "pending" and results.published == []
    clock.t += timedelta(seconds=31)
    assert await run.handle(command()) is not None
    assert port.calls == [("c1", False), ("c1", True)]


async def test_a_bug_in_the_port_ends_the_command_with_a_reason() -> None:
    ledger, port, results = FakeLedger(), ScriptedPort([KeyError("boom")]), FakeResults()
    await runner(ledger, port, results).handle(command())
    error = results.published[0][0].data.error
    assert (error.code, error.retryable) == ("internal_error", True)


async def test_a_failure_is_final_for_its_attempt_and_a_later_attempt_executes_again() -> None:
    ledger, results = FakeLedger(), FakeResults()
    port = ScriptedPort([ActionError(code="upstream_unavailable", message="503", retryable=True), {"id": 7}])
    run = runner(ledger, port, results)
    await run.handle(command(attempt=1))
    await run.handle(command(attempt=1))  # redelivery: the failure is republished
    await run.handle(command(attempt=2))  # the router's retry
    assert port.calls == [("c1", False), ("c1", True)]
    statuses = [(e.id, e.data.status) for e, _ in results.published]
    assert statuses == [
        ("c1:1", ResultStatus.failed),
        ("c1:1", ResultStatus.failed),
        ("c1:2", ResultStatus.succeeded),
    ]


async def test_a_command_past_its_deadline_fails_without_an_upstream_call() -> None:
    ledger, port, results = FakeLedger(), ScriptedPort(), FakeResults()
    past = datetime.now(UTC) - timedelta(seconds=1)
    await runner(ledger, port, results).handle(command(not_after=past.isoformat()))
    assert port.calls == []
    result = results.published[0][0].data
    assert result.status is ResultStatus.failed
    assert result.error.code == DEADLINE_EXCEEDED == "deadline_exceeded"
    assert result.error.details["aliases"] == ["deadline_passed"]  # xero-gateway's former name


async def test_a_search_that_finds_nothing_is_not_found() -> None:
    ledger, port, results = FakeLedger(), ScriptedPort([None]), FakeResults()
    await runner(ledger, port, results).handle(command())
    assert results.published[0][0].data.status is ResultStatus.not_found


class Record:
    def __init__(self, value: bytes, headers: list[tuple[str, bytes]], topic: str = "commands") -> None:
        self.value, self.headers, self.topic = value, headers, topic


async def test_the_record_handler_dead_letters_what_is_not_a_command() -> None:
    ledger, port, results = FakeLedger(), ScriptedPort(), FakeResults()
    dead: list[tuple[Record, BaseException]] = []

    async def dead_letter(record: Record, exc: BaseException) -> None:
        dead.append((record, exc))

    handle = command_record_handler(runner(ledger, port, results), dead_letter)
    assert await handle(Record(b"not json", [])) is True
    value, headers = encode(
        CloudEvent(id="e1", source="/router", type="kxflow.command.v1", tenant="t1", data={"x": 1})
    )
    assert await handle(Record(value, list(headers.items()))) is True  # a CloudEvent, not a command
    assert len(dead) == 2 and port.calls == []
    value, headers = encode(
        CloudEvent(id="e2", source="/router", type="kxflow.command.v1", tenant="t1", data=command())
    )
    assert await handle(Record(value, list(headers.items()))) is True
    assert port.calls == [("c1", False)]


async def test_a_busy_command_keeps_its_place_in_a_one_worker_lane() -> None:
    """Per-key order: a command retried after ``busy`` runs before the ones behind it."""
    order: list[int] = []
    busy_once = {1}

    async def handle(n: int) -> bool:
        if n in busy_once:
            busy_once.discard(n)
            return False
        order.append(n)
        return True

    lanes = KeyedDispatcher(handle, lambda p, o: None, per_key_workers=1, retry_delay=0.01)
    for n in range(4):
        lanes.submit("tenant:conn", Item("p0", n, n))
    await wait_for(lambda: len(order) == 4, timeout=5)
    assert order == [0, 1, 2, 3]
    await lanes.close()
    await asyncio.sleep(0)  # one loop turn for the cancelled workers' done-callbacks, not a wait


async def test_the_record_handler_answers_not_done_for_a_busy_command() -> None:
    ledger, port, results = FakeLedger(), ScriptedPort(), FakeResults()
    await ledger.claim(command(), "other-replica")

    async def dead_letter(record: Record, exc: BaseException) -> None:
        raise AssertionError("a valid command is never dead-lettered")

    handle = command_record_handler(runner(ledger, port, results), dead_letter)
    value, headers = encode(
        CloudEvent(id="e3", source="/router", type="kxflow.command.v1", tenant="t1", data=command())
    )
    assert await handle(Record(value, list(headers.items()))) is False
    assert port.calls == []


class WaitingPort(ScriptedPort):
    """A port whose call waits (as for an organisation's budget) until the test lets it go."""

    def __init__(self, after_s: float) -> None:
        super().__init__()
        self.after_s = after_s
        self.go = asyncio.Event()

    async def run(self, cmd: ActionCommand, reexecution: bool) -> dict[str, Any] | list[Any] | None:
        async with holding_watch("waiting for the budget", after_s=self.after_s):
            await self.go.wait()
        return {"ok": True}


async def test_a_command_waiting_longer_than_the_threshold_is_reported_holding_once() -> None:
    ledger, port, results = FakeLedger(), WaitingPort(after_s=0.01), FakeResults()
    task = asyncio.create_task(runner(ledger, port, results).handle(command()))
    await wait_for(lambda: results.published, timeout=5)
    ((event, key),) = results.published
    assert (event.type, event.id, key) == (PROGRESS_TYPE, "c1:1:holding", "r1")
    assert isinstance(event.data, CommandProgress)
    assert (event.data.step_id, event.data.attempt, event.data.detail) == ("s1", 1, "waiting for the budget")
    port.go.set()
    result = await task
    assert result is not None and result.status is ResultStatus.succeeded
    assert [e.type for e, _ in results.published] == [PROGRESS_TYPE, RESULT_TYPE]


async def test_a_short_wait_says_nothing_and_outside_a_command_the_watch_is_inert() -> None:
    ledger, port, results = FakeLedger(), WaitingPort(after_s=60), FakeResults()
    port.go.set()
    await runner(ledger, port, results).handle(command())
    assert [e.type for e, _ in results.published] == [RESULT_TYPE]
    async with holding_watch("a poll, not a command", after_s=0):
        pass  # no command in this task: nothing to report to, nothing raised
