"""Run lifecycle events on ``kxflow.runs.v1`` (router → other teams)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field


class RunStatus(StrEnum):
    running = "running"
    waiting = "waiting"  # a step is scheduled for an autoreplay attempt
    succeeded = "succeeded"
    failed = "failed"
    filtered = "filtered"
    halted = "halted"


TERMINAL_STATUSES = frozenset({RunStatus.succeeded, RunStatus.failed, RunStatus.filtered, RunStatus.halted})

# A run status added after runs.v1 was published: a run stopped by a person or by its zap being
# turned off. The v1 ``status`` enum cannot grow (consumers validate it), so a cancelled run's
# events say ``status: halted`` with ``status_detail: cancelled``; the run API says ``cancelled``.
CANCELLED = "cancelled"
# Likewise a run whose failed step's on_error branch ran (DESIGN.md §4.1): ``halted`` +
# ``status_detail: handled`` in runs.v1; it does not count towards a zap's auto-disable.
HANDLED = "handled"
# And a running run whose command waits for its Xero organisation's budget (CommandProgress): the run
# API says ``holding``; runs.v1 has no event for it (the run is still running).
HOLDING = "holding"
RUN_STATES = (
    *(s.value for s in RunStatus),
    CANCELLED,
    HANDLED,
    HOLDING,
)  # every status a run document can have
FINISHED_STATES = frozenset({*(s.value for s in TERMINAL_STATUSES), CANCELLED, HANDLED})


class RunTransition(StrEnum):
    started = "started"
    step_done = "step_done"
    finished = "finished"
    zap_disabled = "zap_disabled"


RUN_EVENT_TYPES = {t: f"kxflow.run.{t.value}.v1" for t in RunTransition}


class RunEvent(BaseModel):
    run_id: str
    tenant: str
    zap_id: str
    zap_version: int
    trigger_event_id: str
    transition: RunTransition
    status: RunStatus
    step_id: str | None = None
    step_status: str | None = None
    error: dict[str, Any] | None = None
    at: datetime
    status_detail: str | None = Field(
        default=None, description="The run's status when v1's enum has no word for it: cancelled or handled"
    )
