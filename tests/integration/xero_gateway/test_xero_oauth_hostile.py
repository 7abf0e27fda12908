"""Issue 11, item 3: the Xero OAuth flow against a hostile world.

The sandbox's ``/Connections`` behaves as Xero's: every organisation the Xero user connected to
the app (over all their authorisations), filterable by ``authEventId``. The gateway imports only the
organisations of the authorisation it just completed; its ``state`` expires and is bound to the
browser that started the flow; the code is exchanged with PKCE; the custom connection is off unless
enabled, and then only for its one tenant."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from integration.xero_gateway.xero_gw_helpers import TENANT, TOKEN, auth, connect_all

pytestmark = [pytest.mark.kafka, pytest.mark.mongo]

OTHER_TOKEN, OTHER = "tok-globex-oauth-0123456789", "globex"


def _auth_other() -> dict[str, str]:
    return {"Authorization": f"Bearer {OTHER_TOKEN}"}


async def _flow(
    gateway: str,
    headers: dict[str, str],
    tenants: str | None = None,
    browser: httpx.AsyncClient | None = None,
) -> httpx.Response:
    """Start at the gateway with one client; the consent redirect is followed by ``browser``
    (the same client unless given); ``tenants`` = the organisations the user ticks."""
    async with httpx.AsyncClient(timeout=30) as starter:
        started = await starter.post(f"{gateway}/v1/xero/connect", headers=headers)
        assert started.status_code == 200, started.text
        url = started.json()["authorize_url"] + (f"&tenants={tenants}" if tenants else "")
        follower = browser or starter
        consent = await follower.get(url)
        assert consent.status_code == 302, consent.text
        return await follower.get(consent.headers["location"])


async def _names(gateway: str, headers: dict[str, str]) -> set[str]:
    async with httpx.AsyncClient() as client:
        return {c["name"] for c in (await client.get(f"{gateway}/v1/connections", headers=headers)).json()}


async def test_only_this_authorisations_organisations_are_imported(start_gateway, xero_sandbox) -> None:
    _, gw = await start_gateway(api_tokens={TOKEN: TENANT, OTHER_TOKEN: OTHER})
    acme_au, beta_nz = xero_sandbox.org("Acme AU").tenant_id, xero_sandbox.org("Beta NZ").tenant_id
    first = await _flow(gw, auth(), tenants=acme_au)
    assert first.status_code == 200, first.text
    # the same Xero user now connects another organisation for another kxflow tenant: Xero's
    # /Connections lists both organisations, but globex must get only its own
    second = await _flow(gw, _auth_other(), tenants=beta_nz)
    assert second.status_code == 200, second.text
    assert [c["name"] for c in second.json()["connections"]] == ["Beta NZ"]
    assert await _names(gw, auth()) == {"Acme AU"}
    assert await _names(gw, _auth_other()) == {"Beta NZ"}


async def test_sandbox_connections_list_every_organisation_of_the_user(xero_sandbox) -> None:
    ident, names = xero_sandbox.sandbox.identity, {}
    acme_au, beta_nz = xero_sandbox.org("Acme AU").tenant_id, xero_sandbox.org("Beta NZ").tenant_id
    code1 = ident.authorize([acme_au], "openid", "http://cb", 0.0, "app")
    code2 = ident.authorize([beta_nz], "openid", "http://cb", 0.0, "app")
    ident.authorize([beta_nz], "openid", "http://cb", 0.0, "app", user="someone-else")
    tokens = ident.exchange_code(code2, "http://cb", 0.0)
    ident.exchange_code(code1, "http://cb", 0.0)
    grant = ident.access[tokens["access_token"]].grant_id
    every = ident.connections(grant, names)
    assert {c["tenantId"] for c in every} == {acme_au, beta_nz}
    mine = ident.connections(grant, names, tokens["authentication_event_id"])
    assert [c["tenantId"] for c in mine] == [beta_nz]


async def test_an_expired_state_is_refused(start_gateway) -> None:
    _, gw = await start_gateway(oauth_state_ttl_seconds=0.0)
    res = await _flow(gw, auth())
    assert res.status_code == 400 and "expired" in res.json()["detail"]
    assert await _names(gw, auth()) == set()


async def test_the_state_is_bound_to_the_browser_that_started(start_gateway) -> None:
    _, gw = await start_gateway()
    async with httpx.AsyncClient(timeout=30) as victim:  # a link the attacker made the victim open
        res = await _flow(gw, auth(), browser=victim)
    assert res.status_code == 400 and "browser" in res.json()["detail"]
    assert await _names(gw, auth()) == set()
    async with httpx.AsyncClient(timeout=30) as client:
        replay = await client.get(f"{gw}/v1/xero/callback", params={"state": "x" * 4000, "code": "c"})
        assert replay.status_code == 400


async def test_the_code_is_exchanged_with_pkce(start_gateway, xero_sandbox) -> None:
    xero_sandbox.sandbox.config.require_pkce = True
    _, gw = await start_gateway()
    assert {c["name"] for c in await connect_all(gw)} == {"Acme AU", "Beta NZ"}
    async with httpx.AsyncClient(timeout=30) as client:
        url = (await client.post(f"{gw}/v1/xero/connect", headers=auth())).json()["authorize_url"]
    assert "code_challenge_method=S256" in url
    # a stolen code is worthless without the verifier the gateway kept
    ident = xero_sandbox.sandbox.identity
    code = ident.authorize([], "openid", "http://cb", 0.0, code_challenge="abc")
    with pytest.raises(Exception, match="invalid_grant"):
        ident.exchange_code(code, "http://cb", 0.0, "wrong-verifier")


@pytest.mark.parametrize(
    ("settings", "token", "status"),
    [
        ({}, TOKEN, 403),
        ({"custom_connection": True}, TOKEN, 403),  # on, but for no tenant
        ({"custom_connection": True, "custom_connection_tenant": TENANT}, OTHER_TOKEN, 403),
        ({"custom_connection": True, "custom_connection_tenant": TENANT}, TOKEN, 200),
    ],
)
async def test_custom_connection_is_gated_by_setting_and_tenant(
    start_gateway, xero_sandbox, settings: dict[str, Any], token: str, status: int
) -> None:
    cfg = xero_sandbox.sandbox.config
    _, gw = await start_gateway(
        api_tokens={TOKEN: TENANT, OTHER_TOKEN: OTHER},
        client_id=cfg.custom_client_id,
        client_secret=cfg.custom_client_secret,
        **settings,
    )
    async with httpx.AsyncClient(timeout=30) as client:
        res = await client.post(
            f"{gw}/v1/xero/custom-connection", headers={"Authorization": f"Bearer {token}"}
        )
    assert res.status_code == status, res.text
    if status == 200:
        assert len(res.json()["connections"]) == 1
