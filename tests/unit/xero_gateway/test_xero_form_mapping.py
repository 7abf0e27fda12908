"""The pure input → request mapping of the fields Zapier's forms add: what steers the gateway is
never sent to Xero, and each body the catalog's examples produce matches Xero's OpenAPI document."""

from __future__ import annotations

import json

import pytest

from kxflow_contracts.catalog import CATALOG
from kxflow_sandboxes.xero import openapi
from xero_gateway.domain import actions as act

# the row each composite sends its main write through
MAIN_WRITE = {
    "xero.contact.upsert": act.CONTACT_UPSERT,
    "xero.contact.find_or_create": act.CONTACT_CREATE,
    "xero.purchase_order.update": act.PURCHASE_ORDER_UPDATE,
    "xero.payroll_au.employee.update": act.EMPLOYEE_UPDATE,
}
WRITES = [
    key
    for key, spec in act.SPECS.items()
    if key in MAIN_WRITE or (spec.composite is None and spec.method in ("PUT", "POST"))
]


HEADERS = {"xero-tenant-id": "39f24de8-99c8-5494-abef-8411713518be", "Idempotency-Key": "k-1"}


def _data(key: str) -> dict:
    entry = CATALOG.get(key)
    return entry.input_model.model_validate(entry.input_example).model_dump(mode="json", exclude_none=True)


@pytest.mark.parametrize("key", WRITES)
def test_the_example_body_matches_xeros_openapi_document(key: str) -> None:
    req = act.build_request(MAIN_WRITE.get(key) or act.SPECS[key], _data(key))
    body = json.dumps(req.json_body).encode()
    error = openapi.validate(
        req.method, req.path, list(req.params.items()), HEADERS, body, "application/json"
    )
    assert error is None, error
    for field in ("ContactGroups", "SearchBy", "LineItemsUpdateMethod", "ContentBase64"):
        assert field not in json.dumps(req.json_body), f"{key} sent the gateway's {field} to Xero"


def test_contact_groups_are_separate_calls_that_match_the_document() -> None:
    group, contact = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d", "8138a266-fb42-49b2-a104-014b7045753d"
    for req in (act.contact_group_create("VIP"), act.contact_group_add(group, contact)):
        body = json.dumps(req.json_body).encode()
        assert openapi.validate(req.method, req.path, [], HEADERS, body, "application/json") is None
    assert act.contact_group_add(group, contact).path.endswith(f"/ContactGroups/{group}/Contacts")
    assert act.contact_group_find('A "B"') == ("/ContactGroups", {"where": 'Name!=null&&Name=="A \\"B\\""'})


def test_adding_lines_keeps_the_existing_lines_and_their_tracking() -> None:
    order = {
        "LineItems": [
            {
                "LineItemID": "l-1",
                "Description": "Old",
                "Quantity": 1,
                "UnitAmount": 5,
                "LineAmount": 5,
                "Tracking": [{"Name": "Region", "Option": "North", "TrackingCategoryID": "t"}],
            }
        ]
    }
    kept = act.kept_lines(order)
    assert kept == [
        {
            "LineItemID": "l-1",
            "Description": "Old",
            "Quantity": 1,
            "UnitAmount": 5,
            "Tracking": [{"Name": "Region", "Option": "North", "TrackingCategoryID": "t"}],
        }
    ]


def test_the_update_method_defaults_to_xeros_replace() -> None:
    model = CATALOG.get("xero.purchase_order.update").input_model
    assert model.model_validate({"PurchaseOrderID": "p"}).LineItemsUpdateMethod == "replace"
    with pytest.raises(ValueError):
        model.model_validate({"PurchaseOrderID": "p", "LineItemsUpdateMethod": "merge"})


def test_an_attachment_is_its_own_raw_put_and_bad_content_fails_before_any_write() -> None:
    invoice = "4f7b2a7e-2d3a-4a36-9a5b-0a5f4a1c8b11"
    req = act.attachment_request("Invoices", invoice, "receipt.pdf", b"%PDF-1.4\n", include_online=True)
    assert (req.method, req.params, req.content) == ("PUT", {"IncludeOnline": "true"}, b"%PDF-1.4\n")
    assert req.path.endswith(f"/Invoices/{invoice}/Attachments/receipt.pdf")
    error = openapi.validate(
        req.method, req.path, [("IncludeOnline", "true")], HEADERS, b"x", req.content_type
    )
    assert error is None, error
    model = CATALOG.get("xero.sales_invoice.create").input_model
    example = CATALOG.get("xero.sales_invoice.create").input_example
    bad = {**example, "Attachments": [{"FileName": "a.pdf", "ContentBase64": "not base64!"}]}
    with pytest.raises(ValueError, match="ContentBase64 is not base64"):
        model.model_validate(bad)


def test_payslip_period_dates_become_matchable_event_fields() -> None:
    from kxflow_contracts.events.xero import PayslipEvent
    from xero_gateway.domain.polls import pay_run_period

    run = {
        "PayRunPeriodStartDate": "/Date(1793491200000+0000)/",
        "PayRunPeriodEndDate": "/Date(1794614400000)/",
    }
    period = pay_run_period(run)
    assert period == {"pay_run_period_start_date": "2026-11-01", "pay_run_period_end_date": "2026-11-14"}
    assert pay_run_period({}) == {}
    event = PayslipEvent.model_validate(
        {
            "connection_id": "c",
            "origin": "poll",
            "xero_tenant_id": "t",
            "pay_run": run,
            "payslip": {},
            **period,
        }
    ).model_dump()
    entry = CATALOG.get("xero.payslip.created")
    for param, value in entry.input_example.items():
        path = entry.param_fields[param].split(".")
        actual = event
        for part in path:
            actual = actual[part]
        assert param == "pay_run_status" or actual == value, param
