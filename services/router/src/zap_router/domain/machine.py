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
from kxflow_contracts.results import ActionResult, CommandProgress, ResultStatus
from kxflow_contracts.runs import (
    CANCELLED,
    FINISHED_STATES,
    HANDLED,
    HOLDING,
    RunEvent,
    RunStatus,
    RunTransition,
)
from zap_router.domain import graph
from zap_router.domain.matching import ActiveZap
from zap_router.domain.retry import next_delay
from zap_router.domain.runs import StepStatus, error_doc
from zap_router.domain.zaps import ResolvedStep

CANCELLABLE = (RunStatus.running.value, RunStatus.waiting.value, HOLDING)
IN_FLIGHT = (RunStatus.running.value, HOLDING)  # a step's command is out (holding: at its gateway)


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
    if status in (CANCELLED, HANDLED):  # runs.v1's status enum predates them (kxflow_contracts.runs)
        status, detail = RunStatus.halted.value, status
    elif status == HOLDING:  # still running, at its gateway
        status, detail = RunStatus.running.value, HOLDING
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
    step = _find(zap, path)

    def finish(status: RunStatus, error: dict[str, Any] | None = None) -> None:
        t.patch.run.update(status=status.value, finished_at=now, error=error)
        t.events.append((run_event(run, RunTransition.finished, now, status.value, error=error), attempt))

    if zap is None or step is None:
        error = error_doc("zap_missing", f"zap {run['zap_id']} version {run['zap_version']} is gone")
        t.patch.step(path).update(status=StepStatus.failed, error=error)
        t.events.append(
            (run_event(run, RunTransition.step_done, now, "failed", path, StepStatus.failed, error), attempt)
        )
        finish(RunStatus.failed, error)
        return t
    if result.status in (ResultStatus.succeeded, ResultStatus.not_found):
        t.patch.step(path).update(status=result.status.value, output=result.output)
        advance(
            t,
            run,
            zap,
            now=now,
            deadline=deadline,
            catalog=catalog,
            done=(path, result.status.value, None, attempt),
        )
        return t
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
        t.events.append(
            (
                run_event(run, RunTransition.step_done, now, "waiting", path, StepStatus.waiting, error),
                attempt,
            )
        )
        # Scheduled before the run says "waiting": a waiting run always has its retry.
        t.schedule.append(ScheduleEntry(run["_id"], now + delay, "retry", path, attempt))
        return t
    t.patch.step(path)["status"] = StepStatus.failed
    # A step that failed for good: the walk runs its on_error branch if it has one (``handled``).
    advance(
        t,
        run,
        zap,
        now=now,
        deadline=deadline,
        catalog=catalog,
        done=(path, StepStatus.failed, error, attempt),
    )
    return t


def _find(zap: ActiveZap | None, path: str) -> ResolvedStep | None:
    if zap is None:
        return None
    try:
        return zap.step(path)
    except KeyError:
        return None


def _view(run: dict[str, Any], patch: RunPatch) -> dict[str, Any]:
    """``run`` with ``patch``'s step changes applied (what the walk must see)."""
    steps = dict(run.get("steps", {}))
    for path, fields in patch.steps.items():
        steps[path] = {**steps.get(path, {}), **fields}
    steps.update(patch.new_steps)
    return {**run, "steps": steps}


def advance(
    t: Transition,
    run: dict[str, Any],
    zap: ActiveZap,
    *,
    now: datetime,
    deadline: timedelta,
    catalog: Catalog,
    done: tuple[str, str, dict[str, Any] | None, int] | None = None,
    attempts: dict[str, int] | None = None,
) -> graph.Walk:
    """Walk the graph from ``run`` with ``t``'s patch applied, and add what the walk decided to
    ``t``: step states, commands, the delay's timer, the run's status and its lifecycle events.

    ``done`` is the step whose result (path, step status, error, attempt) led here: its
    ``step_done`` event carries the run's status after the walk, as it always has.
    """
    w = graph.walk(zap, _view(run, t.patch), now=now, deadline=deadline, catalog=catalog, attempts=attempts)
    t.patch.new_steps.update(w.states)
    t.commands += w.commands
    end = w.end
    status = end or (RunStatus.waiting.value if w.waiting_until is not None else RunStatus.running.value)
    t.patch.run["status"] = status
    if w.current is not None:
        t.patch.run["current_step"] = w.current
    if done is not None:
        path, step_status, error, n = done
        t.events.append((run_event(run, RunTransition.step_done, now, status, path, step_status, error), n))
    for path, error in w.failures:
        t.events.append(
            (run_event(run, RunTransition.step_done, now, status, path, StepStatus.failed, error), 1)
        )
    if end is not None:
        error = w.error if end in (RunStatus.failed.value, HANDLED) else None
        t.patch.run.update(finished_at=now, error=error)
        n = done[3] if done is not None else 1
        t.events.append((run_event(run, RunTransition.finished, now, end, error=error), n))
    else:
        t.patch.run["error"] = None
        if w.waiting_until is not None and w.current is not None:
            t.schedule.append(ScheduleEntry(run["_id"], w.waiting_until, "retry", w.current, 1))
    return w


def start(
    run: dict[str, Any], zap: ActiveZap, *, now: datetime, deadline: timedelta, catalog: Catalog
) -> Transition:
    """A new run (its trigger passed the zap's filter): its first steps, up to the first command."""
    t = Transition(Outcome.apply)
    advance(t, run, zap, now=now, deadline=deadline, catalog=catalog)
    waiting = t.patch.run.get("status") == RunStatus.waiting.value
    status = RunStatus.waiting.value if waiting else RunStatus.running.value
    t.events.insert(0, (run_event(run, RunTransition.started, now, status), 1))
    return t


def fire_delay(
    run: dict[str, Any],
    path: str,
    zap: ActiveZap | None,
    *,
    now: datetime,
    deadline: timedelta,
    catalog: Catalog,
) -> Transition:
    """A delay step's timer came due: the step succeeds and the run goes on from it."""
    state = run.get("steps", {}).get(path) or {}
    if run.get("status") != RunStatus.waiting.value or state.get("status") != StepStatus.waiting:
        return Transition(Outcome.stale)
    t = Transition(Outcome.apply, guard=Guard(run["status"], path, StepStatus.waiting, state.get("attempt")))
    t.patch.run["updated_at"] = now
    started = state.get("started_at") or now
    t.patch.step(path).update(
        status=StepStatus.succeeded,
        output={"waited_until": state.get("next_attempt_at")},
        finished_at=now,
        duration_ms=max((now - started).total_seconds(), 0.0) * 1000 if started.tzinfo else 0.0,
    )
    if zap is None:
        error = error_doc("zap_missing", f"zap {run['zap_id']} version {run['zap_version']} is gone")
        t.patch.run.update(status=RunStatus.failed.value, finished_at=now, error=error)
        t.events.append((run_event(run, RunTransition.finished, now, RunStatus.failed.value, error=error), 1))
        return t
    advance(
        t, run, zap, now=now, deadline=deadline, catalog=catalog, done=(path, StepStatus.succeeded, None, 1)
    )
    return t


def replay(
    run: dict[str, Any], zap: ActiveZap, *, now: datetime, deadline: timedelta, catalog: Catalog
) -> Transition | str:
    """Re-run a failed or halted run from the step that stopped it, with ``zap`` (the current
    version); the refusal's reason otherwise. Steps that finished are not repeated (their outputs
    feed the replayed step), and the replayed step's command id is the one it had: it hashes the
    step's path, not the version or the attempt."""
    if run["status"] not in (RunStatus.failed.value, RunStatus.halted.value):
        return f"run {run['_id']} is {run['status']}; only failed or halted runs can be replayed"
    path = run.get("current_step")
    if path is None:
        return f"run {run['_id']} has no step to replay"
    if _find(zap, path) is None:
        return f"step {path!r} no longer exists in version {zap.version} of the zap"
    old = run["steps"].get(path, {})
    attempt = int(old.get("attempt", 0)) + 1
    steps = {p: s for p, s in run["steps"].items() if p != path}
    t = Transition(Outcome.apply, guard=Guard(run["status"], updated_at=run["updated_at"]))
    t.patch.run.update(zap_version=zap.version, updated_at=now)
    if zap.is_linear:
        t.patch.run["step_order"] = [s.id for s in zap.steps]
    w = advance(
        t, {**run, "steps": steps}, zap, now=now, deadline=deadline, catalog=catalog, attempts={path: attempt}
    )
    if path in w.states:
        w.states[path]["tries"] = {
            **old.get("tries", {}),
            str(old.get("attempt", 0)): {"error": old.get("error")},
        }
    if t.patch.run["status"] not in FINISHED_STATES:
        t.patch.run["finished_at"] = None
    t.events.insert(0, (run_event({**run, **t.patch.run}, RunTransition.started, now), attempt))
    t.events = [(e, attempt) for e, _ in t.events]
    return t


def unstorable_result(
    run: dict[str, Any],
    path: str,
    attempt: int,
    reason: str,
    now: datetime,
    elapsed_s: float = 0.0,
    guard: Guard | None = None,
) -> Transition:
    """A result the store cannot hold (an output too large, a value it cannot encode) ends the run
    failed, with the reason and without the output; nothing after it is sent."""
    error = error_doc("run_unstorable", f"the step's result could not be stored: {reason}")
    t = Transition(
        Outcome.apply,
        guard=guard or Guard(run["status"], path, StepStatus.running, attempt),
        elapsed_s=elapsed_s,
    )
    t.patch.step(path).update(finished_at=now, status=StepStatus.failed, error=error, output=None)
    t.patch.run.update(updated_at=now, status=RunStatus.failed.value, finished_at=now, error=error)
    t.events = [
        (run_event(run, RunTransition.step_done, now, "failed", path, StepStatus.failed, error), attempt),
        (run_event(run, RunTransition.finished, now, RunStatus.failed.value, error=error), attempt),
    ]
    return t


def holding(run: dict[str, Any], progress: CommandProgress, now: datetime) -> Transition:
    """The gateway says the step's command waits for its organisation's budget: the run shows
    ``holding`` (as Zapier's "Holding") until the result moves it on. Only for the command and
    attempt the run is waiting for; anything else (a late word, another attempt) is stale."""
    path = progress.step_id
    state = run.get("steps", {}).get(path) or {}
    if (
        run.get("status") not in IN_FLIGHT
        or state.get("command_id") != progress.command_id
        or state.get("status") != StepStatus.running
        or state.get("attempt") != progress.attempt
    ):
        return Transition(Outcome.stale)
    t = Transition(Outcome.apply, guard=Guard(run["status"], path, StepStatus.running, progress.attempt))
    t.patch.run.update(status=HOLDING, updated_at=now)
    t.patch.step(path).update(holding_since=progress.since, holding=progress.detail[:200])
    return t


def cancel(run: dict[str, Any], reason: str, now: datetime) -> Transition | str:
    """End a running or waiting run ``cancelled``; the refusal's reason for any other run."""
    if run["status"] not in CANCELLABLE:
        return f"run {run['_id']} is {run['status']}; only running or waiting (or holding) runs can stop"
    error = error_doc("cancelled", reason)
    t = Transition(Outcome.apply, guard=Guard(run["status"], updated_at=run["updated_at"]))
    t.patch.run.update(status=CANCELLED, finished_at=now, updated_at=now, error=error)
    t.events.append((run_event(run, RunTransition.finished, now, CANCELLED, error=error), 1))
    return t
