"""Walking the step graph of DESIGN.md §4.1: what a run does next.

A run's steps live in one dict keyed by step *path* (``contact``, ``route/gst/invoice``,
``lines[3]/item``, ``contact/on_error/alert``). :func:`walk` goes through the zap's steps from the
start, over the states the run already has, and stops at the first step that is not finished: an
action it plans (render → command), one in flight, a delay it schedules. On the way it decides the
control steps it meets for the first time (a filter passes or not, which paths run, the list a loop
goes over) and records each decision in the step's state, so a later walk (after a result, a timer,
a restart, a replay) takes the same route. A linear zap's step path is its id, so its command ids
are those it always had.

Pure: the caller turns a :class:`Walk` into a run patch, commands and schedule entries.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from kxflow_contracts.catalog import Catalog
from kxflow_contracts.commands import ActionCommand
from zap_router.domain.context import run_context
from zap_router.domain.dates import parse_datetime, parse_duration
from zap_router.domain.filters import explain, passes
from zap_router.domain.matching import ActiveZap
from zap_router.domain.runs import MAX_INPUT_BYTES, StepStatus, error_doc, plan_step
from zap_router.domain.templates import TemplateRenderError, compile_template
from zap_router.domain.zaps import ResolvedStep, StepKind

FILTERED = "filtered"  # a filter step's status when its rule did not pass


class Stop(StrEnum):
    """Why a walk through a list of steps ended before its last step."""

    blocked = "blocked"  # a step is in flight or waiting
    filtered = "filtered"  # a filter did not pass: the rest of this list does not run
    failed = "failed"
    halted = "halted"  # a search found nothing and the step says halt
    handled = "handled"  # a step failed and its on_error branch ran


@dataclass
class Walk:
    """What one walk produced: step states to write (whole), commands, and how the run stands."""

    states: dict[str, dict[str, Any]] = field(default_factory=dict)
    commands: list[tuple[str, ActionCommand]] = field(default_factory=list)
    failures: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # steps failed unsent
    stop: Stop | None = None  # None: every step ran (the run succeeded)
    current: str | None = None  # the step in flight or waiting
    waiting_until: datetime | None = None  # a delay: when it wakes
    error: dict[str, Any] | None = None

    @property
    def end(self) -> str | None:
        """The run's final status, or ``None`` while it goes on."""
        if self.stop is None:
            return "succeeded"
        if self.stop is Stop.blocked:
            return None
        return self.stop.value


class _Walker:
    def __init__(
        self,
        zap: ActiveZap,
        run: dict[str, Any],
        now: datetime,
        deadline: timedelta,
        catalog: Catalog,
        attempts: dict[str, int],
    ) -> None:
        self.zap = zap
        self.run = run
        self.now = now
        self.deadline = deadline
        self.catalog = catalog
        self.attempts = attempts
        self.states: dict[str, dict[str, Any]] = dict(run.get("steps", {}))
        self.out = Walk()

    def set(self, path: str, state: dict[str, Any]) -> None:
        self.states[path] = state
        self.out.states[path] = state

    def context(self, scope: dict[str, Any], loop: dict[str, Any] | None) -> dict[str, Any]:
        z = self.zap
        context = run_context(self.run["trigger"], scope, z.zap_id, z.version, z.name)
        if loop is not None:
            context["loop"] = loop
        return context

    def output(self, step: ResolvedStep, path: str) -> Any:
        state = self.states.get(path) or {}
        if step.kind is StepKind.loop:
            count = len(state.get("items") or [])
            subs = step.steps or []
            return [
                {
                    s.id: self.output(s, f"{path}[{i}]/{s.id}")
                    for s in subs
                    if f"{path}[{i}]/{s.id}" in self.states
                }
                for i in range(count)
            ]
        output = state.get("output")
        return output if output is not None else {}

    # ------------------------------------------------------------------ lists of steps

    def block(
        self, steps: list[ResolvedStep], prefix: str, scope: dict[str, Any], loop: dict[str, Any] | None
    ) -> Stop | None:
        scope = dict(scope)
        for step in steps:
            path = prefix + step.id
            stop = self.step(step, path, scope, loop)
            if stop is not None:
                return stop
            scope[step.id] = self.output(step, path)
        return None

    def step(
        self, step: ResolvedStep, path: str, scope: dict[str, Any], loop: dict[str, Any] | None
    ) -> Stop | None:
        if step.kind is StepKind.action:
            return self.action(step, path, scope, loop)
        state = self.states.get(path)
        if state is not None and state.get("status") == StepStatus.succeeded:
            return None
        if state is not None and state.get("status") == FILTERED:
            return Stop.filtered
        if state is not None and state.get("status") == StepStatus.failed:
            self.out.error = state.get("error")
            return Stop.failed
        if step.kind is StepKind.filter:
            return self.filter(step, path, scope, loop)
        if step.kind is StepKind.delay:
            return self.delay(step, path, state, scope, loop)
        if step.kind is StepKind.paths:
            return self.paths(step, path, state, scope, loop)
        return self.loop(step, path, state, scope)

    def control_state(self, step: ResolvedStep, status: str, **fields: Any) -> dict[str, Any]:
        return {
            "kind": step.kind.value,
            "status": status,
            "output": None,
            "error": None,
            "started_at": self.now,
            "finished_at": self.now if status != StepStatus.running else None,
            "duration_ms": 0.0 if status != StepStatus.running else None,
            **fields,
        }

    def fail(self, step: ResolvedStep, path: str, error: dict[str, Any], **fields: Any) -> Stop:
        self.set(path, self.control_state(step, StepStatus.failed, error=error, **fields))
        self.out.failures.append((path, error))
        self.out.error = error
        self.out.current = path
        return Stop.failed

    # ------------------------------------------------------------------ kinds

    def action(
        self, step: ResolvedStep, path: str, scope: dict[str, Any], loop: dict[str, Any] | None
    ) -> Stop | None:
        state = self.states.get(path)
        if state is None:
            plan = plan_step(
                self.zap,
                step,
                run_id=self.run["_id"],
                event_id=self.run["trigger_event_id"],
                context=self.context(scope, loop),
                attempt=self.attempts.get(path, 1),
                now=self.now,
                deadline=self.deadline,
                catalog=self.catalog,
                path=path,
            )
            self.set(path, plan.state)
            if plan.command is not None:
                self.out.commands.append((step.app, plan.command))
                self.out.current = path
                return Stop.blocked
            assert plan.error is not None
            self.out.failures.append((path, plan.error))
            state = plan.state
        status = state.get("status")
        if status in (StepStatus.running, StepStatus.waiting):
            self.out.current = path
            return Stop.blocked
        if status == StepStatus.succeeded:
            return None
        if status == StepStatus.not_found:
            return None if step.on_not_found == "continue" else Stop.halted
        # failed for good
        if not step.on_error:
            self.out.error = state.get("error")
            self.out.current = path
            return Stop.failed
        self.out.error = state.get("error")  # what the branch handled (the run keeps it)
        stop = self.block(step.on_error, f"{path}/on_error/", scope, loop)
        if stop in (None, Stop.filtered):
            return Stop.handled
        return stop

    def filter(
        self, step: ResolvedStep, path: str, scope: dict[str, Any], loop: dict[str, Any] | None
    ) -> Stop | None:
        context = self.context(scope, loop)
        passed = passes(step.filter, context)
        self.set(
            path,
            self.control_state(
                step,
                StepStatus.succeeded if passed else FILTERED,
                output={"passed": passed},
                conditions=explain(step.filter, context),
            ),
        )
        return None if passed else Stop.filtered

    def render(self, source: str, where: str, scope: dict[str, Any], loop: dict[str, Any] | None) -> Any:
        return compile_template(source, where).render(self.context(scope, loop))

    def delay(
        self,
        step: ResolvedStep,
        path: str,
        state: dict[str, Any] | None,
        scope: dict[str, Any],
        loop: dict[str, Any] | None,
    ) -> Stop | None:
        if state is not None:  # waiting (a timer moves it on)
            self.out.current = path
            self.out.waiting_until = state.get("next_attempt_at")
            return Stop.blocked
        spec = step.delay
        assert spec is not None
        where = f"steps.{step.id}.delay"
        try:
            spacing = parse_duration(spec.for_) if spec.for_ else timedelta(0)
            if spec.until is not None:
                wake = parse_datetime(self.render(spec.until, f"{where}.until", scope, loop))
            else:
                wake = self.now + spacing
            key = (
                self.render(spec.after_queue, f"{where}.after_queue", scope, loop)
                if spec.after_queue
                else None
            )
        except TemplateRenderError as exc:
            return self.fail(step, path, error_doc(exc.code, str(exc), template=exc.where))
        except (TypeError, ValueError, OverflowError, OSError) as exc:
            return self.fail(step, path, error_doc("invalid_delay", f"the delay's time is not a time: {exc}"))
        if key is None and wake <= self.now:
            self.set(path, self.control_state(step, StepStatus.succeeded, output={"waited_until": None}))
            return None
        fields: dict[str, Any] = {"attempt": 1, "next_attempt_at": wake}
        if key is not None:
            # Its turn in the queue is taken when the timer first fires (the engine's queue store).
            fields.update(queue=str(key)[:200], spacing_s=spacing.total_seconds(), next_attempt_at=self.now)
            wake = self.now
        self.set(path, self.control_state(step, StepStatus.waiting, **fields))
        self.out.current = path
        self.out.waiting_until = wake
        return Stop.blocked

    def paths(
        self,
        step: ResolvedStep,
        path: str,
        state: dict[str, Any] | None,
        scope: dict[str, Any],
        loop: dict[str, Any] | None,
    ) -> Stop | None:
        if state is None:
            context = self.context(scope, loop)
            ran = [p.name for p in step.paths or () if not p.fallback and passes(p.when, context)]
            if not ran:
                ran = [p.name for p in step.paths or () if p.fallback]
            state = self.control_state(step, StepStatus.running, chosen=ran)
            self.set(path, state)
        branches = {p.name: p for p in step.paths or ()}
        for name in state.get("chosen", []):
            stop = self.block(branches[name].steps, f"{path}/{name}/", scope, loop)
            if stop is Stop.filtered:
                continue  # a filter ends its own path only
            if stop is not None:
                return stop
        self.finish(step, path, state, {"paths": state.get("chosen", [])})
        return None

    def loop(
        self, step: ResolvedStep, path: str, state: dict[str, Any] | None, scope: dict[str, Any]
    ) -> Stop | None:
        spec = step.loop
        assert spec is not None
        if state is None:
            try:
                items = self.render(spec.over, f"steps.{step.id}.loop.over", scope, None)
            except TemplateRenderError as exc:
                return self.fail(step, path, error_doc(exc.code, str(exc), template=exc.where))
            if items is None:
                items = []
            if not isinstance(items, list):
                error = error_doc("loop_not_a_list", f"loop over gave a {type(items).__name__}, not a list")
                return self.fail(step, path, error)
            skipped = max(len(items) - spec.max, 0)
            items = items[: spec.max]
            size = len(json.dumps(items, separators=(",", ":"), default=str))
            if size > MAX_INPUT_BYTES:
                error = error_doc(
                    "loop_too_large", f"the loop's items are {size} bytes; the cap is {MAX_INPUT_BYTES}"
                )
                return self.fail(step, path, error)
            state = self.control_state(step, StepStatus.running, items=items, skipped=skipped)
            self.set(path, state)
        for index, item in enumerate(state.get("items") or []):
            stop = self.block(step.steps or [], f"{path}[{index}]/", scope, {"item": item, "index": index})
            if stop is Stop.filtered:
                continue  # a filter ends its own iteration only
            if stop is not None:
                return stop
        self.finish(step, path, state, {"count": len(state.get("items") or [])})
        return None

    def finish(self, step: ResolvedStep, path: str, state: dict[str, Any], output: Any) -> None:
        if state.get("status") == StepStatus.succeeded:
            return
        started = state.get("started_at") or self.now
        elapsed = (self.now - started).total_seconds() * 1000 if started.tzinfo else 0.0
        self.set(
            path,
            {
                **state,
                "status": StepStatus.succeeded,
                "output": output,
                "finished_at": self.now,
                "duration_ms": elapsed,
            },
        )


def walk(
    zap: ActiveZap,
    run: dict[str, Any],
    *,
    now: datetime,
    deadline: timedelta,
    catalog: Catalog,
    attempts: dict[str, int] | None = None,
) -> Walk:
    """Advance ``run`` (its ``steps`` as they stand, with any change the caller made) through
    ``zap``'s graph; ``attempts`` gives the attempt number of a step planned anew (a replay)."""
    walker = _Walker(zap, run, now, deadline, catalog, attempts or {})
    walker.out.stop = walker.block(zap.steps, "", {}, None)
    return walker.out
