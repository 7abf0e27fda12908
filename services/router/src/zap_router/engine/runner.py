"""Runs: trigger events → runs and first commands; results → next step, retry or end; replay.

Delivery rules (DESIGN.md §3): a run is inserted with a unique (zap_id, trigger event id) before
its command is sent, so a redelivered event creates nothing new; every later transition is a
compare-and-set on the step's status and attempt, so a redelivered result changes nothing. A
redelivery is also the only sign that a crash may have cut a run between storing and sending: the
run is then put on the schedule, and its step is sent again (same command id) if no result came.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from opentelemetry import trace
from opentelemetry.trace import SpanKind

from kxflow_contracts.catalog import Catalog
from kxflow_contracts.commands import ActionCommand
from kxflow_contracts.envelope import CloudEvent
from kxflow_contracts.results import ActionResult, CommandProgress
from kxflow_contracts.runs import FINISHED_STATES, RunEvent, RunStatus, RunTransition
from zap_router.adapters.errors import is_transient
from zap_router.adapters.metrics import RouterMetrics
from zap_router.adapters.publisher import Publisher, span_traceparent
from zap_router.adapters.results_progress import Offsets, ResultsProgress
from zap_router.adapters.run_store import RunStore, Unstorable
from zap_router.adapters.run_store import update_of as run_store_update
from zap_router.adapters.schedule_store import ScheduleStore
from zap_router.domain import machine
from zap_router.domain.clock import Clock
from zap_router.domain.context import run_context, trigger_context
from zap_router.domain.filters import explain, passes
from zap_router.domain.matching import ActiveZap, MatchIndex
from zap_router.domain.retry import DEFAULT_LADDER
from zap_router.domain.runs import (
    StepStatus,
    command_from_state,
    error_doc,
    failed_start,
    new_run,
    run_id_for,
    slim_failed_trigger,
)
from zap_router.engine.active import ZapVersions

log = logging.getLogger("kxflow.router.runs")

RunEvents = list[tuple[RunEvent, int]]
Commands = list[tuple[str, ActionCommand]]


class RunNotFound(LookupError):
    pass


class ReplayRefused(ValueError):
    pass


class CancelRefused(ValueError):
    pass


CANCELLABLE = machine.CANCELLABLE


_event = machine.run_event


class RunEngine:
    def __init__(
        self,
        *,
        index: MatchIndex,
        versions: ZapVersions,
        catalog: Catalog,
        runs: RunStore,
        schedule: ScheduleStore,
        publisher: Publisher,
        clock: Clock,
        metrics: RouterMetrics,
        ladder: tuple[timedelta, ...] = DEFAULT_LADDER,
        redispatch_after: timedelta = timedelta(minutes=15),
        deadline: timedelta = timedelta(days=1),
        on_run_failed: Callable[[dict[str, Any]], Awaitable[None]] | None = None,
        progress: ResultsProgress | None = None,
        retention: timedelta | None = None,
        chunk: int = 100,
        inserts_in_flight: int = 2,
        concurrency: int = 16,
        tracer: trace.Tracer | None = None,
    ) -> None:
        self.tracer = tracer or trace.get_tracer("kxflow.router")
        self.index = index
        self.versions = versions
        self.catalog = catalog
        self.runs = runs
        self.schedule = schedule
        self.publisher = publisher
        self.clock = clock
        self.metrics = metrics
        self.ladder = ladder
        self.redispatch_after = redispatch_after
        self.deadline = deadline
        self.on_run_failed = on_run_failed
        self.progress = progress
        self._barrier: tuple[datetime, Offsets] | None = None
        self.retention = retention
        self.chunk = chunk
        self.inserts_in_flight = max(1, inserts_in_flight)
        self._health_checks: set[asyncio.Task[None]] = set()  # auto-disable checks in flight
        self._writers = asyncio.Semaphore(concurrency)  # runs updated at once (FerretDB/SQLite locks)

    # ------------------------------------------------------------------ events

    def wants(self, tenant: str, ce_type: str) -> bool:
        """Cheap pre-check on headers: could this event match any zap at all?"""
        entry = self.catalog.by_ce_type(ce_type)
        return entry is not None and self.index.wants(tenant, entry.key)

    async def on_events(self, events: list[CloudEvent], index: MatchIndex | None = None) -> dict[str, str]:
        """Create the runs these events start; returns {event id: reason} for events to dead-letter.

        ``index``: the zaps to match against (default: every enabled zap); catch-up passes one
        holding only the zap it runs.

        A pipeline over chunks of runs: while one chunk is being stored (one ``insert_many``), the
        next is planned (matched, filtered, rendered); as soon as a chunk is stored its commands and
        lifecycle events are handed to the producer, and every acknowledgement is awaited before
        returning. The caller commits the batch's offsets only after that: runs and commands are
        durable first.
        """
        now = self.clock.now()
        poison: dict[str, str] = {}
        source: dict[str, str] = {}
        docs: list[dict[str, Any]] = []
        stores: list[asyncio.Task[tuple[set[str], list[Any]]]] = []
        gate = asyncio.Semaphore(self.inserts_in_flight)
        chunk: list[tuple[dict[str, Any], Commands, RunEvents]] = []
        lifecycle: dict[str, RunEvents] = {}  # run id -> the lifecycle events its start publishes
        stored: dict[str, dict[str, Any]] = {}  # run id -> the failed run stored in place of one refused

        async def flush() -> None:
            await gate.acquire()  # back-pressure: planning waits while enough chunks are being stored
            stores.append(
                asyncio.create_task(self._store(list(chunk), source, poison, gate, lifecycle, stored, now))
            )
            chunk.clear()
            await asyncio.sleep(0)  # let the insert go out before planning the next chunk

        try:
            for event in events:
                try:
                    planned = self._plan_event(event, source, now, index or self.index)
                except Exception as exc:  # about this record only: dead-lettered, the batch goes on
                    if is_transient(exc):
                        raise
                    log.exception("trigger event %s could not be planned", event.id)
                    poison[event.id] = f"the event could not be processed: {type(exc).__name__}: {exc}"[:1000]
                    continue
                if isinstance(planned, str):
                    poison[event.id] = planned
                    continue
                for doc, cmds, evs in planned:
                    docs.append(doc)
                    source[doc["_id"]] = event.id
                    lifecycle[doc["_id"]] = evs
                    chunk.append((doc, cmds, evs))
                    if len(chunk) >= self.chunk:
                        await flush()
            if chunk:
                await flush()
        finally:
            outcomes = await asyncio.gather(*stores, return_exceptions=True)
        failures = [o for o in outcomes if isinstance(o, BaseException)]
        if failures:
            raise failures[0]
        inserted: set[str] = set()
        pending: list[Any] = []
        for ids, acks in outcomes:  # type: ignore[misc]
            inserted |= ids
            pending += acks
        await self.publisher.wait(pending)
        existing = [d["_id"] for d in docs if d["_id"] not in inserted and source[d["_id"]] not in poison]
        if existing:
            # A redelivered event (after a crash or rebalance): its command may never have left, and
            # neither may its lifecycle events (a crash between the insert and the publish). Those
            # are published again: their ce_ids are deterministic, so runs.v1 consumers, who dedupe
            # by ce_id, see each transition once; the command is left to the check (_ensure_wake).
            runs = await self.runs.get_many(existing)
            again = [e for run_id in existing if run_id in runs for e in lifecycle[run_id]]
            traces = {run_id: run.get("traceparent") for run_id, run in runs.items()}
            await self.publisher.wait(await self.publisher.enqueue([], again, traces))
            for run in runs.values():
                await self._ensure_wake(run, now)
        for doc in docs:
            if doc["_id"] in inserted:
                doc = stored.get(doc["_id"], doc)
                if doc["status"] == RunStatus.waiting.value:
                    # A run that starts with a delay: its timer. A crash before this line leaves a
                    # waiting run without one; the redelivered event finds it and sets it (_ensure_wake).
                    await self._ensure_wake(doc, now)
                self._count(doc)
                if doc["status"] == RunStatus.failed.value:
                    await self._failed(doc)
        return poison

    def _plan_event(
        self, event: CloudEvent, source: dict[str, str], now: datetime, index: MatchIndex
    ) -> list[tuple[dict[str, Any], Commands, RunEvents]] | str:
        """The runs ``event`` starts (new run documents, their commands and lifecycle events), or
        the reason to dead-letter it."""
        entry = self.catalog.by_ce_type(event.type)
        if entry is None:
            self.metrics.events_in.labels(event.type, "unknown").inc()
            return []
        data = event.data
        connection = data.get("connection_id") if isinstance(data, dict) else None
        if not isinstance(connection, str):
            return "trigger event data must be an object with a connection_id"
        matches = index.match(event.tenant, entry.key, connection, data)
        if matches and data.get("origin") == "backfill":
            matches = [zap for zap in matches if zap.backfill]  # zaps opt in to backfilled events
        self.metrics.events_in.labels(event.type, "matched" if matches else "unmatched").inc()
        if not matches:
            return []
        # A span for an event that starts runs, in the trace its producer started (the batch
        # consumer's own span starts a new trace); runs keep its traceparent so every later
        # step joins it. An event that matches nothing gets no span (most events, cheaply).
        traceparent = span_traceparent(
            self.tracer, f"{event.type} process", event.traceparent, SpanKind.CONSUMER
        )
        trigger = trigger_context(event.id, event.type, event.time, data)
        planned = []
        for zap in matches:
            if run_id_for(zap.zap_id, event.id) in source:
                continue  # the same event twice in one batch: one run
            try:
                doc, cmds, evs = self._start(zap, event, trigger, now)
            except Exception as exc:
                if is_transient(exc):
                    raise
                log.exception("run of zap %s for event %s could not start", zap.zap_id, event.id)
                error = error_doc("internal_error", f"the run could not start: {type(exc).__name__}: {exc}")
                doc = failed_start(new_run(zap, event.id, event.type, trigger, now), error, now, True)
                cmds, evs = [], self._failed_start_events(doc, now)
            if doc["status"] == RunStatus.failed.value:
                slim_failed_trigger(doc)
            doc["traceparent"] = traceparent
            planned.append((doc, cmds, evs))
        return planned

    @staticmethod
    def _failed_start_events(doc: dict[str, Any], now: datetime) -> RunEvents:
        return [
            (_event(doc, RunTransition.started, now), 1),
            (_event(doc, RunTransition.finished, now, error=doc["error"]), 1),
        ]

    async def _store(
        self,
        chunk: list[tuple[dict[str, Any], Commands, RunEvents]],
        source: dict[str, str],
        poison: dict[str, str],
        gate: asyncio.Semaphore,
        lifecycle: dict[str, RunEvents],
        stored: dict[str, dict[str, Any]],
        now: datetime,
    ) -> tuple[set[str], list[Any]]:
        """Insert a chunk of new runs (one ``insert_many``, unordered) and hand the records of the
        runs that were new to the producer; (ids inserted, acknowledgements to await).

        The unique (zap_id, trigger event id) decides duplicates: a run that exists already is a
        redelivered event and sends nothing here (the caller checks on it).
        """
        try:
            ids, rejected = await self.runs.insert_new([doc for doc, _, _ in chunk])
            if rejected:
                # A run the store refuses (a 64-bit overflow, a NUL in a key, ...) ends failed with
                # the reason, stored without the trigger data at fault; only if even that is
                # refused is the event dead-lettered.
                stubs: list[tuple[dict[str, Any], Commands, RunEvents]] = []
                for doc, _, _ in chunk:
                    if doc["_id"] in rejected:
                        error = error_doc(
                            "run_unstorable", f"the run could not be stored: {rejected[doc['_id']]}"
                        )
                        stub = failed_start(doc, error, now, keep_trigger=False)
                        stubs.append((stub, [], self._failed_start_events(stub, now)))
                stub_ids, refused = await self.runs.insert_new([doc for doc, _, _ in stubs])
                for run_id, reason in refused.items():
                    poison[source[run_id]] = f"run could not be stored: {reason}"
                for stub, _, evs in stubs:
                    stored[stub["_id"]] = stub
                    lifecycle[stub["_id"]] = evs
                ids |= stub_ids
                chunk = [item for item in chunk if item[0]["_id"] not in rejected] + stubs
        finally:
            gate.release()
        new = [item for item in chunk if item[0]["_id"] in ids]
        acks = await self.publisher.enqueue(
            [c for _, cmds, _ in new for c in cmds],
            [e for _, _, evs in new for e in evs],
            {doc["_id"]: doc.get("traceparent") for doc, _, _ in new},
        )
        return ids, acks

    def _start(
        self, zap: ActiveZap, event: CloudEvent, trigger: dict[str, Any], now: datetime
    ) -> tuple[dict[str, Any], Commands, RunEvents]:
        doc = new_run(zap, event.id, event.type, trigger, now)
        context = run_context(trigger, {}, zap.zap_id, zap.version, zap.name)
        if not passes(zap.filter, context):
            doc.update(status=RunStatus.filtered.value, finished_at=now, filter=explain(zap.filter, context))
            return doc, [], [(_event(doc, RunTransition.finished, now), 1)]
        t = machine.start(doc, zap, now=now, deadline=self.deadline, catalog=self.catalog)
        doc["steps"].update(t.patch.new_steps)
        doc.update(t.patch.run)
        return doc, t.commands, t.events

    # ------------------------------------------------------------------ results

    async def on_results(self, results: list[tuple[ActionResult, int]]) -> dict[int, str]:
        """Apply results (grouped by run so one run's results apply in order); returns
        {position in ``results``: reason} for results to dead-letter.

        Each run is read right before its results are applied (one read and one write per run, both
        by ``_id``); the commands and lifecycle events of the whole batch are handed to the
        producer as they come and their acknowledgements awaited once, before the batch commits.
        A failure that is about one run (not an unreachable store or broker) dead-letters that
        run's remaining results and the batch goes on.
        """
        groups: dict[str, list[tuple[int, ActionResult, int]]] = defaultdict(list)
        for position, (result, attempt) in enumerate(results):
            groups[result.run_id].append((position, result, attempt))
        pending: list[Any] = []
        poison: dict[int, str] = {}

        async def apply_group(run_id: str, items: list[tuple[int, ActionResult, int]]) -> None:
            async with self._writers:
                run = await self.runs.get(run_id)
                for n, (_, result, attempt) in enumerate(items):
                    if run is None:
                        log.warning("result for unknown run %s (step %s)", run_id, result.step_id)
                        return
                    try:
                        run = await self._apply(run, result, attempt, pending)
                    except Exception as exc:
                        if is_transient(exc):
                            raise
                        log.exception("result for run %s (step %s) failed", run_id, result.step_id)
                        reason = f"the result could not be applied: {type(exc).__name__}: {exc}"[:1000]
                        poison.update({pos: reason for pos, _, _ in items[n:]})
                        return

        try:
            await asyncio.gather(*(apply_group(rid, items) for rid, items in groups.items()))
        finally:
            await self.publisher.wait(pending)
        return poison

    async def on_progress(self, progress: list[CommandProgress]) -> None:
        """Gateways' word that commands wait for their organisation's budget: those runs show
        ``holding`` until their results come. Best effort: a word that loses a race with its
        result (or is about anything else) changes nothing."""
        now = self.clock.now()
        for item in progress:
            run = await self.runs.get(item.run_id)
            if run is None:
                continue
            t = machine.holding(run, item, now)
            if t.outcome is machine.Outcome.apply and t.guard is not None:
                await self.runs.write(run, t.patch, t.guard)

    async def _apply(
        self, run: dict[str, Any], result: ActionResult, attempt: int, pending: list[Any]
    ) -> dict[str, Any] | None:
        """Apply one result to ``run`` (as just read); the run afterwards. Records to publish are
        handed to the producer and their acknowledgements added to ``pending``.

        The transition is the state machine's (``domain/machine.py``); this performs it in the
        order the delivery rules need: schedule, lifecycle events, the write, then commands.
        """
        now = self.clock.now()
        state = run.get("steps", {}).get(result.step_id)
        zap = None
        if state is not None and state.get("status") == StepStatus.running:
            zap = await self.versions.get(run["zap_id"], run["zap_version"])
        t = machine.apply_result(
            run,
            result,
            attempt,
            zap,
            now=now,
            ladder=self.ladder,
            deadline=self.deadline,
            catalog=self.catalog,
        )
        if t.outcome is machine.Outcome.ignore:
            return run
        if t.outcome is machine.Outcome.stale:
            # A duplicate or stale result (applied already, or for an older attempt). After a crash
            # the next step's command may not have been sent: make sure the run is checked on.
            if state is not None and state.get("command_id") == result.command_id:
                await self._ensure_wake(run, now)
            return run
        self.metrics.step_latency.labels(state.get("action", ""), result.status.value).observe(t.elapsed_s)
        return await self._perform(run, t, pending, result.step_id, attempt, now)

    async def _perform(
        self,
        run: dict[str, Any],
        t: machine.Transition,
        pending: list[Any],
        path: str,
        attempt: int,
        now: datetime,
    ) -> dict[str, Any] | None:
        """Perform a transition in the order the delivery rules need: schedule, lifecycle events,
        the write (a compare-and-set), then commands."""
        try:
            await self.runs.check_patch(run, t.patch)
        except Unstorable as exc:
            t = machine.unstorable_result(run, path, attempt, str(exc), now, t.elapsed_s, t.guard)
        for entry in t.schedule:
            # Before the run says "waiting": a waiting run always has its retry (a stray item, if
            # the write below loses, finds the run moved on and is dropped).
            await self.schedule.set(entry.run_id, entry.wake_at, entry.kind, entry.step_path, entry.attempt)
        traces = {run["_id"]: run.get("traceparent")}
        # The transition's lifecycle events are acknowledged before the run is written: once the
        # write is in, a redelivered result finds the step applied and publishes nothing, so a crash
        # between the write and a later publish would lose them from runs.v1. Published first, a
        # crash before the write makes the redelivered result apply and publish them again with the
        # same deterministic ce_ids (runs.v1 consumers dedupe by ce_id).
        await self.publisher.wait(await self.publisher.enqueue([], t.events, traces))
        assert t.guard is not None
        updated = await self.runs.write(run, t.patch, t.guard)
        if updated is None:
            return await self.runs.get(run["_id"])  # another consumer applied it first
        # The next step's command after the write: a lost one is recovered by the run's check.
        pending += await self.publisher.enqueue(t.commands, [], traces)
        self._count(updated)
        if updated["status"] == RunStatus.failed.value:
            await self._failed(updated)
        return updated

    async def _wake_delay(self, run: dict[str, Any], path: str, claimed_at: datetime, now: datetime) -> int:
        """A delay step's timer: take its turn in its queue if it has one, else move the run on
        from it. Returns how many commands were sent."""
        state = run["steps"][path]
        if state.get("queue") is not None and state.get("queue_turn") is None:
            turn = await self.schedule.take_turn(
                run["tenant"], state["queue"], state.get("spacing_s", 0.0), now
            )
            if turn > now:
                update = {"$set": {f"steps.{path}.queue_turn": turn, f"steps.{path}.next_attempt_at": turn}}
                # The schedule first (a waiting run always has its wake-up), then the run.
                await self.schedule.set(run["_id"], turn, "retry", path, int(state.get("attempt", 1)))
                await self.runs.update_if(
                    run["_id"], {f"steps.{path}.status": StepStatus.waiting}, update, current=run
                )
                return 0
        zap = await self.versions.get(run["zap_id"], run["zap_version"])
        t = machine.fire_delay(run, path, zap, now=now, deadline=self.deadline, catalog=self.catalog)
        if t.outcome is not machine.Outcome.apply:
            await self.schedule.done(run["_id"], claimed_at)
            return 0
        current = t.patch.run.get("current_step")
        if t.commands and current is not None:
            # Watch the command like any sent one (a crash before it leaves re-sends it).
            attempt = int(t.patch.new_steps.get(current, {}).get("attempt", 1))
            await self.schedule.set(run["_id"], now + self.redispatch_after, "check", current, attempt)
        pending: list[Any] = []
        updated = await self._perform(run, t, pending, path, int(state.get("attempt", 1)), now)
        await self.publisher.wait(pending)
        if updated is not None and updated["status"] in FINISHED_STATES:
            await self.schedule.done(run["_id"])
        for app, _ in t.commands:
            self.metrics.commands.labels(app, "next").inc()
        return len(t.commands)

    # ------------------------------------------------------------------ scheduler

    async def tick(self, limit: int = 200) -> int:
        """Handle what is due: autoreplay attempts, and steps whose result never came (their
        command may have been lost in a crash). Returns how many commands were sent.

        A check (a step that may never have been sent) is acted on only once every result that
        was in the results topic when it came due has been applied: a result waiting behind a
        backlog is not a lost command, and re-sending it would emit the step twice.
        """
        now = self.clock.now()
        sent = 0
        items = await self.schedule.due(now, limit, kind="retry")
        checks = await self.schedule.due(now, limit, kind="check")
        if checks and self.progress is not None:
            until = await self._results_applied_until(now)
            checks = [c for c in checks if until is not None and c["wake_at"] <= until]
        for item in items + checks:
            claimed = await self.schedule.claim(item, now + self.redispatch_after)
            if claimed is None:
                continue  # another replica took it
            run = await self.runs.get(item["_id"])
            sid, attempt = item["step_id"], int(item["attempt"])
            state = (run or {}).get("steps", {}).get(sid)
            if run is None or state is None or run["status"] in FINISHED_STATES:
                await self.schedule.done(item["_id"], claimed["wake_at"])
                continue
            p = f"steps.{sid}."
            if item["kind"] == "retry" and state.get("kind") == "delay":
                sent += await self._wake_delay(run, sid, claimed["wake_at"], now)
            elif item["kind"] == "retry":
                if run["status"] == RunStatus.waiting.value and state.get("attempt") == attempt:
                    update = {
                        "$set": {
                            "status": RunStatus.running.value,
                            p + "status": StepStatus.running,
                            p + "attempt": attempt + 1,
                            p + "started_at": now,
                            "updated_at": now,
                        }
                    }
                    moved = await self.runs.update_if(
                        run["_id"],
                        {"status": RunStatus.waiting.value, p + "attempt": attempt},
                        update,
                        current=run,
                    )
                    if moved is not None:
                        await self.publisher.send(
                            [(state["app"], command_from_state(moved, sid, attempt + 1, now, self.deadline))],
                            traces={run["_id"]: run.get("traceparent")},
                        )
                        self.metrics.commands.labels(state["app"], "retry").inc()
                        sent += 1
                # From now on, watch the new attempt like any sent command.
                await self.schedule.set(run["_id"], now + self.redispatch_after, "check", sid, attempt + 1)
            elif (
                run["status"] in machine.IN_FLIGHT
                and state.get("status") == StepStatus.running
                and state.get("attempt") == attempt
            ):
                await self.runs.update_if(run["_id"], {}, {"$inc": {p + "redispatches": 1}}, current=run)
                await self.publisher.send(
                    [(state["app"], command_from_state(run, sid, attempt, now, self.deadline))],
                    traces={run["_id"]: run.get("traceparent")},
                )
                self.metrics.commands.labels(state["app"], "redispatch").inc()
                sent += 1
            else:
                await self.schedule.done(item["_id"], claimed["wake_at"])
        return sent

    async def _results_applied_until(self, now: datetime) -> datetime | None:
        """The latest time up to which every produced result has been applied, or ``None`` while
        the group is still behind the results topic's end as it was when checks came due."""
        assert self.progress is not None
        try:
            if self._barrier is None:
                self._barrier = (now, await self.progress.end_offsets())
            at, snapshot = self._barrier
            if await self.progress.caught_up(snapshot):
                self._barrier = None
                return at
        except Exception as exc:  # a Kafka blip delays checks; retries go on
            log.warning("results progress unknown (%s); checks wait", exc)
        return None

    async def expire_runs(self) -> int:
        """Retention: delete runs that finished more than ``retention`` ago; how many."""
        if self.retention is None:
            return 0
        deleted = await self.runs.delete_finished(self.clock.now() - self.retention)
        if deleted:
            log.info("deleted %d runs finished more than %s ago", deleted, self.retention)
        return deleted

    async def _ensure_wake(self, run: dict[str, Any], now: datetime) -> None:
        """Make sure an unfinished run will be looked at again (after a redelivery)."""
        sid = run.get("current_step")
        state = run.get("steps", {}).get(sid or "")
        if state is None:
            return
        if run["status"] in machine.IN_FLIGHT and state.get("status") == StepStatus.running:
            await self.schedule.add_check(run["_id"], now + self.redispatch_after, sid, int(state["attempt"]))
        elif run["status"] == RunStatus.waiting.value:
            wake = state.get("next_attempt_at") or now
            await self.schedule.set(run["_id"], wake, "retry", sid, int(state["attempt"]))

    # ------------------------------------------------------------------ cancel

    async def cancel(self, run_id: str, tenant: str, reason: str = "cancelled on request") -> dict[str, Any]:
        """End a running or waiting run ``cancelled``. A command already sent still finishes at
        its gateway; its result is recorded nowhere (the run stays cancelled), and a waiting
        retry is dropped when it comes due."""
        run = await self.runs.get(run_id, tenant)
        if run is None:
            raise RunNotFound(run_id)
        t = machine.cancel(run, reason, self.clock.now())
        if isinstance(t, str):
            raise CancelRefused(t)
        assert t.guard is not None
        updated = await self.runs.write(run, t.patch, t.guard)
        if updated is None:
            raise CancelRefused(f"run {run_id} changed while cancelling; try again")
        await self.publisher.send([], t.events, {run_id: updated.get("traceparent")})
        self._count(updated)
        return updated

    async def cancel_many(
        self, tenant: str, *, limit: int = 1000, reason: str = "cancelled on request", **query: Any
    ) -> dict[str, int]:
        """Cancel up to ``limit`` running/waiting runs matching ``query`` (the run listing's
        ``zap_id``, ``status``, ``since``, ``until``); {cancelled, skipped} counts."""
        status = query.pop("status", None)
        statuses = [status] if status else list(CANCELLABLE)
        if any(s not in CANCELLABLE for s in statuses):
            raise CancelRefused(f"only running or waiting runs can be cancelled, not {status}")
        cancelled = skipped = 0
        for wanted in statuses:
            cursor = None
            while cancelled + skipped < limit:
                page, cursor = await self.runs.list(tenant, status=wanted, cursor=cursor, limit=100, **query)
                for run in page[: limit - cancelled - skipped]:
                    try:
                        await self.cancel(run["_id"], tenant, reason)
                        cancelled += 1
                    except (CancelRefused, RunNotFound):
                        skipped += 1  # finished (or changed) since it was listed
                if cursor is None:
                    break
        return {"cancelled": cancelled, "skipped": skipped}

    async def cancel_waiting(self, tenant: str, zap_id: str, reason: str) -> int:
        """A zap was turned off: its waiting runs (retries not yet sent) are cancelled."""
        outcome = await self.cancel_many(
            tenant, zap_id=zap_id, status=RunStatus.waiting.value, limit=100_000, reason=reason
        )
        return outcome["cancelled"]

    # ------------------------------------------------------------------ replay

    async def replay(self, run_id: str, tenant: str, zap: ActiveZap) -> dict[str, Any]:
        """Re-run a failed (or halted) run from its failed step with ``zap`` (the current version).

        Steps that succeeded are not repeated; their outputs feed the replayed step. The command id
        is the same as before (it hashes the step's path, not the version or attempt).
        """
        run = await self.runs.get(run_id, tenant)
        if run is None:
            raise RunNotFound(run_id)
        now = self.clock.now()
        t = machine.replay(run, zap, now=now, deadline=self.deadline, catalog=self.catalog)
        if isinstance(t, str):
            raise ReplayRefused(t)
        update = run_store_update(t.patch)
        update["$inc"] = {"replays": 1}
        updated = await self.runs.update_if(
            run_id, {"status": run["status"], "updated_at": run["updated_at"]}, update, current=run
        )
        if updated is None:
            raise ReplayRefused(f"run {run_id} changed while replaying; try again")
        for entry in t.schedule:
            await self.schedule.set(entry.run_id, entry.wake_at, entry.kind, entry.step_path, entry.attempt)
        current = updated.get("current_step")
        if t.commands and current is not None:
            attempt = int(updated["steps"][current].get("attempt", 1))
            await self.schedule.set(run_id, now + self.redispatch_after, "check", current, attempt)
        await self.publisher.send(t.commands, t.events, {run_id: updated.get("traceparent")})
        self._count(updated)
        return updated

    # ------------------------------------------------------------------ helpers

    def _count(self, run: dict[str, Any]) -> None:
        if run["status"] in FINISHED_STATES:
            self.metrics.runs.labels(run["status"]).inc()

    async def _failed(self, run: dict[str, Any]) -> None:
        """Start the zap's health check (auto-disable) beside the batch, not in its way: it counts
        runs, a scan on FerretDB (made on every fifth failure only), and a batch of one tenant's
        failures must not hold the others' runs."""
        if self.on_run_failed is None:
            return
        task = asyncio.create_task(self._check_health(run))
        self._health_checks.add(task)  # a reference until it is done (the loop keeps weak ones)
        task.add_done_callback(self._health_checks.discard)

    async def _check_health(self, run: dict[str, Any]) -> None:
        assert self.on_run_failed is not None
        try:
            await self.on_run_failed(run)
        except Exception:  # the health check must never undo a recorded result
            log.exception("auto-disable check failed for zap %s", run["zap_id"])
