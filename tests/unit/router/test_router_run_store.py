"""The run store's in-process compare-and-set helpers (used on FerretDB, where writes are by _id)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from zap_router.adapters.run_store import applied, matches

RUN = {
    "_id": "r_1",
    "status": "running",
    "steps": {"a": {"status": "running", "attempt": 2}, "b": {"status": "waiting"}},
    "replays": 0,
}


def test_matches_compares_dotted_paths_for_equality() -> None:
    assert matches(RUN, {})
    assert matches(RUN, {"status": "running", "steps.a.status": "running", "steps.a.attempt": 2})
    assert not matches(RUN, {"steps.a.attempt": 1})
    assert not matches(RUN, {"steps.c.status": "running"})  # a missing path never matches
    assert not matches(RUN, {"status.x": "running"})  # through a non-document


def test_applied_sets_and_increments_dotted_paths_on_a_copy() -> None:
    at = datetime(2026, 12, 1, tzinfo=UTC)
    update = {
        "$set": {"status": "succeeded", "steps.a.status": "succeeded", "steps.c": {"status": "running"}},
        "$inc": {"replays": 1, "steps.a.redispatches": 1},
    }
    out = applied({**RUN, "updated_at": at}, update)
    assert out["status"] == "succeeded" and out["replays"] == 1
    assert out["steps"]["a"] == {"status": "succeeded", "attempt": 2, "redispatches": 1}
    assert out["steps"]["b"] == {"status": "waiting"}
    assert out["steps"]["c"] == {"status": "running"}
    assert out["updated_at"] == at
    assert RUN["steps"]["a"]["status"] == "running"  # the input is not touched


def test_applied_refuses_operators_it_cannot_mirror() -> None:
    with pytest.raises(ValueError, match=r"\$unset"):
        applied(RUN, {"$unset": {"status": ""}})


def test_value_problem_names_what_the_store_cannot_hold() -> None:
    from zap_router.adapters.run_store import value_problem

    assert value_problem({"lead": {"n": 2**63 - 1, "x": [1, {"a": 1.5}]}}) is None
    assert "64 bits" in (value_problem({"lead": {"n": 18446744073709551616}}) or "")
    assert "NUL" in (value_problem({"lead": {"a\x00b": 1}}) or "")
    assert "'$'" in (value_problem({"lead": [{"$where": 1}]}) or "")
    assert "'.'" in (value_problem({"a.b": 1}) or "")
    assert "inside a list" in (value_problem({"a": [[1, 2]]}) or "")
    assert "not finite" in (value_problem({"a": float("nan")}) or "")
    # MongoDB itself holds what only FerretDB refuses
    assert value_problem({"a.b": [[1]], "c": float("inf")}, ferretdb=False) is None
    assert "64 bits" in (value_problem({"a": -(2**64)}, ferretdb=False) or "")
