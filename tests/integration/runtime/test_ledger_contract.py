"""The same ledger scenarios against the in-memory ``FakeLedger`` (tests/fakes) and the real
``ActionLedger`` on FerretDB: the fast use-case tests of the command runner rely on the fake, so
the fake must decide exactly as the real ledger does (issue 11, use-case tests on fakes)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from fakes.commands import FakeLedger, make_command
from waiting import wait_for

from kxflow_contracts.commands import ActionCommand
from kxflow_contracts.results import ActionError, ActionResult, ResultStatus
from kxflow_contracts.runtime.ledger import ActionLedger, Decision

LEASE = timedelta(milliseconds=400)


@pytest.fixture(params=["fake", "ferretdb"])
async def ledger(request: pytest.FixtureRequest, mongo_client: Any, mongo_db_name: str) -> AsyncIterator[Any]:
    if request.param == "fake":
        yield FakeLedger(lease=LEASE)
    else:
        yield ActionLedger(mongo_client[mongo_db_name]["ledger"], lease=LEASE)


def _cmd(attempt: int = 1) -> ActionCommand:
    return make_command(action="xero.sales_invoice.create", step_id="invoice", attempt=attempt)


def _result(status: ResultStatus) -> ActionResult:
    error = None if status is ResultStatus.succeeded else ActionError(code="x", message="m", retryable=True)
    return ActionResult(command_id="c1", run_id="r1", step_id="invoice", status=status, error=error)


async def test_redelivered_and_lost_answer_commands_replay_the_stored_result(ledger: Any) -> None:
    assert (await ledger.claim(_cmd())).decision is Decision.execute
    assert (await ledger.claim(_cmd())).decision is Decision.busy  # in flight elsewhere
    await ledger.complete(_cmd(), _result(ResultStatus.succeeded))
    replay = await ledger.claim(_cmd())  # the result event was lost: the command comes again
    assert replay.decision is Decision.replay
    assert replay.result is not None and replay.result.status is ResultStatus.succeeded
    assert (await ledger.claim(_cmd(attempt=2))).decision is Decision.replay  # success is final


async def test_a_failure_is_executed_again_only_by_a_later_attempt(ledger: Any) -> None:
    await ledger.claim(_cmd())
    await ledger.complete(_cmd(), _result(ResultStatus.failed))
    assert (await ledger.claim(_cmd(attempt=1))).decision is Decision.replay
    again = await ledger.claim(_cmd(attempt=2))
    assert again.decision is Decision.execute and again.previous_attempts == 1
    assert (await ledger.claim(_cmd(attempt=2))).decision is Decision.busy
    await ledger.complete(_cmd(attempt=2), _result(ResultStatus.succeeded))
    assert (await ledger.claim(_cmd(attempt=3))).decision is Decision.replay


async def test_an_expired_lease_is_taken_over_once(ledger: Any) -> None:
    """The first executor died (no completion, no renewal): after its lease one other executor
    takes the command over, knowing it may have been executed before."""
    assert (await ledger.claim(_cmd(), owner="a")).decision is Decision.execute
    claims: list[Any] = []

    async def taken_over() -> bool:
        claim = await ledger.claim(_cmd(), owner="b")
        claims.append(claim)
        return claim.decision is Decision.execute

    await wait_for(taken_over, timeout=10, interval=0.05, message="the dead executor's lease expired")
    assert claims[-1].previous_attempts == 1
    assert (await ledger.claim(_cmd(), owner="c")).decision is Decision.busy
