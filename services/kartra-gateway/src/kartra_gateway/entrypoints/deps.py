"""What the HTTP routes need, read from ``app.state`` (set by ``main.create_app``), as typed
dependencies: the caller's tenant, the connection repository, the Kartra client, the public base
URL and the webhook intake."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Request

from kartra_gateway.adapters.connections import ConnectionRepository
from kartra_gateway.adapters.kartra_client import KartraClient
from kxflow_contracts.runtime.auth import app_tenant

if TYPE_CHECKING:  # webhooks.py imports this module
    from kartra_gateway.entrypoints.webhooks import Webhooks


def connections(request: Request) -> ConnectionRepository:
    return request.app.state.connections


def kartra_client(request: Request) -> KartraClient:
    return request.app.state.kartra_client


def base_url(request: Request) -> str:
    """The gateway's public URL (no trailing slash): webhook URLs handed out are built on it."""
    return request.app.state.settings.public_base_url.rstrip("/")


def webhooks(request: Request) -> Webhooks:
    return request.app.state.webhooks


Tenant = Annotated[str, Depends(app_tenant)]  # 401 without a known bearer token
Connections = Annotated[ConnectionRepository, Depends(connections)]
Client = Annotated[KartraClient, Depends(kartra_client)]
BaseUrl = Annotated[str, Depends(base_url)]
