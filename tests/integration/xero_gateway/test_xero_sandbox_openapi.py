"""The sandbox answers a request the official OpenAPI document rejects with Xero's 400 body and
counts it (the suite-wide check in conftest asserts the gateway caused none)."""

from __future__ import annotations

import httpx

from kxflow_sandboxes.xero import SandboxConfig
from kxflow_sandboxes.xero import create_app as create_sandbox


async def test_a_request_the_spec_rejects_gets_xeros_400_body() -> None:
    app = create_sandbox(SandboxConfig())  # not registered: its rejections are the point here
    sandbox = app.state.sandbox
    org = sandbox.org_named("Acme AU")
    code = sandbox.identity.authorize([org.tenant_id], "accounting.settings", "http://localhost/cb", 0.0)
    token = sandbox.identity.exchange_code(code, "http://localhost/cb", 0.0)["access_token"]
    headers = {
        "Authorization": f"Bearer {token}",
        "xero-tenant-id": org.tenant_id,
        "Accept": "application/json",
    }
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sandbox") as client:
        bad = await client.put(
            "/api.xro/2.0/Accounts",
            json={"Code": "201", "Name": "Sales 2", "Type": "NOT-A-TYPE"},
            headers=headers,
        )
        good = await client.put(
            "/api.xro/2.0/Accounts",
            json={"Code": "201", "Name": "Sales 2", "Type": "REVENUE"},
            headers=headers,
        )
    assert bad.status_code == 400
    body = bad.json()
    assert body["Type"] == "PostDataInvalidException" and body["ErrorNumber"] == 14
    assert "NOT-A-TYPE" in body["Message"]
    assert good.status_code == 200 and good.json()["Accounts"][0]["Type"] == "REVENUE"
    assert sandbox.stats.openapi_rejections == 1
    assert len([a for a in org.coll("Accounts").values() if a["Code"] == "201"]) == 1  # nothing stored
