"""The match index: tenant isolation, parameters, revisions, and cost independent of other zaps."""

from __future__ import annotations

from typing import Any

import zap_router.domain.matching as matching
from zap_router.domain.matching import ActiveZap, MatchIndex
from zap_router.domain.zaps import ResolvedStep

STEP = ResolvedStep(id="s", action="xero.contact.find", app="xero", connection="x", input={})


def zap(
    zap_id: str, tenant: str = "acme", product: str | None = "123", revision: int = 1, **kw: Any
) -> ActiveZap:
    return ActiveZap(
        zap_id=zap_id,
        tenant=tenant,
        version=1,
        revision=revision,
        name=zap_id,
        trigger_key=kw.get("trigger", "kartra.product.purchased"),
        connection=kw.get("connection", "k1"),
        params={"product_id": product} if product else {},
        param_paths={"product_id": "product.id"},
        filter=None,
        steps=[STEP],
    )


def event(product: str = "123") -> dict[str, Any]:
    return {"connection_id": "k1", "product": {"id": product}}


def ids(found: list[ActiveZap]) -> set[str]:
    return {z.zap_id for z in found}


def test_matches_by_tenant_trigger_connection_and_params() -> None:
    index = MatchIndex()
    for z in [
        zap("a"),
        zap("b", product="999"),
        zap("c", product=None),
        zap("d", tenant="globex"),
        zap("e", connection="k2"),
        zap("f", trigger="kartra.product.refunded"),
    ]:
        index.upsert(z)
    assert ids(index.match("acme", "kartra.product.purchased", "k1", event("123"))) == {"a", "c"}
    assert ids(index.match("acme", "kartra.product.purchased", "k1", event("999"))) == {"b", "c"}
    assert ids(index.match("acme", "kartra.product.purchased", "k1", {"connection_id": "k1"})) == {"c"}
    assert ids(index.match("globex", "kartra.product.purchased", "k1", event())) == {"d"}
    assert index.match("initech", "kartra.product.purchased", "k1", event()) == []
    assert index.wants("acme", "kartra.product.refunded") and not index.wants(
        "globex", "kartra.product.refunded"
    )


def test_param_values_compare_as_text() -> None:
    index = MatchIndex()
    index.upsert(zap("a", product="123"))
    assert ids(index.match("acme", "kartra.product.purchased", "k1", {"product": {"id": 123}})) == {"a"}


def test_revisions_order_changelog_and_store() -> None:
    index = MatchIndex()
    assert index.upsert(zap("a", revision=2))
    assert not index.upsert(zap("a", product="old", revision=1))  # an older record arrives late
    assert ids(index.match("acme", "kartra.product.purchased", "k1", event("123"))) == {"a"}
    assert not index.remove("a", revision=2)
    assert index.remove("a", revision=3)
    assert not index.upsert(zap("a", revision=3))  # disabled at 3: a stale enable at 3 is ignored
    assert index.match("acme", "kartra.product.purchased", "k1", event()) == []
    assert not index.wants("acme", "kartra.product.purchased")


def test_replace_all_drops_zaps_gone_from_the_store() -> None:
    index = MatchIndex()
    index.upsert(zap("a"))
    index.upsert(zap("b"))
    index.replace_all([zap("b", revision=2)], {"a": 2, "b": 2})
    assert ids(index.match("acme", "kartra.product.purchased", "k1", event())) == {"b"}
    assert len(index) == 1


def test_matching_cost_does_not_grow_with_other_zaps(monkeypatch) -> None:
    index = MatchIndex()
    for t in range(100):
        for p in range(100):
            index.upsert(zap(f"z{t}-{p}", tenant=f"t{t}", product=f"p{p}"))
    calls = []
    real = matching.get_path
    monkeypatch.setattr(matching, "get_path", lambda data, path: calls.append(path) or real(data, path))
    found = index.match("t7", "kartra.product.purchased", "k1", event("p42"))
    assert ids(found) == {"z7-42"}
    assert len(calls) == 1  # one lookup per parameter shape, not per zap
