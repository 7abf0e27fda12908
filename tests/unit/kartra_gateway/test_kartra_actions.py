"""Use cases of ``KartraActions`` (the port the command runner executes through) on in-memory
fakes of its own ports: unknown connection, bad input, a re-executed create, find-or-create,
and the API Request action's guards. No HTTP, no database."""

from __future__ import annotations

from typing import Any

import pytest
from fakes.commands import make_command
from fakes.kartra import FakeConnections, FakeKartra, error, success

from kartra_gateway.service_layer.execute import Failed, KartraActions
from kxflow_contracts.commands import ActionCommand

LEAD = {"id": "77", "email": "ada@example.com", "first_name": "Ada"}


def _cmd(action: str, data: dict[str, Any], connection: str = "kc-1") -> ActionCommand:
    return make_command(action=action, input=data, connection_id=connection)


@pytest.fixture
def kartra() -> FakeKartra:
    return FakeKartra()


@pytest.fixture
def actions(kartra: FakeKartra) -> KartraActions:
    connections = FakeConnections()
    connections.add("acme", "kc-1")
    return KartraActions(connections, kartra)


async def test_another_tenants_connection_is_unknown_and_kartra_is_never_called(
    actions: KartraActions, kartra: FakeKartra
) -> None:
    with pytest.raises(Failed) as failed:
        await actions.run(_cmd("kartra.lead.create", {"email": "a@b.c"}, connection="kc-other"), False)
    assert failed.value.error.code == "unknown_connection"
    assert kartra.sent == []


async def test_bad_input_is_a_permanent_invalid_input_naming_the_field(
    actions: KartraActions, kartra: FakeKartra
) -> None:
    with pytest.raises(Failed) as failed:
        await actions.run(_cmd("kartra.lead.create", {}), False)
    assert failed.value.error.code == "invalid_input" and not failed.value.error.retryable
    assert "email" in failed.value.error.message
    assert kartra.sent == []


async def test_a_reexecuted_create_whose_lead_exists_reports_what_the_first_execution_did(
    actions: KartraActions, kartra: FakeKartra
) -> None:
    """The first executor died after Kartra created the lead: Kartra now answers 244 (exists);
    the re-execution finds the lead and reports it created, never a failure, never twice."""
    kartra.script = {
        "create_lead": [error("244", "Lead already exists")],
        "search_lead": [success(lead_details=LEAD)],
    }
    out = await actions.run(_cmd("kartra.lead.create", {"email": "ada@example.com"}), True)
    assert out["created"] is True and out["email"] == "ada@example.com"
    assert kartra.commands() == ["create_lead", "search_lead"]


async def test_a_first_execution_answered_exists_is_a_failure(
    actions: KartraActions, kartra: FakeKartra
) -> None:
    kartra.script = {"create_lead": [error("244", "Lead already exists")]}
    with pytest.raises(Exception, match="244"):
        await actions.run(_cmd("kartra.lead.create", {"email": "ada@example.com"}), False)
    assert kartra.commands() == ["create_lead"]


async def test_find_or_create_creates_only_what_it_did_not_find(
    actions: KartraActions, kartra: FakeKartra
) -> None:
    kartra.script = {
        "search_lead": [error("234", "No lead found")],
        "create_lead": [success(lead_details=LEAD)],
    }
    out = await actions.run(_cmd("kartra.lead.find_or_create", {"email": "ada@example.com"}), False)
    assert out["created"] is True
    assert kartra.commands() == ["search_lead", "create_lead"]


@pytest.mark.parametrize(
    ("data", "code"),
    [
        ({"url": "https://evil.test/api", "body": {}}, "forbidden_url"),
        ({"body": {"api_key": "mine"}}, "invalid_input"),
    ],
)
async def test_api_request_calls_only_the_connection_api_and_never_takes_credentials(
    actions: KartraActions, kartra: FakeKartra, data: dict[str, Any], code: str
) -> None:
    with pytest.raises(Failed) as failed:
        await actions.run(_cmd("kartra.api.request", data), False)
    assert failed.value.error.code == code
    assert kartra.raw == []


async def test_api_request_injects_the_credentials(actions: KartraActions, kartra: FakeKartra) -> None:
    out = await actions.run(_cmd("kartra.api.request", {"body": {"cmd": "x"}}), False)
    assert out["status_code"] == 200
    (body,) = kartra.raw
    assert "api_key=key-1" in body and "api_password=password-1" in body
