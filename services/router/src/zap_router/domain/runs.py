"""Pure run logic: the run document, planning a step (render → validate → command) and outcomes.

A run is a plain document (it is stored as is); its steps live in a dict keyed by step id so that a
single-document update can move one step and the run together.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError

from kxflow_contracts.catalog import Catalog
from kxflow_contracts.commands import ActionCommand, command_id
from kxflow_contracts.runs import RunStatus
from zap_router.domain.matching import ActiveZap
from zap_router.domain.templates import TemplateRenderError, render_tree
from zap_router.domain.zaps import ResolvedStep


class StepStatus:
    running = "running"
    waiting = "waiting"
    succeeded = "succeeded"
    failed = "failed"
    not_found = "not_found"


def run_id_for(zap_id: str, trigger_event_id: str) -> str:
    """Deterministic: the same (zap, event) always names the same run."""
    return "r_" + hashlib.sha256(f"{zap_id}\x1f{trigger_event_id}".encode()).hexdigest()[:24]


# A rendered step input travels in one command record: capped well below the broker's message size
# (1 MiB by default), so the producer never refuses a command the run store already holds.
MAX_INPUT_BYTES = 256 * 1024
MAX_MESSAGE_CHARS = 2_000  # an error message is read by people and travels in every run event


def error_doc(code: str, message: str, retryable: bool = False, **extra: Any) -> dict[str, Any]:
    if len(message) > MAX_MESSAGE_CHARS:
        message = message[:MAX_MESSAGE_CHARS] + "…"
    return {"code": code, "message": message, "retryable": retryable, **extra}


def new_run(
    zap: ActiveZap, event_id: str, event_type: str, trigger: dict[str, Any], now: datetime
) -> dict[str, Any]:
    return {
        "_id": run_id_for(zap.zap_id, event_id),
        "tenant": zap.tenant,
        "zap_id": zap.zap_id,
        "zap_version": zap.version,
        "zap_name": zap.name,
        "trigger_event_id": event_id,
        "trigger_type": event_type,
        "trigger": trigger,
        "status": RunStatus.running.value,
        "created_at": now,
        "updated_at": now,
        "finished_at": None,
        "current_step": None,
        "step_order": [s.id for s in zap.steps],
        "steps": {},
        "error": None,
        "replays": 0,
    }


def failed_start(
    doc: dict[str, Any], error: dict[str, Any], now: datetime, keep_trigger: bool
) -> dict[str, Any]:
    """``doc`` (a new run) ended ``failed`` before any step was sent: no steps, and without its
    trigger data when that is what the store cannot hold (the event stays in the trigger topic)."""
    trigger = (
        doc["trigger"]
        if keep_trigger
        else {
            key: doc["trigger"].get(key)
            for key in ("id", "type", "time")
            if isinstance(doc["trigger"].get(key), str)
        }
    )
    return {
        **doc,
        "trigger": trigger,
        "status": RunStatus.failed.value,
        "error": error,
        "finished_at": now,
        "current_step": None,
        "steps": {},
    }


# The trigger data a run that failed before sending anything keeps. A larger one (a hostile lead of
# hundreds of kilobytes) is left in the trigger topic: on FerretDB every large run document slows the
# reads and writes of every tenant's runs.
MAX_FAILED_TRIGGER_BYTES = 16 * 1024


def slim_failed_trigger(doc: dict[str, Any]) -> None:
    """Drop a large trigger from a run that failed at its start (its error says so)."""
    size = len(json.dumps(doc["trigger"], separators=(",", ":"), default=str))
    if size <= MAX_FAILED_TRIGGER_BYTES:
        return
    trigger = doc["trigger"]
    doc["trigger"] = {k: trigger.get(k) for k in ("id", "type", "time") if isinstance(trigger.get(k), str)}
    doc["trigger_dropped_bytes"] = size


@dataclass
class StepPlan:
    """A step ready to send (``command``), or one that failed before sending (``error``)."""

    state: dict[str, Any]
    command: ActionCommand | None
    error: dict[str, Any] | None


def plan_step(
    zap: ActiveZap,
    step: ResolvedStep,
    *,
    run_id: str,
    event_id: str,
    context: dict[str, Any],
    attempt: int,
    now: datetime,
    deadline: timedelta,
    catalog: Catalog,
    path: str | None = None,
) -> StepPlan:
    """Render ``step`` (at ``path``; a linear step's path is its id) into a command, or fail it.

    The command id hashes the step's path, so every retry, redelivery and replay of one step of one
    run names one command (DESIGN.md §4.1).
    """
    path = path or step.id
    cid = command_id(zap.zap_id, event_id, path)
    state: dict[str, Any] = {
        "status": StepStatus.running,
        "action": step.action,
        "app": step.app,
        "connection_id": step.connection,
        "command_id": cid,
        "attempt": attempt,
        "input": None,
        "output": None,
        "error": None,
        "started_at": now,
        "finished_at": None,
        "duration_ms": None,
    }

    def fail(error: dict[str, Any]) -> StepPlan:
        state.update(status=StepStatus.failed, error=error, finished_at=now, duration_ms=0.0)
        return StepPlan(state, None, error)

    try:
        rendered = render_tree(zap.compiled_inputs[step.id], context)
    except TemplateRenderError as exc:
        return fail(error_doc(exc.code, str(exc), template=exc.where))
    size = len(json.dumps(rendered, separators=(",", ":"), default=str))
    if size > MAX_INPUT_BYTES:
        return fail(
            error_doc("input_too_large", f"the rendered input is {size} bytes; the cap is {MAX_INPUT_BYTES}")
        )
    state["input"] = rendered
    entry = catalog.find(step.action)
    if entry is None:
        return fail(error_doc("unknown_action", f"action {step.action!r} is not in the catalog"))
    try:
        payload = entry.input_model.model_validate(rendered).model_dump(
            mode="json", by_alias=True, exclude_unset=True
        )
    except ValidationError as exc:
        details = json.loads(exc.json(include_url=False, include_context=False, include_input=False))
        summary = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in details)
        return fail(error_doc("input_invalid", f"rendered input is invalid: {summary}", details=details))
    state["input"] = payload
    command = ActionCommand(
        command_id=cid,
        tenant=zap.tenant,
        connection_id=step.connection,
        action=step.action,
        input=payload,
        run_id=run_id,
        zap_id=zap.zap_id,
        zap_version=zap.version,
        step_id=path,
        attempt=attempt,
        not_after=now + deadline,
    )
    return StepPlan(state, command, None)


def outputs_of(run: dict[str, Any]) -> dict[str, Any]:
    """Outputs of the steps that finished (a search's ``not_found`` + ``continue`` gives ``{}``)."""
    return {
        sid: (state.get("output") if state.get("output") is not None else {})
        for sid, state in run.get("steps", {}).items()
        if state.get("status") in (StepStatus.succeeded, StepStatus.not_found)
    }


def command_from_state(
    run: dict[str, Any], step_id: str, attempt: int, now: datetime, deadline: timedelta
) -> ActionCommand:
    """Re-send a step's recorded input (redispatch and autoreplay use what was rendered first)."""
    state = run["steps"][step_id]
    return ActionCommand(
        command_id=state["command_id"],
        tenant=run["tenant"],
        connection_id=state["connection_id"],
        action=state["action"],
        input=state["input"] or {},
        run_id=run["_id"],
        zap_id=run["zap_id"],
        zap_version=run["zap_version"],
        step_id=step_id,
        attempt=attempt,
        not_after=now + deadline,
    )
