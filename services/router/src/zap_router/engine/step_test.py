"""Test this step (Zapier's "Test step"): render one step of a zap's draft (or published version)
against a chosen past trigger event and show the input it would send; with ``execute``, send it for
real through its gateway and show the result.

The event is read back from the trigger topic (the dry-run's reader). Earlier steps' outputs, which
the step's templates may read, come from the caller when given, else from this zap's run for that
event when one exists (real outputs), else from the action's catalog example, and the answer says
which.

An executed test is a real write, as in Zapier. Its command has its own id (``test_id`` + path,
never the live run's ``sha256(zap, event, path)``), so it neither hits the gateway ledger's entry
for the live step nor makes a later live run of that event skip its write; its result comes back
keyed by the test id and is recorded in ``step_tests`` (never in a run).
"""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from kxflow_contracts.catalog import Catalog
from kxflow_contracts.envelope import CloudEvent
from kxflow_contracts.topics import Topics
from zap_router.adapters.publisher import Publisher
from zap_router.adapters.run_store import RunStore
from zap_router.adapters.step_test_store import StepTestStore
from zap_router.domain.clock import Clock
from zap_router.domain.context import run_context, trigger_context
from zap_router.domain.matching import ActiveZap
from zap_router.domain.runs import outputs_of, plan_step, run_id_for
from zap_router.domain.zaps import StepKind
from zap_router.engine.active import active_from_record, changelog_record
from zap_router.engine.dryrun import EventReader, events_of
from zap_router.engine.zaps import ZapNotFound, ZapService

TEST_PREFIX = "t_"  # run ids of step tests: results with one go to step_tests, not to runs


class StepTestRefused(ValueError):
    pass


class StepTestNotFound(LookupError):
    pass


def is_step_test(run_id: str) -> bool:
    return run_id.startswith(TEST_PREFIX)


def test_command_id(test_id: str, path: str) -> str:
    return hashlib.sha256(f"step-test\x1f{test_id}\x1f{path}".encode()).hexdigest()


class StepTests:
    def __init__(
        self,
        *,
        zaps: ZapService,
        runs: RunStore,
        store: StepTestStore,
        reader: EventReader,
        publisher: Publisher,
        catalog: Catalog,
        topics: Topics,
        clock: Clock,
        deadline: timedelta = timedelta(minutes=10),
    ) -> None:
        self.zaps = zaps
        self.runs = runs
        self.store = store
        self.reader = reader
        self.publisher = publisher
        self.catalog = catalog
        self.topics = topics
        self.clock = clock
        self.deadline = deadline

    async def _zap(self, tenant: str, zap_id: str, source: str | None) -> tuple[ActiveZap, str]:
        head = await self.zaps.store.head(zap_id, tenant)
        if head is None:
            raise ZapNotFound(zap_id)
        if source != "published":
            draft = await self.zaps.store.draft(zap_id, tenant)
            if draft is not None:
                record = changelog_record({**head, "revision": -1}, {**draft, "version": 0})
                return active_from_record(record, self.catalog), "draft"
            if source == "draft":
                raise StepTestRefused(f"zap {zap_id} has no draft (test the published version instead)")
        return await self.zaps.current(tenant, zap_id), "published"

    async def _event(self, zap: ActiveZap, event_id: str | None, since: datetime | None) -> CloudEvent:
        entry = self.catalog.get(zap.trigger_key)

        want = events_of(zap, entry.ce_type, event_id)
        now = datetime.now(UTC)  # the window is in Kafka record time
        start = since or now - timedelta(days=7)
        found = await self.reader.read(
            self.topics.events_for(entry.app), start, now, 1 if event_id else 1000, want
        )
        if not found:
            which = f"event {event_id}" if event_id else "no event of this zap's trigger"
            raise StepTestRefused(f"{which} found in the trigger topic since {start.isoformat()}")
        return found[-1]  # the one asked for, or the most recent

    async def run(
        self,
        tenant: str,
        zap_id: str,
        *,
        step: str,
        source: Literal["draft", "published"] | None = None,
        event_id: str | None = None,
        since: datetime | None = None,
        outputs: dict[str, Any] | None = None,
        loop: dict[str, Any] | None = None,
        execute: bool = False,
        wait_s: float = 20.0,
    ) -> dict[str, Any]:
        zap, used = await self._zap(tenant, zap_id, source)
        try:
            target = zap.step(step)
        except KeyError:
            raise StepTestRefused(f"the {used} zap has no step {step!r}") from None
        if target.kind is not StepKind.action:
            raise StepTestRefused(
                f"step {step!r} is a {target.kind.value} step; only action steps can be tested"
            )
        event = await self._event(zap, event_id, since)
        trigger = trigger_context(event.id, event.type, event.time, event.data)
        scope, sources = await self._outputs(zap, event.id, target.id, outputs or {})
        context = run_context(trigger, scope, zap.zap_id, zap.version, zap.name)
        if loop is not None:
            context["loop"] = loop
        test_id = TEST_PREFIX + uuid.uuid4().hex[:24]
        now = self.clock.now()
        plan = plan_step(
            zap,
            target,
            run_id=test_id,
            event_id=event.id,
            context=context,
            attempt=1,
            now=now,
            deadline=self.deadline,
            catalog=self.catalog,
            path=step,
        )
        answer: dict[str, Any] = {
            "test_id": test_id,
            "zap_id": zap_id,
            "source": used,
            "version": zap.version if used == "published" else None,
            "step": step,
            "action": target.action,
            "connection_id": target.connection,
            "event": {"id": event.id, "type": event.type, "time": event.time},
            "outputs_from": sources,
            "input": plan.state["input"],
            "error": plan.error,
            "executed": False,
            "status": "rendered" if plan.command else "failed",
            "result": None,
        }
        if not execute or plan.command is None:
            return answer
        command = plan.command.model_copy(update={"command_id": test_command_id(test_id, step)})
        await self.store.insert(
            {
                "_id": test_id,
                "tenant": tenant,
                "zap_id": zap_id,
                "command_id": command.command_id,
                "status": "sent",
                "result": None,
                "answer": {**answer, "executed": True, "status": "sent"},
                "created_at": now,
            }
        )
        await self.publisher.send([(target.app, command)])
        return await self._wait(tenant, zap_id, test_id, wait_s)

    async def _outputs(
        self, zap: ActiveZap, event_id: str, target_id: str, given: dict[str, Any]
    ) -> tuple[dict[str, Any], dict[str, str]]:
        """Every other action step's output as templates would see it, and where each came from."""
        run = await self.runs.get(run_id_for(zap.zap_id, event_id), zap.tenant)
        recorded = outputs_of(run) if run else {}
        scope: dict[str, Any] = {}
        sources: dict[str, str] = {}
        for top in zap.steps:
            for s in top.all_steps():
                if s.kind is not StepKind.action or s.id == target_id:
                    continue
                if s.id in given:
                    scope[s.id], sources[s.id] = given[s.id], "given"
                elif s.id in recorded:
                    scope[s.id], sources[s.id] = recorded[s.id], "run"
                else:
                    entry = self.catalog.find(s.action)
                    example = entry.example if entry and isinstance(entry.example, dict) else {}
                    scope[s.id], sources[s.id] = dict(example), "example"
        return scope, sources

    async def _wait(self, tenant: str, zap_id: str, test_id: str, wait_s: float) -> dict[str, Any]:
        """The test as it stands once its result is in, or after ``wait_s`` (then poll GET)."""
        loop = asyncio.get_running_loop()
        until = loop.time() + wait_s
        while True:
            found = await self.get(tenant, zap_id, test_id)
            if found["status"] != "sent" or loop.time() >= until:
                return found
            await asyncio.sleep(0.2)  # polling the store for a result another replica may record

    async def get(self, tenant: str, zap_id: str, test_id: str) -> dict[str, Any]:
        doc = await self.store.get(test_id, tenant, zap_id)
        if doc is None:
            raise StepTestNotFound(test_id)
        return {**doc["answer"], "status": doc["status"], "result": doc["result"]}
