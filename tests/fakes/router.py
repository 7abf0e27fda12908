"""In-memory fakes of the router's ports (run store, schedule, publisher, zap versions), so the
use cases of ``engine/runner.py`` run in milliseconds without Kafka or MongoDB.

Each fake keeps the behaviour the engine relies on (the run store's compare-and-set and its refusal
of what it cannot hold, the schedule's one entry per run) and records what crossed it, and a
``crash_*`` hook raises at a chosen point to stand for a process killed there.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from kxflow_contracts.commands import ActionCommand
from kxflow_contracts.runs import RunEvent
from zap_router.adapters.publisher import run_cloud_event
from zap_router.adapters.run_store import Unstorable, applied, expect_of, matches, update_of, value_problem
from zap_router.domain.machine import Guard, RunPatch
from zap_router.domain.matching import ActiveZap


class Crash(BaseException):  # a kill, not an error: no handler may take it for a bad record
    """The process dies here (raised by a fake's crash hook)."""


class FakeRunStore:
    def __init__(self) -> None:
        self.docs: dict[str, dict[str, Any]] = {}
        self.crash_before_write = False

    async def insert_new(self, docs: list[dict[str, Any]]) -> tuple[set[str], dict[str, str]]:
        inserted: set[str] = set()
        rejected: dict[str, str] = {}
        for doc in docs:
            problem = value_problem(doc)
            if problem is not None:
                rejected[doc["_id"]] = problem
            elif doc["_id"] not in self.docs:
                self.docs[doc["_id"]] = copy.deepcopy(doc)
                inserted.add(doc["_id"])
        return inserted, rejected

    async def get(self, run_id: str, tenant: str | None = None) -> dict[str, Any] | None:
        doc = self.docs.get(run_id)
        if doc is None or (tenant is not None and doc["tenant"] != tenant):
            return None
        return copy.deepcopy(doc)

    async def get_many(self, run_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        return {r: copy.deepcopy(self.docs[r]) for r in run_ids if r in self.docs}

    async def check(self, run: dict[str, Any] | None, update: dict[str, Any]) -> dict[str, Any] | None:
        for fields in update.values():
            for value in fields.values():
                problem = value_problem(value)
                if problem is not None:
                    raise Unstorable(problem)
        return None if run is None else applied(run, update)

    async def check_patch(self, run: dict[str, Any], patch: RunPatch) -> None:
        await self.check(run, update_of(patch))

    async def update_if(
        self, run_id: str, expect: dict[str, Any], update: dict[str, Any], current: Any = None
    ) -> dict[str, Any] | None:
        await self.check(None, update)
        if self.crash_before_write:
            raise Crash("before the run write")
        doc = self.docs.get(run_id)
        if doc is None or not matches(doc, expect):
            return None
        self.docs[run_id] = applied(doc, update)
        return copy.deepcopy(self.docs[run_id])

    async def write(self, run: dict[str, Any], patch: RunPatch, guard: Guard) -> dict[str, Any] | None:
        return await self.update_if(run["_id"], expect_of(guard), update_of(patch))


class FakeSchedule:
    def __init__(self) -> None:
        self.items: dict[str, dict[str, Any]] = {}
        self.turns: dict[tuple[str, str], datetime] = {}

    async def set(self, run_id: str, wake_at: datetime, kind: str, step_id: str, attempt: int) -> None:
        self.items[run_id] = {
            "_id": run_id,
            "wake_at": wake_at,
            "kind": kind,
            "step_id": step_id,
            "attempt": attempt,
        }

    async def add_check(self, run_id: str, wake_at: datetime, step_id: str, attempt: int) -> None:
        self.items.setdefault(
            run_id,
            {"_id": run_id, "wake_at": wake_at, "kind": "check", "step_id": step_id, "attempt": attempt},
        )

    async def get(self, run_id: str) -> dict[str, Any] | None:
        return self.items.get(run_id)

    async def due(self, now: datetime, limit: int = 200, kind: str | None = None) -> list[dict[str, Any]]:
        return [
            i for i in self.items.values() if i["wake_at"] <= now and (kind is None or i["kind"] == kind)
        ][:limit]

    async def claim(self, item: dict[str, Any], until: datetime) -> dict[str, Any] | None:
        current = self.items.get(item["_id"])
        if current is None or current["wake_at"] != item["wake_at"]:
            return None
        current["wake_at"] = until
        return dict(current)

    async def take_turn(self, tenant: str, key: str, spacing_s: float, now: datetime) -> datetime:
        last = self.turns.get((tenant, key))
        turn = now if last is None else max(now, last + timedelta(seconds=spacing_s))
        self.turns[(tenant, key)] = turn
        return turn

    async def done(self, run_id: str, wake_at: datetime | None = None) -> None:
        item = self.items.get(run_id)
        if item is not None and (wake_at is None or item["wake_at"] == wake_at):
            del self.items[run_id]


class FakePublisher:
    """Records every command and run event by ``ce_id`` (as the topics would hold them)."""

    def __init__(self) -> None:
        self.commands: list[tuple[str, ActionCommand]] = []
        self.events: list[RunEvent] = []
        self.event_ids: list[str] = []
        self.crash_on_commands = False

    async def enqueue(self, commands: Any = (), runs: Any = (), traces: Any = None) -> list[Any]:
        """As ``Publisher.enqueue``; nothing to wait for (the acknowledgements are immediate)."""
        commands = list(commands)
        if commands and self.crash_on_commands:
            raise Crash("before the command publish")
        self.commands += commands
        for event, attempt in runs:
            self.events.append(event)
            self.event_ids.append(run_cloud_event(event, attempt).id)
        return []

    @staticmethod
    async def wait(pending: Iterable[Any]) -> None:
        return None

    async def send(self, commands: Any = (), runs: Any = (), traces: Any = None) -> None:
        await self.enqueue(commands, runs, traces)


class FakeVersions:
    def __init__(self, *zaps: ActiveZap) -> None:
        self.zaps = {(z.zap_id, z.version): z for z in zaps}

    async def get(self, zap_id: str, version: int) -> ActiveZap | None:
        return self.zaps.get((zap_id, version))
