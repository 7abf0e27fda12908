"""Save-time validation lists every problem (DESIGN.md §4) and resolves inherited connections."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from design_zap import DESIGN_EXAMPLE

from kxflow_contracts.catalog import CATALOG
from zap_router.domain.validation import validate_zap
from zap_router.domain.zaps import ZapSpec
from zap_router.testing import demo_catalog

CONNECTIONS = {"kartra": {"kartra-main"}, "xero": {"xero-au", "xero-nz"}}
TRIGGER = {"app": "kartra", "event": "kartra.product.purchased", "connection": "kartra-main"}


def spec(**overrides: Any) -> ZapSpec:
    base: dict[str, Any] = {
        "name": "z",
        "trigger": TRIGGER,
        "steps": [
            {
                "id": "contact",
                "action": "xero.contact.find_or_create",
                "connection": "xero-au",
                "input": {"Name": "{{ trigger.lead.email }}"},
            },
            {
                "id": "invoice",
                "action": "xero.sales_invoice.create",
                "input": {
                    "Contact": {"ContactID": "{{ steps.contact.ContactID }}"},
                    "LineItems": [{"Description": "x", "UnitAmount": "{{ trigger.transaction.amount }}"}],
                },
            },
        ],
    }
    base.update(overrides)
    return ZapSpec.model_validate(base)


def test_valid_zap_inherits_the_previous_connection_of_the_same_app() -> None:
    steps, problems = validate_zap(spec(), demo_catalog(), CONNECTIONS)
    assert problems == []
    assert [(s.id, s.app, s.connection) for s in steps] == [
        ("contact", "xero", "xero-au"),
        ("invoice", "xero", "xero-au"),
    ]


def test_every_problem_is_listed() -> None:
    bad = spec(
        trigger={**TRIGGER, "connection": "kartra-other", "params": {"colour": "red"}},
        filter={
            "any": [
                {
                    "all": [
                        {"field": "steps.contact.ContactID", "op": "exists"},
                        {"field": "trigger.x", "op": "matches", "value": "("},
                    ]
                }
            ]
        },
        steps=[
            {"id": "contact", "action": "xero.contact.teleport", "connection": "xero-au", "input": {}},
            {
                "id": "invoice",
                "action": "xero.sales_invoice.create",
                "connection": "xero-mars",
                "input": {
                    "Contact": {"ContactID": "{{ steps.paid.InvoiceID }}"},
                    "Colour": "red",
                    "LineItems": [{"Description": "x", "UnitAmount": "free"}],
                },
            },
            {
                "id": "paid",
                "action": "xero.payment.create",
                "input": {"Amount": "{{ trigger.transaction.amount", "Date": "{{ steps.ghost.x }}"},
            },
            {"id": "paid", "action": "kartra.lead.tag.assign", "input": {"lead_email": "x", "tag": "y"}},
        ],
    )
    _, problems = validate_zap(bad, demo_catalog(), CONNECTIONS)
    found = {(p.loc, p.msg.split(" (")[0].split(":")[0]) for p in problems}
    expected_locs = {
        "trigger.connection",
        "trigger.params.colour",
        "filter.any[0].all[0].field",
        "filter.any[0].all[1].value",
        "steps[0].action",
        "steps[1].connection",
        "steps[1].input.Colour",
        "steps[1].input.LineItems.0.UnitAmount",
        "steps[1].input.Contact.ContactID",
        "steps[2].input.Invoice",
        "steps[2].input.Account",
        "steps[2].input.Amount",
        "steps[2].input.Date",
        "steps[3].id",
    }
    assert expected_locs <= {loc for loc, _ in found}, problems
    messages = {p.loc: p.msg for p in problems}
    assert "does not precede" in messages["steps[1].input.Contact.ContactID"]
    assert "does not exist" in messages["steps[2].input.Date"]
    assert "syntax error" in messages["steps[2].input.Amount"]


def test_not_found_continue_only_for_searches() -> None:
    bad = spec(
        steps=[
            {
                "id": "c",
                "action": "xero.contact.find_or_create",
                "connection": "xero-au",
                "input": {"Name": "x"},
                "on_not_found": "continue",
            }
        ]
    )
    _, problems = validate_zap(bad, demo_catalog(), CONNECTIONS)
    assert [p.loc for p in problems] == ["steps[0].on_not_found"]


def test_step_ids_must_be_identifiers() -> None:
    with pytest.raises(ValueError):
        spec(steps=[{"id": "Bad.Id", "action": "xero.contact.find", "input": {}}])


def test_design_example_zap_is_valid_against_the_real_catalog() -> None:
    """DESIGN.md §4's example, against the catalog the gateways publish (not the test catalog)."""
    connections = {"kartra": {"kartra-main"}, "xero": {"xero-acme-au"}}
    steps, problems = validate_zap(ZapSpec.model_validate(DESIGN_EXAMPLE), CATALOG, connections)
    assert problems == []
    assert [s.connection for s in steps] == ["xero-acme-au"] * 3


EXAMPLES = sorted((Path(__file__).resolve().parents[3] / "examples" / "zaps").glob("*.yaml"))


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_zaps_are_valid_against_the_real_catalog(path: Path) -> None:
    spec = ZapSpec.model_validate(yaml.safe_load(path.read_text()))
    connections = {"kartra": {"kartra-main"}, "xero": {"xero-acme-au"}}
    _, problems = validate_zap(spec, CATALOG, connections)
    assert problems == []


def test_connections_can_be_named_by_their_unique_name() -> None:
    from zap_router.adapters.connections import aliases
    from zap_router.domain.validation import resolve_connection_names

    kartra = aliases(
        [
            {"id": "kc_1", "name": "kartra-main"},
            {"id": "kc_2", "name": "twin"},
            {"id": "kc_3", "name": "twin"},
        ]
    )
    assert kartra == {"kc_1": "kc_1", "kc_2": "kc_2", "kc_3": "kc_3", "kartra-main": "kc_1"}  # twins stay ids
    connections = {"kartra": kartra, "xero": aliases([{"id": "xero-acme-au", "name": "Acme AU"}])}
    spec = resolve_connection_names(ZapSpec.model_validate(DESIGN_EXAMPLE), connections)
    assert spec.trigger.connection == "kc_1"
    assert [s.connection for s in spec.steps] == ["xero-acme-au", None, None]
    steps, problems = validate_zap(spec, CATALOG, connections)
    assert problems == []
    assert {s.connection for s in steps} == {"xero-acme-au"}
