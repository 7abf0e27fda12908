"""Zapier-style filters: every operator, OR of AND groups, and no exception on any JSON."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zap_router.domain.filters import condition_holds, explain, passes
from zap_router.domain.zaps import Condition, FilterOp, FilterSpec

CTX = {
    "trigger": {
        "lead": {"email": "Ada@Example.com", "tags": ["vip", "beta"], "vip": "yes", "name": ""},
        "transaction": {"amount": 49.5, "text_amount": "1,250.00"},
        "time": "2026-11-20T09:30:00Z",
        "flag": False,
    }
}


@pytest.mark.parametrize(
    ("field", "op", "value", "expected"),
    [
        ("trigger.lead.email", "contains", "example", True),
        ("trigger.lead.email", "not_contains", "example", False),
        ("trigger.lead.missing", "not_contains", "x", True),
        ("trigger.lead.email", "exact", "ada@example.com", False),  # exact is case-sensitive
        ("trigger.lead.email", "exact", "Ada@Example.com", True),
        ("trigger.lead.email", "not_exact", "x", True),
        ("trigger.lead.vip", "in", "yes, no", True),
        ("trigger.lead.vip", "in", ["no", "maybe"], False),
        ("trigger.lead.vip", "not_in", ["no"], True),
        ("trigger.lead.email", "starts_with", "ada", True),
        ("trigger.lead.email", "ends_with", ".COM", True),
        ("trigger.lead.email", "not_starts_with", "bob", True),
        ("trigger.lead.email", "not_ends_with", ".com", False),
        ("trigger.lead.email", "matches", r"^\w+@example\.com$", False),
        ("trigger.lead.email", "matches", r"(?i)^\w+@example\.com$", True),
        ("trigger.lead.email", "not_matches", r"\d", True),
        ("trigger.lead.tags", "contains", "VIP", True),
        ("trigger.transaction.amount", "gt", 0, True),
        ("trigger.transaction.amount", "lt", "49.5", False),
        ("trigger.transaction.amount", "eq", 49.5, True),
        ("trigger.transaction.text_amount", "gte", 1250, True),
        ("trigger.transaction.missing", "gt", 0, False),
        ("trigger.transaction.missing", "ne", 0, False),
        ("trigger.lead.email", "gt", 0, False),  # not a number: the condition does not hold
        ("trigger.time", "after", "2026-11-01", True),
        ("trigger.time", "before", "2026-11-01T00:00:00+00:00", False),
        ("trigger.time", "date_equals", "2026-11-20", True),
        ("trigger.lead.vip", "true", None, True),
        ("trigger.flag", "false", None, True),
        ("trigger.lead.email", "true", None, False),
        ("trigger.lead.email", "exists", None, True),
        ("trigger.lead.name", "exists", None, False),  # empty text counts as absent, as in Zapier
        ("trigger.lead.nope", "not_exists", None, True),
    ],
)
def test_operator(field: str, op: str, value: Any, expected: bool) -> None:
    assert condition_holds(Condition(field=field, op=op, value=value), CTX) is expected


def test_zapier_wording_is_accepted_as_operator() -> None:
    assert Condition(field="x", op="Text Exactly Matches").op is FilterOp.exact
    assert Condition(field="x", op="(Number) greater than".replace("(Number) ", "")).op is FilterOp.gt
    with pytest.raises(ValueError):
        Condition(field="x", op="is roughly")


def test_or_of_and_groups() -> None:
    spec = FilterSpec.model_validate(
        {
            "any": [
                {"all": [{"field": "trigger.transaction.amount", "op": "gt", "value": 100}]},
                {
                    "all": [
                        {"field": "trigger.lead.vip", "op": "true"},
                        {"field": "trigger.lead.email", "op": "contains", "value": "example"},
                    ]
                },
            ]
        }
    )
    assert passes(spec, CTX)
    assert passes(None, CTX)
    rows = explain(spec, CTX)
    assert [(r["group"], r["held"]) for r in rows] == [(0, False), (1, True), (1, True)]
    ctx = {"trigger": {**CTX["trigger"], "lead": {**CTX["trigger"]["lead"], "vip": "no"}}}
    assert not passes(spec, ctx)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(
    data=json_values,
    value=json_values,
    op=st.sampled_from(list(FilterOp)),
    field=st.sampled_from(["trigger", "trigger.a", "trigger.a.0", "trigger.a.b.c", "x"]),
)
def test_filters_never_raise_on_any_json(data: Any, value: Any, op: FilterOp, field: str) -> None:
    context = {"trigger": data if isinstance(data, dict) else {"a": data}}
    result = condition_holds(Condition(field=field, op=op, value=value), context)
    assert isinstance(result, bool)
