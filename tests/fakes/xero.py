"""In-memory fakes of xero-gateway's ports (``xero_gateway.service_layer.ports``).

``FakeXero`` answers Xero calls from a script (responses, or exceptions to raise), in order, and
records every call, so the ``Executor``'s use cases are millisecond unit tests.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx

from xero_gateway.domain.connection import Connection

ACME = Connection(
    tenant="acme", connection_id="xero-acme", xero_tenant_id="org-1", name="Acme Ltd", token_set_id="ts-1"
)


@dataclass
class FakeConnections:
    """``ConnectionLookup`` over a list of connections."""

    connections: list[Connection] = field(default_factory=lambda: [ACME])

    async def get(self, tenant: str, connection_id: str) -> Connection | None:
        return next(
            (c for c in self.connections if (c.tenant, c.connection_id) == (tenant, connection_id)), None
        )


@dataclass
class Call:
    method: str
    path: str
    json_body: Any
    idempotency_key: str | None


@dataclass
class FakeXero:
    """``XeroCalls``: each call takes the next scripted answer (``(status, json)`` or an exception)."""

    script: list[tuple[int, Any] | BaseException] = field(default_factory=list)
    calls: list[Call] = field(default_factory=list)

    async def call(self, conn: Connection, method: str, path: str, **kw: Any) -> httpx.Response:
        self.calls.append(Call(method, path, kw.get("json_body"), kw.get("idempotency_key")))
        if not self.script:
            raise AssertionError(f"FakeXero has no answer left for {method} {path}")
        answer = self.script.pop(0)
        if isinstance(answer, BaseException):
            raise answer
        status, body = answer
        return httpx.Response(
            status, json=body, request=httpx.Request(method, f"https://api.xero.test{path}")
        )
