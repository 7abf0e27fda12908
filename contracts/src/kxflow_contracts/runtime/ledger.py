"""The gateways' action ledger (DESIGN.md §3): a command id is executed upstream at most once.

``claim`` decides, for a consumed command, whether to execute it or to republish what is known:

* first sight → a ``pending`` record is inserted (unique ``_id`` = command id) → execute;
* a final result is known → republish it, never call Kartra/Xero again;
* a failure is known → execute again only for a later ``attempt`` (the router's autoreplay of a
  retryable failure, or a user's replay of a failed run after fixing its cause), otherwise
  republish it (a plain redelivery has the same attempt); a success or ``not_found`` is final;
* ``pending`` and its lease still running → another consumer is executing it right now (only
  possible around a rebalance): the caller raises a transient error and the command comes back;
* ``pending`` with an expired lease → the executor died mid-call: take it over and execute. For
  Xero the Idempotency-Key makes that safe; for Kartra the gateway checks state first.

The executor holds the claim inside ``keep(cmd)``, which renews the lease every third of it, so a
live executor keeps its claim however long the call waits (rate limits), and a dead one's claim
expires within one lease (30 s) — found by the replica fault drill, where a fixed 2-minute lease
held every command of a SIGKILLed gateway replica for 2 minutes.

Only single-document atomic operations are used (FerretDB has no transactions).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from pymongo import ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from kxflow_contracts.commands import ActionCommand
from kxflow_contracts.results import ActionResult, ResultStatus

log = logging.getLogger("kxflow.ledger")


class Decision(StrEnum):
    execute = "execute"
    replay = "replay"
    busy = "busy"


@dataclass(frozen=True)
class Claim:
    decision: Decision
    result: ActionResult | None = None
    previous_attempts: int = 0


def _now() -> datetime:
    return datetime.now(UTC)


def _is_final(result: ActionResult) -> bool:
    return result.status is not ResultStatus.failed


class ActionLedger:
    def __init__(self, collection: AsyncCollection, lease: timedelta = timedelta(seconds=30)) -> None:
        self._col = collection
        self._lease = lease

    @contextlib.asynccontextmanager
    async def keep(self, cmd: ActionCommand) -> AsyncIterator[None]:
        """Renew the lease of a claimed command while the block executes it.

        The renewal is stopped between renewals, never cancelled in the middle of one: cancelling
        a pymongo operation while it waits in server selection (MongoDB away) can leave the
        client's topology lock held by nobody on Python 3.11 (``asyncio.wait_for`` returns on the
        cancellation before its inner wait has re-acquired the lock), and every later operation
        of the process then hangs. Found by the MongoDB-outage drill once xero-gateway's blocks
        themselves talked to MongoDB (its write records) and so ended together with renewals.
        """
        stop = asyncio.Event()

        async def renew() -> None:
            while True:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self._lease.total_seconds() / 3)
                if stop.is_set():
                    return
                try:
                    await self._col.update_one(
                        {"_id": cmd.command_id, "state": "pending"},
                        {"$set": {"lease_until": _now() + self._lease}},
                    )
                except Exception:  # the store is away: the next renewal may succeed
                    log.warning("could not renew the lease of command %s", cmd.command_id, exc_info=True)

        task = asyncio.create_task(renew())
        try:
            yield
        finally:
            stop.set()
            # shielded: the caller being cancelled (shutdown) must not cancel a renewal mid-call
            await asyncio.shield(task)

    async def claim(self, cmd: ActionCommand, owner: str = "") -> Claim:
        now = _now()
        doc = {
            "_id": cmd.command_id,
            "state": "pending",
            "attempt": cmd.attempt,
            "action": cmd.action,
            "tenant": cmd.tenant,
            "run_id": cmd.run_id,
            "owner": owner,
            "lease_until": now + self._lease,
            "created_at": now,
            "updated_at": now,
            "executions": 1,
        }
        try:
            await self._col.insert_one(doc)
            return Claim(Decision.execute)
        except DuplicateKeyError:
            pass
        existing = await self._col.find_one({"_id": cmd.command_id})
        if existing is None:  # removed by cleanup in between: treat as new
            return await self.claim(cmd, owner)
        if existing["state"] == "done":
            result = ActionResult.model_validate(existing["result"])
            if _is_final(result) or cmd.attempt <= existing.get("attempt", 1):
                return Claim(Decision.replay, result)
            return await self._take_over(cmd, owner, {"state": "done", "attempt": existing["attempt"]})
        lease_until = existing.get("lease_until")
        if lease_until is not None and lease_until.tzinfo is None:
            lease_until = lease_until.replace(tzinfo=UTC)
        if lease_until is not None and lease_until > now:
            return Claim(Decision.busy)
        return await self._take_over(cmd, owner, {"state": "pending", "lease_until": existing["lease_until"]})

    async def _take_over(self, cmd: ActionCommand, owner: str, expect: dict[str, Any]) -> Claim:
        now = _now()
        updated = await self._col.find_one_and_update(
            {"_id": cmd.command_id, **expect},
            {
                "$set": {
                    "state": "pending",
                    "attempt": max(cmd.attempt, int(expect.get("attempt", 0))),
                    "owner": owner,
                    "lease_until": now + self._lease,
                    "updated_at": now,
                },
                "$inc": {"executions": 1},
            },
            return_document=ReturnDocument.AFTER,
        )
        if updated is None:  # somebody else changed it first
            return Claim(Decision.busy)
        return Claim(Decision.execute, previous_attempts=updated.get("executions", 1) - 1)

    async def complete(self, cmd: ActionCommand, result: ActionResult) -> None:
        await self._col.update_one(
            {"_id": cmd.command_id},
            {
                "$set": {
                    "state": "done",
                    "attempt": cmd.attempt,
                    "status": result.status.value,
                    "result": result.model_dump(mode="json"),
                    "updated_at": _now(),
                    "lease_until": None,
                }
            },
        )

    async def get(self, command_id: str) -> dict[str, Any] | None:
        return await self._col.find_one({"_id": command_id})

    async def purge(self, older_than: timedelta, now: datetime | None = None) -> int:
        """Periodic cleanup in place of a TTL index (FerretDB has none): entries (with their
        outputs) untouched for ``older_than`` — finished ones, and claims abandoned that long."""
        cutoff = (now or _now()) - older_than
        res = await self._col.delete_many({"updated_at": {"$lt": cutoff}})
        return res.deleted_count
