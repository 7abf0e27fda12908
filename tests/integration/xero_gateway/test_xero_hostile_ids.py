"""A command whose Xero id would change the endpoint (``../``) or cannot be sent (a control
character) fails at once, permanently, as ``invalid_input`` — no request reaches Xero, no retry."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from integration.xero_gateway.xero_gw_helpers import TENANT, connect_all

from kxflow_contracts.commands import ActionCommand
from kxflow_contracts.results import ResultStatus

pytestmark = [pytest.mark.kafka, pytest.mark.mongo]


def _cmd(action: str, inp: dict[str, Any]) -> ActionCommand:
    return ActionCommand(
        command_id=uuid.uuid4().hex,
        tenant=TENANT,
        connection_id="xero-acme-au",
        action=action,
        input=inp,
        run_id="run-ids",
        zap_id="zap-ids",
        zap_version=1,
        step_id=action,
    )


@pytest.mark.parametrize(
    ("action", "inp"),
    [
        ("xero.quote.update", {"QuoteID": "../../Contacts", "Reference": "x"}),
        ("xero.quote.update", {"QuoteID": "q\x01", "Reference": "x"}),
        ("xero.contact.find", {"SearchBy": "ContactID", "ContactID": "../Invoices"}),
        ("xero.contact.find", {"SearchBy": "ContactID", "ContactID": "c\x00"}),
    ],
)
async def test_bad_ids_are_a_permanent_invalid_input(
    start_gateway, xero_sandbox, action: str, inp: dict
) -> None:
    app, url = await start_gateway()
    await connect_all(url)
    before = xero_sandbox.sandbox.stats.requests
    result = await app.state.executor.execute(_cmd(action, inp))
    assert result.status is ResultStatus.failed, result
    assert result.error is not None and result.error.code == "invalid_input"
    assert not result.error.retryable
    sent = xero_sandbox.sandbox.stats.requests - before
    assert sent == 0 or (result.error.code == "invalid_input" and "Contacts" not in str(result.output))
