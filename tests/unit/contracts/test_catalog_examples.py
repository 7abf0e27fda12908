"""Catalog examples: ``example`` is a sample OUTPUT, ``input_example`` a sample INPUT, each valid
against its model; the Xero outputs are literal data captured from the gateway, one per entry."""

from __future__ import annotations

import json
from importlib import resources

import pytest

from kxflow_contracts.catalog import CATALOG
from kxflow_contracts.catalog import xero as xero_catalog
from kxflow_contracts.catalog.base import Kind

ENTRIES = list(CATALOG)
WITH_INPUT = [e for e in ENTRIES if e.input_example is not None]


@pytest.mark.parametrize("entry", WITH_INPUT, ids=[e.key for e in WITH_INPUT])
def test_every_input_example_validates_against_its_input_model(entry) -> None:
    entry.input_model.model_validate(entry.input_example)


@pytest.mark.parametrize("entry", ENTRIES, ids=[e.key for e in ENTRIES])
def test_every_example_validates_against_its_output_model(entry) -> None:
    entry.output_model.model_validate(entry.example)


def test_every_entry_has_an_input_example() -> None:
    """Every action and search of both apps a sample input, every trigger sample parameters."""
    missing = [e.key for e in CATALOG if e.input_example is None]
    assert missing == []


def test_trigger_parameter_examples_name_only_matched_parameters() -> None:
    """A trigger's sample parameters are ones the router matches on (``param_fields``)."""
    for entry in CATALOG.of(kind=Kind.trigger):
        if entry.available:  # an unavailable trigger never fires, so matches nothing
            assert set(entry.input_example or {}) <= set(entry.param_fields), entry.key


def test_the_examples_file_holds_exactly_one_output_per_xero_entry() -> None:
    raw = resources.files("kxflow_contracts.catalog").joinpath(xero_catalog.EXAMPLES_FILE).read_text()
    on_disk = json.loads(raw)
    assert set(on_disk) == {e.key for e in CATALOG.of("xero")}
    assert all(CATALOG.get(key).example == example for key, example in on_disk.items())


def test_xero_trigger_examples_are_real_events_not_placeholders() -> None:
    for entry in CATALOG.of("xero", Kind.trigger):
        event = entry.output_model.model_validate(entry.example)
        assert event.connection_id and event.xero_tenant_id != "…", entry.key
        payload = set(entry.output_model.model_fields) - {"connection_id", "origin", "occurred_at"}
        assert payload - {"xero_tenant_id"} <= set(entry.example), f"{entry.key} lacks its resource"
        assert event.origin.value == entry.delivery.value, entry.key


def test_an_action_example_is_its_output_and_the_input_example_its_input() -> None:
    entry = CATALOG.get("xero.sales_invoice.create")
    assert entry.example["InvoiceID"] and entry.example["Type"] == "ACCREC"
    assert "InvoiceID" not in entry.input_example
    public = entry.public()
    assert public["example"] == entry.example and public["input_example"] == entry.input_example
