"""OAuth connections, token refresh (single writer, grace period) and revoked grants."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
from integration.xero_gateway.xero_gw_helpers import TENANT, TOKEN, auth, connect_all
from waiting import wait_for

from kxflow_sandboxes.xero.identity import ACCESS_TTL
from xero_gateway.service_layer.tokens import NeedsReauth


async def test_oauth_flow_creates_one_connection_per_organisation(start_gateway, xero_sandbox) -> None:
    _, url = await start_gateway()
    conns = await connect_all(url)
    assert sorted(c["name"] for c in conns) == ["Acme AU", "Beta NZ"]
    assert {c["id"] for c in conns} == {"xero-acme-au", "xero-beta-nz"}
    async with httpx.AsyncClient() as client:
        listed = (await client.get(f"{url}/v1/connections", headers=auth())).json()
        assert {c["status"] for c in listed} == {"active"}
        assert all("token" not in str(c).lower() for c in listed)
        other = await client.get(f"{url}/v1/connections")
        assert other.status_code == 401
    assert TENANT


async def test_tokens_are_encrypted_at_rest(start_gateway, mongo_client, mongo_db_name) -> None:
    app, url = await start_gateway()
    await connect_all(url)
    docs = [d async for d in mongo_client[mongo_db_name]["token_sets"].find()]
    assert docs
    ts = await app.state.repos.token_set(docs[0]["_id"])
    assert ts.access_token not in str(docs[0]) and ts.refresh_token not in str(docs[0])


async def test_two_replicas_refresh_once(start_gateway, xero_sandbox) -> None:
    app1, url = await start_gateway()
    app2, _ = await start_gateway()
    await connect_all(url)
    xero_sandbox.sandbox.clock.advance(ACCESS_TTL + 1)  # every access token is expired at Xero
    conn1 = await app1.state.repos.get(TENANT, "xero-acme-au")
    conn2 = await app2.state.repos.get(TENANT, "xero-acme-au")
    ts = await app1.state.repos.token_set(conn1.token_set_id)
    await app1.state.repos.save_token_set(
        ts.token_set_id, ts.kind, ts.access_token, ts.refresh_token, time.time() - 1
    )  # both replicas find it expired at once
    before = xero_sandbox.sandbox.identity.refresh_calls
    t1, t2 = await asyncio.gather(
        app1.state.api.tokens.access_token(conn1), app2.state.api.tokens.access_token(conn2)
    )
    assert t1 == t2
    assert xero_sandbox.sandbox.identity.refresh_calls - before == 1


async def test_crash_mid_refresh_keeps_the_connection(start_gateway, xero_sandbox) -> None:
    app, url = await start_gateway()
    await connect_all(url)
    conn = await app.state.repos.get(TENANT, "xero-acme-au")
    ts = await app.state.repos.token_set(conn.token_set_id)
    # a replica refreshed at Xero and died before storing the rotated tokens
    lost = xero_sandbox.sandbox.identity.refresh_grant(ts.refresh_token, xero_sandbox.sandbox.clock.now())
    assert lost["refresh_token"] != ts.refresh_token
    new = await app.state.api.tokens.access_token(conn, stale=ts.access_token)
    assert new != ts.access_token
    again = await app.state.repos.get(TENANT, "xero-acme-au")
    assert again.status == "active"


async def test_revoked_grant_marks_needs_reauth(start_gateway, xero_sandbox) -> None:
    app, url = await start_gateway()
    await connect_all(url)
    xero_sandbox.sandbox.identity.revoke()
    conn = await app.state.repos.get(TENANT, "xero-acme-au")
    with pytest.raises(NeedsReauth):
        await app.state.api.call(conn, "GET", "/api.xro/2.0/Organisation")
    async with httpx.AsyncClient() as client:
        listed = await wait_for(lambda: client.get(f"{url}/v1/connections", headers=auth()))
        status = {c["id"]: c["status"] for c in listed.json()}
    assert status["xero-acme-au"] == "needs_reauth"


async def test_budget_used_per_organisation_counts_every_replica(start_gateway, xero_sandbox) -> None:
    """``GET /v1/connections/budget`` (the console's Xero budget): calls made through two replicas
    for one organisation are counted together (the shared limits), the other organisation's count
    does not move, and another tenant sees no organisation of acme's."""
    globex = "test-token-globex-0123456789"
    shared = {"per_day": 1000, "shared_rate_limits": True}
    app1, url = await start_gateway(api_tokens={TOKEN: TENANT, globex: "globex"}, **shared)
    app2, _ = await start_gateway(**shared)
    await connect_all(url)

    async def budget() -> dict[str, dict]:
        async with httpx.AsyncClient(timeout=30) as client:
            answer = await client.get(f"{url}/v1/connections/budget", headers=auth())
        assert answer.status_code == 200, answer.text
        return {b["id"]: b for b in answer.json()}

    before = await budget()
    for app, calls in ((app1, 3), (app2, 2)):
        conn = await app.state.repos.get(TENANT, "xero-acme-au")
        for _ in range(calls):
            await app.state.api.call(conn, "GET", "/api.xro/2.0/Organisation")
    after = await budget()
    au, nz = after["xero-acme-au"], after["xero-beta-nz"]
    assert au["used_day"] - before["xero-acme-au"]["used_day"] == 5  # 3 from one replica, 2 from the other
    assert au["used_minute"] >= 5 and au["shared"] is True
    assert au["per_day"] == 1000 and au["remaining_day"] == 1000 - au["used_day"] and au["per_minute"] == 60
    assert nz["used_day"] == before["xero-beta-nz"]["used_day"]
    async with httpx.AsyncClient(timeout=30) as client:
        other = await client.get(
            f"{url}/v1/connections/budget", headers={"Authorization": f"Bearer {globex}"}
        )
        anonymous = await client.get(f"{url}/v1/connections/budget")
    assert other.status_code == 200 and other.json() == []
    assert anonymous.status_code == 401
