"""Run lifecycle events on ``kxflow.runs.v1`` (router → other teams)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel


class RunStatus(StrEnum):
    running = "running"
    waiting = "waiting"  # a step is scheduled for an autoreplay attempt
    succeeded = "succeeded"
    failed = "failed"
    filtered = "filtered"
    halted = "halted"


TERMINAL_STATUSES = frozenset({RunStatus.succeeded, RunStatus.failed, RunStatus.filtered, RunStatus.halted})


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
