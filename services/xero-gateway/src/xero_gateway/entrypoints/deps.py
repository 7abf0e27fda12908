"""What the HTTP routes need, read from ``app.state`` (set by ``main.create_app``), as typed
dependencies: the caller's tenant, the connect use case, backfills, the scheduler, the publisher
and the webhook key and counter."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request

from kxflow_contracts.runtime.auth import app_tenant
from xero_gateway.adapters.metrics import Metrics
from xero_gateway.adapters.publisher import Publisher
from xero_gateway.service_layer.backfills import Backfills
from xero_gateway.service_layer.connect import ConnectService
from xero_gateway.service_layer.scheduler import Scheduler
from xero_gateway.settings import XeroGatewaySettings


def _state(name: str) -> Any:
    """``Depends`` on ``app.state.<name>``; the ``Annotated`` alias below gives its type."""

    def read(request: Request) -> Any:
        return getattr(request.app.state, name)

    read.__name__ = name
    return Depends(read)


Settings = Annotated[XeroGatewaySettings, _state("settings")]
Tenant = Annotated[str, Depends(app_tenant)]  # 401 without a known bearer token
Connect = Annotated[ConnectService, _state("connect")]
Backfilling = Annotated[Backfills, _state("backfills")]
CallScheduler = Annotated[Scheduler, _state("scheduler")]
RawPublisher = Annotated[Publisher, _state("publisher")]
GatewayMetrics = Annotated[Metrics, _state("metrics")]
