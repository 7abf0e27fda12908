"""In-memory fakes of kartra-gateway's ports (``kartra_gateway.service_layer.ports``).

``FakeKartra`` answers each Kartra command (``create_lead``, ``search_lead``…) from a script of
answer parts, in order, and records what was sent, so the use cases of ``KartraActions`` are
millisecond unit tests without httpx, a sandbox or a database.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kartra_gateway.domain.kartra_api import KartraCredentials, KartraResponse

CREDS = KartraCredentials(app_id="app-1", api_key="key-1", api_password="password-1")


@dataclass(frozen=True)
class FakeConnection:
    id: str
    tenant: str


@dataclass
class FakeConnections:
    """``ConnectionSource``: connection ids per tenant, all with :data:`CREDS`."""

    known: set[tuple[str, str]] = field(default_factory=set)

    def add(self, tenant: str, connection_id: str) -> None:
        self.known.add((tenant, connection_id))

    async def for_tenant(self, tenant: str, connection_id: str) -> FakeConnection | None:
        return FakeConnection(connection_id, tenant) if (tenant, connection_id) in self.known else None

    def credentials(self, conn: Any) -> KartraCredentials:
        return CREDS


def success(**fields: Any) -> dict[str, Any]:
    return {"status": "Success", **fields}


def error(code: str, message: str) -> dict[str, Any]:
    return {"status": "Error", "type": code, "message": message}


@dataclass
class FakeKartra:
    """``KartraApi``: ``script[cmd]`` is the list of answer parts Kartra gives, one per call."""

    api_url: str = "https://app.kartra.test/api"
    script: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    sent: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    raw: list[str] = field(default_factory=list)

    @staticmethod
    def command(fields: dict[str, Any]) -> str:
        actions = fields.get("actions")
        if isinstance(actions, list) and actions:
            return str(actions[0]["cmd"])
        return next(iter(fields))

    def commands(self) -> list[str]:
        return [cmd for cmd, _ in self.sent]

    async def call(
        self, creds: KartraCredentials, fields: dict[str, Any], *, idempotent: bool
    ) -> KartraResponse:
        cmd = self.command(fields)
        self.sent.append((cmd, fields))
        answers = self.script.get(cmd)
        if not answers:
            raise AssertionError(f"FakeKartra has no answer left for {cmd!r}")
        return KartraResponse(200, {"status": "Success", "actions": [{cmd: answers.pop(0)}]})

    async def post_raw(
        self,
        creds: KartraCredentials,
        body: str,
        *,
        idempotent: bool,
        params: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> KartraResponse:
        self.raw.append(body)
        return KartraResponse(200, {"status": "Success"})
