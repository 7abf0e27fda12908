"""Issue 11, item 2: URLs carry secrets (the Kartra webhook secret in the path, the OAuth ``code`` and
``state`` in the query) and the redactor knows a secret only in the process that created it. So
every service logs route *templates*, never paths: a gateway process started after the connection
was created — which never learnt the secret — still logs nothing containing it."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator

import httpx
import pytest
from system_harness import System, running_system
from waiting import wait_for

pytestmark = [pytest.mark.kafka, pytest.mark.mongo]

APP = {"app_id": "kx-access-log", "api_key": "kx-access-log-api-key", "api_password": "kx-access-log-pass"}


@pytest.fixture(scope="module")
def system(kafka_bootstrap: str, mongodb_url: str) -> Iterator[System]:
    with running_system(kafka_bootstrap, mongodb_url) as sys_:
        yield sys_


def _access_lines(system: System, name: str) -> list[dict]:
    lines = []
    for raw in system.log_lines(name):
        try:
            line = json.loads(raw)
        except ValueError:
            continue
        if line.get("event") == "http request":
            lines.append(line)
    return lines


async def test_a_restarted_gateway_logs_no_secret_from_a_url(system: System) -> None:
    kartra, xero = system.url("kartra-gateway"), system.url("xero-gateway")
    async with httpx.AsyncClient(timeout=30) as http:
        (await http.post(f"{system.url('kartra-sandbox')}/_sandbox/apps", json=APP)).raise_for_status()
        created = await http.post(
            f"{kartra}/v1/connections", headers=system.auth, json={"name": "logs", **APP}
        )
        assert created.status_code == 201, created.text
        conn = created.json()
        secret, ipn_secret = conn["webhook_secret"], conn["ipn_secret_key"]
        system.restart("kartra-gateway")
        system.restart("xero-gateway")
        code, state = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        delivery = {"lead": {"id": "1", "email": "a@example.com"}, "action": "assign_tag"}
        webhook = f"{kartra}/v1/webhooks/kartra/{conn['id']}/{secret}"
        assert (await http.post(webhook, json=delivery)).status_code == 200
        assert (
            await http.post(f"{kartra}/v1/webhooks/kartra/{conn['id']}/{secret}x", json=delivery)
        ).status_code == 401
        ipn = {"transaction_type": "sale", "lead_email": "a@example.com", "secret_key": ipn_secret}
        assert (await http.post(f"{kartra}/v1/ipn/kartra/{conn['id']}", data=ipn)).status_code in (200, 400)
        assert (await http.get(f"{kartra}/v1/connections/{secret}", headers=system.auth)).status_code == 404
        assert (
            await http.get(f"{xero}/v1/xero/callback", params={"code": code, "state": state})
        ).status_code == 400

    wanted = {
        ("kartra-gateway", "/v1/webhooks/kartra/{connection_id}/{secret}", 200),
        ("kartra-gateway", "/v1/webhooks/kartra/{connection_id}/{secret}", 401),
        ("kartra-gateway", "/v1/ipn/kartra/{connection_id}", None),
        ("kartra-gateway", "/v1/connections/{connection_id}", 404),
        ("xero-gateway", "/v1/xero/callback", 400),
    }

    def seen() -> set:
        out = set()
        for name in ("kartra-gateway", "xero-gateway"):
            for line in _access_lines(system, name):
                out.add((name, line["route"], line["status"]))
                out.add((name, line["route"], None))
        return out

    await wait_for(
        lambda: wanted <= seen(), timeout=20, message=f"an access line per request (have {seen()})"
    )
    leaked = [
        line
        for line in system.log_lines("kartra-gateway") + system.log_lines("xero-gateway")
        if any(s in line for s in (secret, ipn_secret, code, state))
    ]
    assert leaked == []
