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


def error_doc(code: str, message: str, retryable: bool = False, **extra: Any) -> dict[str, Any]:
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
) -> StepPlan:
    cid = command_id(zap.zap_id, event_id, step.id)
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
        return fail(error_doc("template_error", str(exc), template=exc.where))
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
        step_id=step.id,
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
