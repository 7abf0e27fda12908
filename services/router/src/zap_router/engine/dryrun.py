"""Dry-run: evaluate a draft zap over the trigger's past events read back from Kafka.

Nothing is stored or emitted. Later steps see each earlier action's catalog example as its output,
since the real output would only exist after the action ran.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta
from typing import Any, Protocol

from kxflow_contracts.catalog import Catalog
from kxflow_contracts.envelope import CloudEvent
from kxflow_contracts.topics import Topics
from zap_router.adapters.event_reader import ScanPage
from zap_router.domain.context import run_context, trigger_context
from zap_router.domain.filters import explain, passes
from zap_router.domain.graph import walk
from zap_router.domain.matching import ActiveZap
from zap_router.domain.runs import StepStatus
from zap_router.domain.zaps import ZapSpec
from zap_router.engine.active import active_from_record


class EventReader(Protocol):
    """Past events of a topic by record time (``adapters.event_reader.KafkaEventReader``)."""

    async def read(
        self, topic: str, since: datetime, until: datetime, limit: int, want: object = None
    ) -> list[CloudEvent]: ...

    def scan(
        self,
        topic: str,
        since: datetime,
        until: datetime,
        want: Callable[[CloudEvent], bool] | None = None,
        page_records: int = 500,
    ) -> AsyncIterator[ScanPage]: ...


def events_of(zap: ActiveZap, ce_type: str, event_id: str | None = None) -> Callable[[CloudEvent], bool]:
    """A predicate for the trigger events ``zap`` runs on: its tenant, trigger type, connection
    and parameters (and one event id, when given). Catch-up and test-a-step read the log with it."""

    def want(event: CloudEvent) -> bool:
        return (
            event.tenant == zap.tenant
            and event.type == ce_type
            and isinstance(event.data, dict)
            and event.data.get("connection_id") == zap.connection
            and zap.params_match(event.data)
            and (event_id is None or event.id == event_id)
        )

    return want


async def dry_run(
    *,
    spec: ZapSpec,
    steps: list[dict[str, Any]],
    tenant: str,
    catalog: Catalog,
    topics: Topics,
    reader: EventReader,
    since: datetime,
    until: datetime,
    limit: int,
) -> dict[str, Any]:
    record = {
        "zap_id": "dry-run",
        "tenant": tenant,
        "revision": 0,
        "version": 0,
        "enabled": True,
        "name": spec.name,
        "trigger": spec.trigger.model_dump(),
        "filter": spec.filter.model_dump(mode="json") if spec.filter else None,
        "steps": steps,
    }
    zap = active_from_record(record, catalog)
    entry = catalog.get(spec.trigger.event)

    def want(event: CloudEvent) -> bool:
        return (
            event.tenant == tenant
            and event.type == entry.ce_type
            and isinstance(event.data, dict)
            and event.data.get("connection_id") == zap.connection
        )

    events = await reader.read(topics.events_for(entry.app), since, until, limit, want)
    report: list[dict[str, Any]] = []
    counts = {"would_run": 0, "filtered": 0, "params_mismatch": 0, "would_fail": 0}
    for event in events:
        trigger = trigger_context(event.id, event.type, event.time, event.data)
        context = run_context(trigger, {}, zap.zap_id, zap.version, zap.name)
        item: dict[str, Any] = {"event_id": event.id, "time": event.time, "steps": []}
        if not zap.params_match(event.data):
            item["outcome"] = "params_mismatch"
        elif not passes(zap.filter, context):
            item.update(outcome="filtered", filter=explain(zap.filter, context))
        else:
            item.update(simulate(zap, event.id, trigger, event.time, catalog))
        counts[item["outcome"]] += 1
        report.append(item)
    return {"events_read": len(events), **counts, "events": report}


# A dry run walks at most this many steps of one event (a loop of 500 items with two sub-steps).
MAX_SIMULATED_STEPS = 1_000


def simulate(
    zap: ActiveZap, event_id: str, trigger: dict[str, Any], now: datetime, catalog: Catalog
) -> dict[str, Any]:
    """Walk the zap's step graph (domain/graph.py) for one event as a run would, every action
    answered with its catalog example and every delay passed at once: the steps it would send, in
    order, with their inputs; ``outcome`` ``would_fail`` at the first step that cannot be sent."""
    run: dict[str, Any] = {"_id": "dry-run", "trigger_event_id": event_id, "trigger": trigger, "steps": {}}
    steps: list[dict[str, Any]] = []
    outcome = "would_run"
    for _ in range(MAX_SIMULATED_STEPS):
        w = walk(zap, run, now=now, deadline=timedelta(0), catalog=catalog)
        run["steps"].update(w.states)
        for path, error in w.failures:
            state = run["steps"].get(path, {})
            steps.append(
                {"id": path, "action": state.get("action"), "input": state.get("input"), "error": error}
            )
        if w.end is not None:
            outcome = {"failed": "would_fail", "filtered": "filtered"}.get(w.end, "would_run")
            break
        for _, command in w.commands:
            action = catalog.find(command.action)
            state = run["steps"][command.step_id]
            steps.append(
                {"id": command.step_id, "action": command.action, "input": state["input"], "error": None}
            )
            example = dict(action.example) if action and isinstance(action.example, dict) else {}
            run["steps"][command.step_id] = {**state, "status": StepStatus.succeeded, "output": example}
        if not w.commands and w.current is not None:  # a delay: passed at once
            run["steps"][w.current] = {**run["steps"][w.current], "status": StepStatus.succeeded}
    return {"outcome": outcome, "steps": steps}
