"""Pure domain logic of the Kartra gateway: form codec, timestamps, normalization, rate math,
error codes, response shapes, and the catalog's examples."""

from __future__ import annotations

import bisect

import pytest

from kartra_gateway.adapters.kartra_client import KartraCallError, KartraResponse
from kartra_gateway.domain import php_form
from kartra_gateway.domain.kartra_errors import CODES, Category, classify
from kartra_gateway.domain.normalize import normalize_ipn, normalize_outbound
from kartra_gateway.domain.payloads import WebhookRejected, parse_body
from kartra_gateway.domain.rate_limit import CallSchedule
from kartra_gateway.domain.timestamps import to_utc_iso
from kxflow_contracts.catalog import CATALOG, Kind
from kxflow_contracts.catalog.kartra import ENTRIES


def test_php_form_round_trip_matches_http_build_query() -> None:
    data = {
        "app_id": "A",
        "lead": {
            "email": "jane@example.com",
            "custom_fields": [{"field_identifier": "x", "field_value": "1"}],
        },
        "actions": [{"cmd": "create_lead"}, {"cmd": "assign_tag", "tag_name": "Customer"}],
    }
    body = php_form.encode(data)
    assert "lead%5Bemail%5D=jane%40example.com" in body
    assert "actions%5B1%5D%5Btag_name%5D=Customer" in body
    assert php_form.decode(body) == data


def test_timestamps_are_eastern_to_utc() -> None:
    assert to_utc_iso("2024-05-02 09:14:00") == "2024-05-02T13:14:00Z"  # EDT
    assert to_utc_iso("2024-01-16 09:00:00") == "2024-01-16T14:00:00Z"  # EST
    assert to_utc_iso("02 May 2024 09:14:00") == "2024-05-02T13:14:00Z"
    assert to_utc_iso("0000-00-00 00:00:00") is None
    assert to_utc_iso("N/A") is None


def test_parse_body_rejects_with_reasons() -> None:
    for body, reason in [(b"", "empty"), (b"{oops", "not valid JSON"), (b"[1]", "object")]:
        with pytest.raises(WebhookRejected, match=reason):
            parse_body(body, "application/json")
    assert parse_body(b'payload={"a":1}', "application/x-www-form-urlencoded") == {"a": 1}


def test_flat_and_nested_action_details_normalize_the_same() -> None:
    lead = {"id": 1, "email": "a@b.c"}
    nested = {
        "lead": lead,
        "action": "membership_granted",
        "action_details": {"membership": {"membership_id": 7}},
    }
    flat = {"lead": lead, "action": "membership_granted", "action_details": {"membership_id": "7"}}
    a = normalize_outbound(nested, "c", "2024-01-01T00:00:00Z")
    b = normalize_outbound(flat, "c", "2024-01-01T00:00:00Z")
    assert a.event.membership.id == b.event.membership.id == "7"  # type: ignore[union-attr]
    assert a.digest != b.digest


def test_purchase_event_has_the_paths_the_example_zap_uses() -> None:
    body = {
        "lead": {"id": 9, "email": "j@x.io", "first_name": "J", "last_name": "S"},
        "action": "buy_product",
        "action_details": {
            "transaction_details": {"product_id": 123, "product_name": "P", "transaction_full_amount": "97"}
        },
    }
    data = normalize_outbound(body, "c", "t").event.model_dump()  # type: ignore[union-attr]
    assert (data["lead"]["first_name"], data["lead"]["last_name"], data["lead"]["email"]) == (
        "J",
        "S",
        "j@x.io",
    )
    assert data["transaction"]["amount"] == 97.0 and data["product"]["name"] == "P"
    assert CATALOG.get("kartra.product.purchased").param_fields["product_id"] == "product.id"
    assert data["product"]["id"] == "123"


def test_ipn_masks_the_secret_and_reads_na() -> None:
    n = normalize_ipn(
        {"transaction_type": "sale", "lead_email": "a@b.c", "secret_key": "s3cret", "transaction_jv": "N/A"},
        "c",
        "t",
    )
    assert n.payload["secret_key"] == "***"
    assert n.event.transaction.jv is None  # type: ignore[union-attr]
    with pytest.raises(WebhookRejected, match="lead"):
        normalize_ipn({"transaction_type": "sale"}, "c", "t")


def test_unknown_action_is_kept_without_an_event() -> None:
    n = normalize_outbound({"lead": {"id": 1}, "action": "brand_new"}, "c", "t")
    assert n.entry is None and n.event is None and n.action == "brand_new"


def test_call_schedule_never_exceeds_twenty_per_second_window() -> None:
    schedule = CallSchedule(rate=16, burst=2)
    times = []
    for i in range(200):
        now = i * 0.001  # 1000 callers arriving per second
        times.append(now + schedule.reserve(now))
    worst = max(bisect.bisect_left(times, t + 1.0) - i for i, t in enumerate(times))
    assert worst <= 18
    schedule.penalize(times[-1], 1.0)
    assert schedule.reserve(times[-1]) >= 1.0


def test_every_documented_code_is_classified() -> None:
    assert classify("212").category is Category.not_found
    assert classify("244").category is Category.conflict
    assert classify("429").retryable and not classify("203").retryable
    assert classify("999").category is Category.rejected
    assert len(CODES) >= 74


def test_response_reads_both_shapes_and_errors() -> None:
    nested = KartraResponse(
        200, {"status": "Success", "actions": [{"assign_tag": {"status": "Success", "type": "103"}}]}
    )
    assert nested.checked(0, "assign_tag")["type"] == "103"
    flat = KartraResponse(200, {"status": "Success", "account_tags": ["A"]})
    assert flat.checked(0, "retrieve_account_tags")["account_tags"] == ["A"]
    error = KartraResponse(200, {"status": "Error", "message": "Tag does not exist", "type": "212"})
    with pytest.raises(KartraCallError) as info:
        error.checked(0, "assign_tag")
    assert info.value.code == "212" and not info.value.retryable


@pytest.mark.parametrize("entry", ENTRIES, ids=lambda e: e.key)
def test_every_catalog_example_validates_against_its_output_model(entry) -> None:  # type: ignore[no-untyped-def]
    entry.output_model.model_validate(entry.example)
    if entry.kind is Kind.trigger and entry.available:
        for path in entry.param_fields.values():
            node = entry.example
            for part in path.split("."):
                node = node[part]
            assert node is not None, (entry.key, path)
    if not entry.available:
        assert entry.unavailable_reason


def test_php_form_lists_only_from_ascii_digit_keys() -> None:
    """Found by hypothesis: "¹".isdigit() is True but int("¹") raises (a 500 on a webhook)."""
    assert php_form.decode("a[1]=x&a[0]=y") == {"a": ["y", "x"]}
    assert php_form.decode("a[%C2%B9]=x") == {"a": {"¹": "x"}}


def test_split_test_link_version_is_read_and_matched() -> None:
    body = {
        "lead": {"id": 1, "email": "a@b.c"},
        "action": "click_page_split_test_link",
        "action_details": {
            "page_split_test_link": {
                "page_split_test_link_id": 12,
                "page_split_test_link_name": "Home",
                "page_split_test_link_version": "B",
            }
        },
    }
    event = normalize_outbound(body, "c", "t").event.model_dump()  # type: ignore[union-attr]
    assert event["split_test_link"] == {"id": "12", "name": "Home", "version": "B"}
    assert CATALOG.get("kartra.split_test_link.clicked").param_fields["version"] == "split_test_link.version"
    without = {**body, "action_details": {"page_split_test_link": {"page_split_test_link_id": 12}}}
    assert normalize_outbound(without, "c", "t").event.split_test_link.version is None  # type: ignore[union-attr]


def test_find_or_create_lead_searches_by_lead_id_and_never_sends_it_on_create() -> None:
    from kartra_gateway.domain.actions import build_create_lead, build_search_lead
    from kxflow_contracts.models.kartra_actions import FindOrCreateLeadInput, LeadRef

    inp = FindOrCreateLeadInput(email="a@b.c", lead_id="42", first_name="A")
    assert build_search_lead(LeadRef(email=inp.email, lead_id=inp.lead_id))["lead"] == {
        "id": "42",
        "email": "a@b.c",
    }
    assert build_create_lead(inp)["lead"] == {"email": "a@b.c", "first_name": "A"}
