"""Connections API: create/list/delete, rotate the webhook secret, dynamic choices for zap editors."""

from typing import Any

from fastapi import APIRouter, HTTPException, Response, status
from pydantic import BaseModel, Field
from pymongo.errors import DuplicateKeyError

from kartra_gateway.adapters.connections import Connection, ConnectionRepository
from kartra_gateway.adapters.kartra_client import KartraCallError, KartraCredentials
from kartra_gateway.domain.actions import SPECS
from kartra_gateway.entrypoints.deps import BaseUrl, Client, Connections, Tenant


class ConnectionCreate(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    app_id: str = Field(min_length=1, max_length=200)
    api_key: str = Field(min_length=1, max_length=500)
    api_password: str = Field(min_length=1, max_length=500)


CHOICES = {
    "lists": "kartra.lists.retrieve",
    "tags": "kartra.tags.retrieve",
    "sequences": "kartra.sequences.retrieve",
    "custom-fields": "kartra.custom_fields.retrieve",
    "pages": "kartra.pages.retrieve",
}


router = APIRouter(prefix="/v1/connections", tags=["connections"])


def _with_secret(conn: Connection, secret: str, base_url: str) -> dict[str, Any]:
    return {
        **conn.public(base_url),
        "webhook_secret": secret,
        "webhook_url": f"{base_url}/v1/webhooks/kartra/{conn.id}/{secret}",
        "ipn_secret_key": secret,
    }


async def _owned(repo: ConnectionRepository, tenant: str, connection_id: str) -> Connection:
    conn = await repo.for_tenant(tenant, connection_id)
    if conn is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no Kartra connection {connection_id!r}")
    return conn


@router.post("", status_code=201, summary="Create a Kartra connection (credentials encrypted at rest)")
async def create(
    body: ConnectionCreate, tenant: Tenant, repo: Connections, base_url: BaseUrl
) -> dict[str, Any]:
    creds = KartraCredentials(body.app_id, body.api_key, body.api_password)
    try:
        conn, secret = await repo.create(tenant, body.name, creds)
    except DuplicateKeyError:
        raise HTTPException(status.HTTP_409_CONFLICT, f"a connection named {body.name!r} exists") from None
    return _with_secret(conn, secret, base_url)


@router.get("", summary="List this tenant's Kartra connections (never credentials)")
async def list_connections(tenant: Tenant, repo: Connections, base_url: BaseUrl) -> list[dict[str, Any]]:
    return [c.public(base_url) for c in await repo.list(tenant)]


@router.get("/{connection_id}")
async def get(connection_id: str, tenant: Tenant, repo: Connections, base_url: BaseUrl) -> dict[str, Any]:
    return (await _owned(repo, tenant, connection_id)).public(base_url)


@router.delete("/{connection_id}", status_code=204)
async def delete(connection_id: str, tenant: Tenant, repo: Connections) -> Response:
    if not await repo.delete(tenant, connection_id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no Kartra connection {connection_id!r}")
    return Response(status_code=204)


@router.post("/{connection_id}/rotate-secret", summary="New webhook/IPN secret; the old one stops working")
async def rotate(connection_id: str, tenant: Tenant, repo: Connections, base_url: BaseUrl) -> dict[str, Any]:
    conn = await _owned(repo, tenant, connection_id)
    secret = await repo.rotate_secret(tenant, connection_id)
    if secret is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no Kartra connection {connection_id!r}")
    return _with_secret(conn, secret, base_url)


@router.get(
    "/{connection_id}/{kind}", summary="Dynamic choices: lists, tags, sequences, custom-fields, pages"
)
async def choices(
    connection_id: str, kind: str, tenant: Tenant, repo: Connections, client: Client
) -> dict[str, Any]:
    if kind not in CHOICES:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, f"unknown choice list {kind!r}; one of {sorted(CHOICES)}"
        )
    conn = await _owned(repo, tenant, connection_id)
    spec = SPECS[CHOICES[kind]]
    try:
        resp = await client.call(repo.credentials(conn), spec.build(None), idempotent=True)
        output = spec.output(resp.checked(0, spec.cmd), None)
    except KartraCallError as exc:
        code = status.HTTP_503_SERVICE_UNAVAILABLE if exc.retryable else status.HTTP_502_BAD_GATEWAY
        raise HTTPException(code, f"Kartra error {exc.code}: {exc.message}") from exc
    items = output["items"]
    return {"choices": [_choice(i) for i in items], "count": len(items)}


def _choice(item: Any) -> dict[str, Any]:
    if isinstance(item, str):
        return {"id": item, "name": item}
    if isinstance(item, dict):
        ident = item.get("page_id") or item.get("field_identifier") or item.get("id")
        name = item.get("page_name") or item.get("field_identifier") or item.get("name") or ident
        return {
            "id": str(ident),
            "name": str(name),
            **{k: v for k, v in item.items() if k not in ("id", "name")},
        }
    return {"id": str(item), "name": str(item)}
