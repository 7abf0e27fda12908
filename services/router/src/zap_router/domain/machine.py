"""The run as a typed, pure state machine (issue 15; DESIGN.md §3, §4.1).

An input (a step result, a cancel) and the run as just read go in; a :class:`Transition` comes out:
the run patch (run fields, and step fields addressed by the step's *path*), the compare-and-set
guard it must be written under, the commands to send, the run events to publish and the schedule
entries to make. Nothing here does I/O or knows how the store writes a patch (the run store turns a
:class:`RunPatch` into its update); the use cases in ``engine/runner.py`` perform transitions in the
order the delivery rules need (schedule, events, write, commands).

Step paths: today a step's path is its id (a straight line of steps). The step graph of §4.1
(paths, loops, error branches) addresses nested steps by a path such as ``"paths.big/invoice"``;
every function here takes and returns paths, so the graph adds kinds of steps, not a new model.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from kxflow_contracts.catalog import Catalog
from kxflow_contracts.commands import ActionCommand
from kxflow_contracts.results import ActionResult, ResultStatus
from kxflow_contracts.runs import CANCELLED, RunEvent, RunStatus, RunTransition
from zap_router.domain.context import run_context
from zap_router.domain.matching import ActiveZap
from zap_router.domain.retry import next_delay
from zap_router.domain.runs import StepStatus, error_doc, outputs_of, plan_step

CANCELLABLE = (RunStatus.running.value, RunStatus.waiting.value)


@dataclass
class RunPatch:
    """Fields to set on the run, and on steps by path (a whole step state when it is new)."""

    run: dict[str, Any] = field(default_factory=dict)
    steps: dict[str, dict[str, Any]] = field(default_factory=dict)
    new_steps: dict[str, dict[str, Any]] = field(default_factory=dict)

    def step(self, path: str) -> dict[str, Any]:
        return self.steps.setdefault(path, {})


@dataclass(frozen=True)
class Guard:
    """What the run must still be for the patch to apply (a compare-and-set)."""

    run_status: str
    step_path: str | None = None
    step_status: str | None = None
    attempt: int | None = None
    updated_at: datetime | None = None


@dataclass(frozen=True)
class ScheduleEntry:
    run_id: str
    wake_at: datetime
    kind: str  # "retry" or "check"
    step_path: str
    attempt: int


class Outcome(StrEnum):
    apply = "apply"  # write the patch under the guard
    stale = "stale"  # a duplicate or older result: nothing to write; the run may need a check
    ignore = "ignore"  # nothing to do at all (a result for a cancelled run)


@dataclass
class Transition:
    outcome: Outcome
    patch: RunPatch = field(default_factory=RunPatch)
    guard: Guard | None = None
    commands: list[tuple[str, ActionCommand]] = field(default_factory=list)
    events: list[tuple[RunEvent, int]] = field(default_factory=list)
    schedule: list[ScheduleEntry] = field(default_factory=list)
    elapsed_s: float = 0.0  # how long the step took (for the step latency metric)

    @property
    def status(self) -> str | None:
        """The run's status after the transition, if it changes."""
        return self.patch.run.get("status")


def run_event(
    run: dict[str, Any],
    transition: RunTransition,
    at: datetime,
    status: str | None = None,
    step_id: str | None = None,
    step_status: str | None = None,
    error: dict[str, Any] | None = None,
) -> RunEvent:
    """A ``runs.v1`` event for ``run``; a cancelled run says ``halted`` + ``status_detail``."""
    status = status or run["status"]
    detail = None
    if status == CANCELLED:  # runs.v1's status enum predates it (see kxflow_contracts.runs)
        status, detail = RunStatus.halted.value, CANCELLED
    return RunEvent(
        run_id=run["_id"],
        tenant=run["tenant"],
        zap_id=run["zap_id"],
        zap_version=run["zap_version"],
        trigger_event_id=run["trigger_event_id"],
        transition=transition,
        status=RunStatus(status),
        status_detail=detail,
        step_id=step_id,
        step_status=step_status,
        error=error,
        at=at,
    )


def apply_result(
    run: dict[str, Any],
    result: ActionResult,
    attempt: int,
    zap: ActiveZap | None,
    *,
    now: datetime,
    ladder: tuple[timedelta, ...],
    deadline: timedelta,
    catalog: Catalog,
) -> Transition:
    """A step's result: the next step, a retry on the ladder, or the end of the run.

    ``zap`` is the version the run runs (``None`` when it is gone). A result for another command
    or attempt, or for a step no longer running, is ``stale``; one for a cancelled run is ignored.
    """
    path = result.step_id
    state = run.get("steps", {}).get(path)
    if run.get("status") == CANCELLED:
        return Transition(Outcome.ignore)  # the command was sent before the cancel; the run stays so
    if (
        state is None
        or state.get("command_id") != result.command_id
        or state.get("status") != StepStatus.running
        or state.get("attempt") != attempt
    ):
        return Transition(Outcome.stale)
    started = state.get("started_at") or now
    elapsed = max((now - started).total_seconds(), 0.0) if started.tzinfo else 0.0
    t = Transition(
        Outcome.apply,
        guard=Guard(run["status"], path, StepStatus.running, attempt),
        elapsed_s=elapsed,
    )
    t.patch.run["updated_at"] = now
    t.patch.step(path).update(
        finished_at=now, duration_ms=result.duration_ms or elapsed * 1000, gateway_attempts=result.attempts
    )
    step = zap.step(path) if zap is not None and path in run.get("step_order", []) else None

    def step_done(status: str, step_path: str, step_status: str, error: Any = None, n: int = attempt) -> None:
        t.events.append(
            (run_event(run, RunTransition.step_done, now, status, step_path, step_status, error), n)
        )

    def finish(status: RunStatus, error: dict[str, Any] | None = None) -> None:
        t.patch.run.update(status=status.value, finished_at=now, error=error)
        t.events.append((run_event(run, RunTransition.finished, now, status.value, error=error), attempt))

    proceed = result.status is ResultStatus.succeeded or (
        result.status is ResultStatus.not_found and step is not None and step.on_not_found == "continue"
    )
    if zap is None or step is None:
        error = error_doc("zap_missing", f"zap {run['zap_id']} version {run['zap_version']} is gone")
        t.patch.step(path).update(status=StepStatus.failed, error=error)
        finish(RunStatus.failed, error)
    elif proceed:
        t.patch.step(path).update(status=result.status.value, output=result.output)
        nxt = zap.step_after(path)
        if nxt is None:
            step_done(RunStatus.succeeded.value, path, result.status.value)
            finish(RunStatus.succeeded)
            return t
        outputs = {**outputs_of(run), path: result.output if result.output is not None else {}}
        plan = plan_step(
            zap,
            nxt,
            run_id=run["_id"],
            event_id=run["trigger_event_id"],
            context=run_context(run["trigger"], outputs, zap.zap_id, zap.version, zap.name),
            attempt=1,
            now=now,
            deadline=deadline,
            catalog=catalog,
        )
        t.patch.new_steps[nxt.id] = plan.state
        t.patch.run["current_step"] = nxt.id
        if plan.command is not None:
            step_done(RunStatus.running.value, path, result.status.value)
            t.commands.append((nxt.app, plan.command))
        else:
            step_done(RunStatus.failed.value, path, result.status.value)
            step_done(RunStatus.failed.value, nxt.id, StepStatus.failed, plan.error, 1)
            finish(RunStatus.failed, plan.error)
    elif result.status is ResultStatus.not_found:
        t.patch.step(path).update(status=StepStatus.not_found, output=result.output)
        step_done(RunStatus.halted.value, path, StepStatus.not_found)
        finish(RunStatus.halted)
    else:
        error = (
            result.error.model_dump(mode="json")
            if result.error is not None
            else error_doc("unknown_error", "the gateway reported a failure without an error")
        )
        t.patch.step(path)["error"] = error
        t.patch.step(path)[f"tries.{attempt}"] = {"error": error, "at": now}
        delay = next_delay(attempt, ladder) if error.get("retryable") else None
        if delay is not None:
            t.patch.step(path).update(status=StepStatus.waiting, next_attempt_at=now + delay)
            t.patch.run.update(status=RunStatus.waiting.value, error=error)
            step_done(RunStatus.waiting.value, path, StepStatus.waiting, error)
            # Scheduled before the run says "waiting": a waiting run always has its retry.
            t.schedule.append(ScheduleEntry(run["_id"], now + delay, "retry", path, attempt))
        else:
            t.patch.step(path)["status"] = StepStatus.failed
            step_done(RunStatus.failed.value, path, StepStatus.failed, error)
            finish(RunStatus.failed, error)
    return t


def unstorable_result(
    run: dict[str, Any], path: str, attempt: int, reason: str, now: datetime, elapsed_s: float = 0.0
) -> Transition:
    """A result the store cannot hold (an output too large, a value it cannot encode) ends the run
    failed, with the reason and without the output; nothing after it is sent."""
    error = error_doc("run_unstorable", f"the step's result could not be stored: {reason}")
    t = Transition(
        Outcome.apply, guard=Guard(run["status"], path, StepStatus.running, attempt), elapsed_s=elapsed_s
    )
    t.patch.step(path).update(finished_at=now, status=StepStatus.failed, error=error, output=None)
    t.patch.run.update(updated_at=now, status=RunStatus.failed.value, finished_at=now, error=error)
    t.events = [
        (run_event(run, RunTransition.step_done, now, "failed", path, StepStatus.failed, error), attempt),
        (run_event(run, RunTransition.finished, now, RunStatus.failed.value, error=error), attempt),
    ]
    return t


def cancel(run: dict[str, Any], reason: str, now: datetime) -> Transition | str:
    """End a running or waiting run ``cancelled``; the refusal's reason for any other run."""
    if run["status"] not in CANCELLABLE:
        return f"run {run['_id']} is {run['status']}; only running or waiting runs can stop"
    error = error_doc("cancelled", reason)
    t = Transition(Outcome.apply, guard=Guard(run["status"], updated_at=run["updated_at"]))
    t.patch.run.update(status=CANCELLED, finished_at=now, updated_at=now, error=error)
    t.events.append((run_event(run, RunTransition.finished, now, CANCELLED, error=error), 1))
    return t
