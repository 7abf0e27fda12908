"""``/v1/zaps/{zap_id}/test-step``: render one step against a past trigger event (and, when asked,
execute it for real), as Zapier's "Test step" does."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from zap_router.entrypoints.deps import Services, services, tenant_only

router = APIRouter(prefix="/v1/zaps/{zap_id}/test-step", tags=["test a step"])

Tenant = Annotated[str, Depends(tenant_only)]
Svc = Annotated[Services, Depends(services)]


class StepTestRequest(BaseModel):
    step: str = Field(
        min_length=1, max_length=500, description="The step's path: invoice, route/gst/invoice, lines[0]/item"
    )
    source: Literal["draft", "published"] | None = Field(
        default=None, description="Which version to test; default: the draft if there is one, else published"
    )
    event_id: str | None = Field(
        default=None, max_length=200, description="A past trigger event (ce_id); default: the most recent one"
    )
    since: datetime | None = Field(
        default=None, description="Where to look for the event; default 7 days ago"
    )
    outputs: dict[str, Any] | None = Field(
        default=None, description="Earlier steps' outputs by step id (default: this zap's run, else examples)"
    )
    loop: dict[str, Any] | None = Field(
        default=None, description="For a step inside a loop: {item: ..., index: 0}"
    )
    execute: bool = Field(default=False, description="Send it for real through the gateway (a real write)")
    wait_s: float = Field(default=20.0, ge=0, le=60, description="How long to wait for the result")


class StepTestEvent(BaseModel):
    id: str
    type: str
    time: datetime


class StepTestView(BaseModel):
    test_id: str
    zap_id: str
    source: str = Field(description="draft or published")
    version: int | None = Field(description="The published version tested (null for a draft)")
    step: str
    action: str
    connection_id: str
    event: StepTestEvent
    outputs_from: dict[str, str] = Field(description="For each other step: given, run or example")
    input: Any = Field(description="The input the step would send (validated against the action)")
    error: dict[str, Any] | None = Field(description="Why the step cannot be sent (render or validation)")
    executed: bool
    status: str = Field(description="rendered, failed, sent (no result yet), succeeded or not_found")
    result: dict[str, Any] | None = Field(description="The gateway's result when executed")


RESPONSES: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such zap (or step test) for this tenant"},
    422: {"description": "No such step, not an action step, no draft, or no trigger event found"},
}


@router.post("", response_model=StepTestView, responses=RESPONSES)
async def test_step(zap_id: str, body: StepTestRequest, tenant: Tenant, svc: Svc) -> dict[str, Any]:
    """Render the step against a past trigger event and show its input; with ``execute: true``
    send it for real and wait up to ``wait_s`` for the result (poll the test id after that)."""
    return await svc.step_tests.run(
        tenant,
        zap_id,
        step=body.step,
        source=body.source,
        event_id=body.event_id,
        since=body.since,
        outputs=body.outputs,
        loop=body.loop,
        execute=body.execute,
        wait_s=body.wait_s,
    )


@router.get("/{test_id}", response_model=StepTestView, responses=RESPONSES)
async def get_step_test(zap_id: str, test_id: str, tenant: Tenant, svc: Svc) -> dict[str, Any]:
    """An executed step test and its result."""
    return await svc.step_tests.get(tenant, zap_id, test_id)
