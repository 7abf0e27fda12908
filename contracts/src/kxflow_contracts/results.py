"""Action results (gateways → router)."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field

RESULT_TYPE = "kxflow.result.v1"


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
