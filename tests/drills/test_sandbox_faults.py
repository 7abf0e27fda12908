"""The Xero sandbox's fault injection the drills rely on (``POST /_sandbox/fail``): time-outs and
"created, but the answer was lost", served over a real socket so client time-outs are real.

The sleeps here are the behaviour under test (the sandbox holding a request or its answer).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from asgi_server import serve

from kxflow_sandboxes.xero import SandboxConfig
from kxflow_sandboxes.xero import create_app as create_sandbox

CONTACTS = "/api.xro/2.0/Contacts"


@pytest.fixture
async def xero() -> AsyncIterator[tuple[str, Any, dict[str, str]]]:
    app = create_sandbox(SandboxConfig())
    sandbox = app.state.sandbox
    org = sandbox.org_named("Acme AU")
    code = sandbox.identity.authorize([org.tenant_id], "accounting.contacts", "http://localhost/cb", 0.0)
    token = sandbox.identity.exchange_code(code, "http://localhost/cb", 0.0)["access_token"]
    headers = {
        "Authorization": f"Bearer {token}",
        "xero-tenant-id": org.tenant_id,
        "Accept": "application/json",
    }
    async with serve(app) as url:
        yield url, sandbox, headers


def _named(sandbox: Any, name: str) -> int:
    org = sandbox.org_named("Acme AU")
    return sum(1 for c in org.coll("Contacts").values() if c.get("Name") == name)


async def test_lost_answer_creates_once_and_the_retry_with_the_key_gets_the_stored_answer(xero: Any) -> None:
    url, sandbox, headers = xero
    async with httpx.AsyncClient(base_url=url, timeout=10) as http:
        res = await http.post(
            "/_sandbox/fail", json={"lose_answer": True, "delay_s": 1.5, "path_contains": "/Contacts"}
        )
        assert res.status_code == 200, res.text
        body = {"Contacts": [{"Name": "Lost Answer Ltd"}]}
        keyed = {**headers, "Idempotency-Key": "cmd-lost-1"}
        with pytest.raises(httpx.ReadTimeout):
            await http.put(CONTACTS, json=body, headers=keyed, timeout=0.5)
        assert _named(sandbox, "Lost Answer Ltd") == 1  # created although the client saw a time-out
        retry = await http.put(CONTACTS, json=body, headers=keyed)
        assert retry.status_code == 200
        assert _named(sandbox, "Lost Answer Ltd") == 1  # the key replays the first answer
        assert sandbox.stats.idempotent_replays == 1
        assert (await http.get("/_sandbox/stats")).json()["injected_faults"] == {"lost_answer": 1}


async def test_timeout_with_status_does_nothing_and_later_calls_are_normal(xero: Any) -> None:
    url, sandbox, headers = xero
    async with httpx.AsyncClient(base_url=url, timeout=10) as http:
        await http.post("/_sandbox/fail", json={"status": 504, "delay_s": 1.0, "path_contains": "/Contacts"})
        body = {"Contacts": [{"Name": "Timed Out Ltd"}]}
        with pytest.raises(httpx.ReadTimeout):
            await http.put(CONTACTS, json=body, headers=headers, timeout=0.3)
        late = await http.put(CONTACTS, json=body, headers=headers)
        assert late.status_code == 200
        assert _named(sandbox, "Timed Out Ltd") == 1  # the timed-out call wrote nothing


async def test_delay_alone_is_a_slow_but_successful_call(xero: Any) -> None:
    url, sandbox, headers = xero
    async with httpx.AsyncClient(base_url=url, timeout=10) as http:
        await http.post("/_sandbox/fail", json={"delay_s": 0.5, "path_contains": "/Contacts"})
        res = await http.put(CONTACTS, json={"Contacts": [{"Name": "Slow Ltd"}]}, headers=headers)
        assert res.status_code == 200
        assert res.elapsed.total_seconds() >= 0.5
        assert _named(sandbox, "Slow Ltd") == 1


async def test_status_only_keeps_its_old_meaning(xero: Any) -> None:
    url, _, headers = xero
    async with httpx.AsyncClient(base_url=url, timeout=10) as http:
        await http.post("/_sandbox/fail", json={"status": 500, "count": 2, "path_contains": "/Contacts"})
        statuses = [
            (await http.put(CONTACTS, json={"Contacts": [{"Name": f"S{i}"}]}, headers=headers)).status_code
            for i in range(3)
        ]
        assert statuses == [500, 500, 200]


@pytest.mark.parametrize(
    "body, says",
    [
        ({"lose_answer": True}, "delay_s"),
        ({"lose_answer": True, "delay_s": 1, "status": 500}, "drop status"),
        ({"status": 5000}, "status"),
        ({"delay": 3}, "delay"),
    ],
)
async def test_a_bad_fault_is_a_422_that_says_why_and_queues_nothing(
    xero: Any, body: dict[str, Any], says: str
) -> None:
    url, sandbox, _ = xero
    async with httpx.AsyncClient(base_url=url, timeout=10) as http:
        res = await http.post("/_sandbox/fail", json=body)
    assert res.status_code == 422
    assert says in res.text
    assert sandbox.injected_failures == []
