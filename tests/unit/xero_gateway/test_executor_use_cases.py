"""Use cases of the xero ``Executor`` (the port the command runner executes through) on in-memory
fakes of its own ports: unknown connection, bad input, a keyed create, Xero's validation answer,
Xero away, and a hostile id — no HTTP, no database."""

from __future__ import annotations

from typing import Any

import pytest
from fakes.commands import make_command
from fakes.xero import FakeConnections, FakeXero

from kxflow_contracts.commands import ActionCommand
from xero_gateway.domain.errors import XeroUnavailable
from xero_gateway.domain.ids import InvalidXeroId
from xero_gateway.service_layer.executor import Executor, Failed


def _cmd(action: str, data: dict[str, Any], connection: str = "xero-acme") -> ActionCommand:
    return make_command(action=action, input=data, connection_id=connection, command_id="cmd-7")


@pytest.fixture
def xero() -> FakeXero:
    return FakeXero()


@pytest.fixture
def executor(xero: FakeXero) -> Executor:
    return Executor(xero, FakeConnections())


async def test_another_tenants_connection_is_unknown_and_xero_is_never_called(
    executor: Executor, xero: FakeXero
) -> None:
    with pytest.raises(Failed) as failed:
        await executor.run(_cmd("xero.item.create", {"Code": "A1"}, connection="xero-globex"), False)
    assert failed.value.error.code == "unknown_connection"
    assert xero.calls == []


async def test_bad_input_is_invalid_input_before_any_call(executor: Executor, xero: FakeXero) -> None:
    with pytest.raises(Failed) as failed:
        await executor.run(_cmd("xero.item.create", {"Name": "no code"}), False)
    assert failed.value.error.code == "invalid_input"
    assert xero.calls == []


async def test_a_create_is_one_keyed_call_and_returns_the_created_record(
    executor: Executor, xero: FakeXero
) -> None:
    xero.script = [(200, {"Items": [{"ItemID": "I-1", "Code": "A1", "Name": "Widget"}]})]
    out = await executor.run(_cmd("xero.item.create", {"Code": "A1", "Name": "Widget"}), False)
    assert out is not None and out["ItemID"] == "I-1"
    (call,) = xero.calls
    assert (call.method, call.path, call.idempotency_key) == ("PUT", "/api.xro/2.0/Items", "cmd-7")
    assert call.json_body == {"Items": [{"Code": "A1", "Name": "Widget"}]}


async def test_xeros_validation_answer_is_a_permanent_failure_with_its_message(
    executor: Executor, xero: FakeXero
) -> None:
    body = {
        "ErrorNumber": 10,
        "Type": "ValidationException",
        "Message": "A validation exception occurred",
        "Elements": [{"ValidationErrors": [{"Message": "Item code 'A1' already exists"}]}],
    }
    xero.script = [(400, body)]
    with pytest.raises(Failed) as failed:
        await executor.run(_cmd("xero.item.create", {"Code": "A1"}), False)
    assert not failed.value.error.retryable
    assert "already exists" in failed.value.error.message


async def test_xero_away_is_a_retryable_upstream_unavailable(executor: Executor, xero: FakeXero) -> None:
    cmd = _cmd("xero.item.create", {"Code": "A1"})
    xero.script = [XeroUnavailable("Xero answered 503 three times", status=503)]
    with pytest.raises(XeroUnavailable) as away:
        await executor.run(cmd, False)
    error = executor.failure(cmd, away.value)
    assert error is not None and error.code == "upstream_unavailable" and error.retryable


async def test_a_hostile_id_is_a_permanent_invalid_input_and_reaches_no_endpoint(
    executor: Executor, xero: FakeXero
) -> None:
    data = {"QuoteID": "..", "Contact": {"ContactID": "C-1"}, "Date": "2024-05-02"}
    cmd = _cmd("xero.quote.update", data)
    with pytest.raises(InvalidXeroId) as refused:
        await executor.run(cmd, False)
    error = executor.failure(cmd, refused.value)
    assert error is not None and error.code == "invalid_input" and not error.retryable
    assert xero.calls == []
