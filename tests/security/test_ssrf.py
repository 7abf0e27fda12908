"""API Request actions reach the app's API and nothing else: not another host named in the URL, not a
host smuggled through userinfo or a Host header, and not a host the API redirects to.

"The app's API" here is a front in place of each sandbox that answers ``?redirect=1`` (and Xero's
``/Redirect``) with a redirect to an attacker server; every request that server receives is an SSRF.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from asgi_server import serve
from faststream.kafka import KafkaBroker
from integration.xero_gateway.xero_gw_helpers import Results
from security.inprocess_system import System, running_system
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse
from waiting import wait_for

from kxflow_contracts.commands import COMMAND_TYPE, ActionCommand
from kxflow_contracts.envelope import CloudEvent
from kxflow_contracts.runtime.kafka import publish_event


class Attacker:
    """An internal service nobody should reach through kxflow; it records every request."""

    def __init__(self) -> None:
        self.hits: list[str] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        self.hits.append(f"{scope['method']} {scope['path']}")
        await PlainTextResponse("internal secrets")(scope, receive, send)


def redirecting_front(target: Any, attacker_url: str) -> Any:
    """``target`` as seen through a front that redirects some requests to the attacker."""

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            request = Request(scope, receive)
            if "redirect" in request.query_params or request.url.path.endswith("/Redirect"):
                await RedirectResponse(f"{attacker_url}/stolen", status_code=307)(scope, receive, send)
                return
        await target(scope, receive, send)

    return app


@pytest.fixture(scope="module")
def attacker() -> Attacker:
    return Attacker()


@pytest.fixture(scope="module")
async def ssrf_system(kafka_bootstrap: str, mongodb_url: str, attacker: Attacker) -> AsyncIterator[Any]:
    async with serve(attacker) as attacker_url:
        front = lambda sandbox: redirecting_front(sandbox, attacker_url)  # noqa: E731
        async with running_system(
            kafka_bootstrap, mongodb_url, wrap_kartra_api=front, wrap_xero_api=front
        ) as system:
            broker = KafkaBroker(kafka_bootstrap)
            await broker.start()
            async with Results(kafka_bootstrap, system.topics.action_results) as results:
                yield system, broker, results, attacker_url
            await broker.stop()


async def execute(ctx: Any, action: str, inp: dict[str, Any]) -> dict[str, Any]:
    system, broker, results, _ = ctx
    kartra = action.startswith("kartra.")
    conn = system.kartra_connection["id"] if kartra else "xero-acme-au"
    cmd = ActionCommand(
        command_id=uuid.uuid4().hex,
        tenant="acme",
        connection_id=conn,
        action=action,
        input=inp,
        run_id="ssrf-run",
        zap_id="ssrf-zap",
        zap_version=1,
        step_id="api",
    )
    event = CloudEvent(
        id=f"{cmd.command_id}:1",
        source="/tests",
        type=COMMAND_TYPE,
        subject=cmd.command_id,
        tenant="acme",
        data=cmd,
    )
    topic = system.topics.kartra_commands if kartra else system.topics.xero_commands
    await publish_event(broker, topic, event, cmd.key())
    found = await wait_for(
        lambda: results.by_subject(cmd.command_id), timeout=30, message=f"result of {action}"
    )
    return found[0].data


def kartra_cases(system: System, attacker_url: str) -> Iterator[tuple[str, dict[str, Any]]]:
    api = system.apps["kartra-gateway"].state.settings.kartra_api_url
    host = api.split("//", 1)[1].split("/", 1)[0]
    attacker_host = attacker_url.split("//", 1)[1]
    yield "another host", {"url": f"{attacker_url}/api", "body": {"get_lead": {"email": "a@b.c"}}}
    yield "userinfo trick", {"url": f"http://{host}@{attacker_host}/api"}
    yield "same host, other path", {"url": f"http://{host}/api/../admin"}
    yield "other scheme", {"url": api.replace("http://", "file://")}
    yield "redirect from the API", {"url": api, "query": {"redirect": "1"}}
    yield "redirect, URL defaulted", {"query": {"redirect": "1"}}
    yield "Host header", {"headers": {"Host": attacker_host}, "body": {"get_lead": {"email": "a@b.c"}}}


def xero_cases(attacker_url: str) -> Iterator[tuple[str, dict[str, Any]]]:
    attacker_host = attacker_url.split("//", 1)[1]
    yield "another host", {"URL": f"{attacker_url}/api.xro/2.0/Invoices"}
    yield "http scheme", {"URL": "http://api.xero.com/api.xro/2.0/Invoices"}
    yield "userinfo trick", {"URL": f"https://api.xero.com@{attacker_host}/api.xro/2.0/Invoices"}
    yield "lookalike host", {"URL": "https://api.xero.com.evil.example/api.xro/2.0/Invoices"}
    yield "backslash trick", {"URL": f"https://{attacker_host}\\@api.xero.com/api.xro/2.0/Invoices"}
    yield "redirect from the API", {"URL": "https://api.xero.com/api.xro/2.0/Redirect"}
    yield (
        "Host header",
        {"URL": "https://api.xero.com/api.xro/2.0/Organisation", "Headers": {"Host": attacker_host}},
    )


async def test_kartra_api_request_reaches_only_the_kartra_api(ssrf_system: Any, attacker: Attacker) -> None:
    system, _, _, attacker_url = ssrf_system
    outcomes = {}
    for name, inp in kartra_cases(system, attacker_url):
        result = await execute(ssrf_system, "kartra.api.request", inp)
        outcomes[name] = (result["status"], (result.get("error") or {}).get("code"))
    assert attacker.hits == [], f"SSRF: the attacker was reached: {attacker.hits}; outcomes {outcomes}"
    for name in ("another host", "userinfo trick", "same host, other path", "other scheme"):
        assert outcomes[name] == ("failed", "forbidden_url"), (name, outcomes[name])
    # A legitimate call still works (the refusals are about the target, not the action).
    ok = await execute(ssrf_system, "kartra.api.request", {"body": {"get_lead": {"email": "nobody@x.y"}}})
    assert ok["status"] in ("succeeded", "failed"), ok
    assert ok.get("error", {}) is None or (ok.get("error") or {}).get("code") != "forbidden_url"


async def test_xero_api_request_reaches_only_the_xero_api(ssrf_system: Any, attacker: Attacker) -> None:
    _, _, _, attacker_url = ssrf_system
    outcomes = {}
    for name, inp in xero_cases(attacker_url):
        result = await execute(ssrf_system, "xero.api_request", {"Method": "GET", **inp})
        outcomes[name] = (result["status"], (result.get("error") or {}).get("code"))
    assert attacker.hits == [], f"SSRF: the attacker was reached: {attacker.hits}; outcomes {outcomes}"
    # "backslash trick" parses as host api.xero.com; only its path is used, on the configured API
    # URL, so it may succeed: what matters is that the attacker saw nothing.
    for name in ("another host", "http scheme", "userinfo trick", "lookalike host"):
        assert outcomes[name] == ("failed", "invalid_input"), (name, outcomes[name])
    ok = await execute(
        ssrf_system,
        "xero.api_request",
        {"Method": "GET", "URL": "https://api.xero.com/api.xro/2.0/Organisation"},
    )
    assert ok["status"] == "succeeded", ok
