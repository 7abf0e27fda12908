"""Action results (gateways → router)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, Field

RESULT_TYPE = "kxflow.result.v1"
# A command that is still in progress, on the same topic as its result (issue 16: "holding").
PROGRESS_TYPE = "kxflow.result.progress.v1"


class ResultStatus(StrEnum):
    succeeded = "succeeded"
    failed = "failed"
    not_found = "not_found"


class ActionError(BaseModel):
    code: str
    message: str
    retryable: bool = False
    http_status: int | None = None
    details: Any = Field(default=None, description="Xero validation errors or Kartra type codes verbatim")


class ActionResult(BaseModel):
    command_id: str
    run_id: str
    step_id: str
    status: ResultStatus
    output: dict[str, Any] | list[Any] | None = None
    error: ActionError | None = None
    attempts: int = 1
    duration_ms: float = 0.0


class CommandProgress(BaseModel):
    """A gateway's word that a command is not finished yet and why (before its result).

    ``holding``: the command waits for its Xero organisation's API budget (a minute or day limit)
    longer than a few seconds; the run shows ``holding`` until the result comes, as Zapier's
    "Holding" does. Published at most once per command attempt; the result follows as usual.
    """

    command_id: str
    run_id: str
    step_id: str
    attempt: int = 1
    state: Literal["holding"] = "holding"
    since: datetime
    detail: str = ""
