"""Action ledger and seen-key store on the real MongoDB-wire server (FerretDB in tests)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from waiting import wait_for

from kxflow_contracts.commands import ActionCommand
from kxflow_contracts.results import ActionError, ActionResult, ResultStatus
from kxflow_contracts.runtime.dedupe import SeenKeys
from kxflow_contracts.runtime.ledger import ActionLedger, Decision

pytestmark = pytest.mark.mongo


def _cmd(attempt: int = 1, cid: str = "c1") -> ActionCommand:
    return ActionCommand(
        command_id=cid,
        tenant="acme",
        connection_id="xero-acme",
        action="xero.sales_invoice.create",
        input={},
        run_id="r1",
        zap_id="z1",
        zap_version=1,
        step_id="invoice",
        attempt=attempt,
    )


def _result(status: ResultStatus, retryable: bool = False) -> ActionResult:
    error = (
        None if status is ResultStatus.succeeded else ActionError(code="x", message="m", retryable=retryable)
    )
    return ActionResult(command_id="c1", run_id="r1", step_id="invoice", status=status, error=error)


async def test_a_known_result_is_replayed_never_reexecuted(mongo_client, mongo_db_name) -> None:
    ledger = ActionLedger(mongo_client[mongo_db_name]["ledger"])
    assert (await ledger.claim(_cmd())).decision is Decision.execute
    assert (await ledger.claim(_cmd())).decision is Decision.busy  # same command in flight elsewhere
    await ledger.complete(_cmd(), _result(ResultStatus.succeeded))
    claim = await ledger.claim(_cmd())
    assert claim.decision is Decision.replay
    assert claim.result is not None and claim.result.status is ResultStatus.succeeded
    # A later attempt of a succeeded command is still a replay: success is final.
    assert (await ledger.claim(_cmd(attempt=2))).decision is Decision.replay


async def test_a_failure_reexecutes_only_on_a_later_attempt(mongo_client, mongo_db_name) -> None:
    ledger = ActionLedger(mongo_client[mongo_db_name]["ledger"])
    await ledger.claim(_cmd())
    await ledger.complete(_cmd(), _result(ResultStatus.failed, retryable=True))
    assert (await ledger.claim(_cmd(attempt=1))).decision is Decision.replay  # plain redelivery
    assert (await ledger.claim(_cmd(attempt=2))).decision is Decision.execute  # autoreplay attempt
    await ledger.complete(_cmd(attempt=2), _result(ResultStatus.failed))
    # A permanent failure is replayed to a redelivery of the same attempt...
    assert (await ledger.claim(_cmd(attempt=2))).decision is Decision.replay
    # ...and executed again when the user replays the run (the router sends a later attempt).
    assert (await ledger.claim(_cmd(attempt=3))).decision is Decision.execute
    await ledger.complete(_cmd(attempt=3), _result(ResultStatus.succeeded))
    assert (await ledger.claim(_cmd(attempt=4))).decision is Decision.replay  # success is final


async def test_an_expired_lease_is_taken_over_once(mongo_client, mongo_db_name) -> None:
    col = mongo_client[mongo_db_name]["ledger"]
    ledger = ActionLedger(col, lease=timedelta(seconds=30))
    await ledger.claim(_cmd())
    await col.update_one({"_id": "c1"}, {"$set": {"lease_until": datetime.now(UTC) - timedelta(seconds=1)}})
    first = await ledger.claim(_cmd(), owner="b")
    second = await ledger.claim(_cmd(), owner="c")
    assert first.decision is Decision.execute and first.previous_attempts == 1
    assert second.decision is Decision.busy


async def test_a_kept_claim_stays_busy_past_its_lease_and_expires_once_no_longer_kept(
    mongo_client, mongo_db_name
) -> None:
    """A live executor (inside ``keep``) keeps its claim however long it works; a dead one's claim
    (no more renewals) is taken over after one lease. The waits are the lease times under test."""
    ledger = ActionLedger(mongo_client[mongo_db_name]["ledger"], lease=timedelta(seconds=0.9))
    assert (await ledger.claim(_cmd(), owner="a")).decision is Decision.execute
    async with ledger.keep(_cmd()):
        await asyncio.sleep(2.0)  # more than two leases
        assert (await ledger.claim(_cmd(), owner="b")).decision is Decision.busy
    # "a" stopped renewing (as if SIGKILLed): within a lease the claim can be taken over.
    await wait_for(lambda: _takes_over(ledger), timeout=5, interval=0.1, message="the unkept claim expired")


async def _takes_over(ledger: ActionLedger) -> bool:
    return (await ledger.claim(_cmd(), owner="c")).decision is Decision.execute


async def test_seen_keys_collapse_within_the_window_only(mongo_client, mongo_db_name) -> None:
    seen = SeenKeys(mongo_client[mongo_db_name]["seen"], window=timedelta(minutes=10))
    t0 = datetime.now(UTC)
    assert await seen.first_time("h1", now=t0)
    assert not await seen.first_time("h1", now=t0 + timedelta(minutes=5))
    assert await seen.first_time("h1", now=t0 + timedelta(minutes=11))
    forever = SeenKeys(mongo_client[mongo_db_name]["seen2"])
    assert await forever.first_time("k")
    assert not await forever.first_time("k", now=t0 + timedelta(days=400))
    await forever.forget("k")
    assert await forever.first_time("k")
