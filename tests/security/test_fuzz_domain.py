"""Hypothesis on the parsers that face the internet: whatever a sender posts, Kartra's body parser and
normalizers either produce an event or refuse with ``WebhookRejected`` (a 400 with the reason), and
Xero's batch parser never raises. The router's filters and templates already have hypothesis tests
(tests/unit/router/test_router_filters.py, test_router_templates.py); they are not repeated here.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from kartra_gateway.domain import php_form
from kartra_gateway.domain.normalize import normalize_ipn, normalize_outbound
from kartra_gateway.domain.payloads import WebhookRejected, parse_body
from xero_gateway.domain.webhooks import parse_batch

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=30,
)
KEYS = ["lead", "action", "action_details", "transaction_details", "product_id", "email", "id", "amount"]
kartra_like = st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=8), json_values, max_size=6)


def _accepts_or_rejects(body: bytes, content_type: str) -> None:
    try:
        payload = parse_body(body, content_type)
        normalize_outbound(payload, "c1", "2026-01-01T00:00:00Z")
    except WebhookRejected as exc:
        assert str(exc)
    try:
        payload = parse_body(body, content_type)
        normalize_ipn(payload, "c1", "2026-01-01T00:00:00Z")
    except WebhookRejected as exc:
        assert str(exc)


@settings(max_examples=300, deadline=None)
@given(
    st.binary(max_size=300), st.sampled_from(["", "application/json", "application/x-www-form-urlencoded"])
)
def test_any_bytes_are_an_event_or_a_reasoned_rejection(body: bytes, content_type: str) -> None:
    _accepts_or_rejects(body, content_type)


@settings(max_examples=300, deadline=None)
@given(kartra_like)
def test_kartra_shaped_json_and_forms_never_crash_the_normalizers(payload: dict[str, Any]) -> None:
    _accepts_or_rejects(json.dumps(payload).encode(), "application/json")
    _accepts_or_rejects(php_form.encode(payload).encode(), "application/x-www-form-urlencoded")


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(["events", "entropy", "x"]), json_values, max_size=3))
def test_xero_batches_of_any_shape_parse_without_raising(payload: dict[str, Any]) -> None:
    assert isinstance(parse_batch(payload), list)
