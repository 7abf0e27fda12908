"""Issue 11 (hostile traffic) in the Kartra gateway's pure parts: connection ids checked for shape
before any lookup, a bounded miss cache, numbers out of range rejected with a reason (never a 500),
and ``"N/A"`` empty in every field, including fields passed through by name."""

from __future__ import annotations

import json
from typing import Any

import pytest

from kartra_gateway.adapters.connections import ConnectionRepository
from kartra_gateway.domain import php_form
from kartra_gateway.domain.ids import is_connection_id, new_connection_id
from kartra_gateway.domain.normalize import normalize_ipn, normalize_outbound
from kartra_gateway.domain.payloads import WebhookRejected, parse_body
from kxflow_contracts.runtime.secrets import SecretBox


class CountingCollection:
    """The repository's own edge: ``find_one`` answers nothing and counts its calls."""

    def __init__(self) -> None:
        self.lookups = 0

    async def find_one(self, _: dict[str, Any]) -> None:
        self.lookups += 1


def _repo(col: CountingCollection, size: int = 100) -> ConnectionRepository:
    from cryptography.fernet import Fernet

    return ConnectionRepository(col, SecretBox(Fernet.generate_key().decode()), cache_size=size)  # type: ignore[arg-type]


def test_connection_ids_have_one_shape() -> None:
    assert is_connection_id(new_connection_id())
    junk = (
        "",
        "kc_",
        "kc_0123456789abcdeG",
        "kc_0123456789abcdef0",
        "x" * 8192,
        "../kc_1",
        "KC_0123456789abcdef",
    )
    assert not any(is_connection_id(j) for j in junk)


async def test_junk_ids_are_never_looked_up_and_misses_are_bounded() -> None:
    col = CountingCollection()
    repo = _repo(col, size=100)
    for i in range(2000):
        assert await repo.get(f"{i:08d}" * 1024) is None  # 8 KB of junk
    assert col.lookups == 0
    ids = [new_connection_id() for _ in range(5000)]
    for cid in ids:
        assert await repo.get(cid) is None
    assert col.lookups == 5000
    assert len(repo._cache) == 100  # the bound is the point of the test
    assert await repo.get(ids[-1]) is None and col.lookups == 5000  # a recent miss is still cached


def _ipn(**fields: str) -> dict[str, Any]:
    return {"transaction_type": "sale", "lead_email": "a@b.c", "secret_key": "s3cret", **fields}


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("transaction_quantity", "1e999"),
        ("transaction_quantity", "nan"),
        ("transaction_quantity", "-inf"),
        ("transaction_quantity", "9" * 5000),
        ("transaction_full_amount", "1e999"),
        ("transaction_full_amount", "NaN"),
    ],
)
def test_ipn_numbers_out_of_range_are_rejected_with_the_reason(field: str, value: str) -> None:
    with pytest.raises(WebhookRejected, match="out of range") as caught:
        normalize_ipn(_ipn(**{field: value}), "kc_0", "2024-01-01T00:00:00Z")
    assert len(str(caught.value)) < 200  # a 5,000-digit number is quoted, not echoed


_SCORE = '{"lead": {"id": 1}, "action": "reaches_score", "action_details": {"points": %s}}'


@pytest.mark.parametrize(
    "body",
    [
        _SCORE % "1e999",
        _SCORE % "NaN",
        _SCORE % "Infinity",
        '{"lead": {"id": ' + "7" * 5000 + '}, "action": "assign_tag"}',
    ],
)
def test_json_numbers_out_of_range_are_rejected_with_the_reason(body: str) -> None:
    with pytest.raises(WebhookRejected):
        normalize_outbound(parse_body(body.encode(), "application/json"), "kc_0", "t")


def test_form_keys_of_thousands_of_digits_decode() -> None:
    body = f"a[{'1' * 5000}]=x&a[2]=y"
    assert php_form.decode(body) == {"a": ["y", "x"]}
    assert parse_body(body.encode(), "")["a"] == ["y", "x"]


def test_na_is_empty_in_fields_passed_through_by_name() -> None:
    n = normalize_ipn(
        _ipn(lead_favourite_colour="N/A", lead_first_name="N/A", gdpr_lead_status_ip="N/A"), "kc_0", "t"
    )
    assert n.event is not None
    lead = n.event.model_dump()["lead"]
    assert lead["favourite_colour"] is None
    assert lead["first_name"] is None
    assert lead["gdpr_lead_status_ip"] is None
    body = {
        "lead": {
            "id": "7",
            "nickname": "N/A",
            "extra": {"deep": ["N/A", "kept"]},
            "custom_fields": [{"field_identifier": "f", "field_value": "N/A", "note": "N/A"}],
        },
        "action": "survey_complete",
        "action_details": {"survey": {"survey_id": "1", "questions": [{"answer": "N/A"}]}},
    }
    out = normalize_outbound(json.loads(json.dumps(body)), "kc_0", "t")
    assert out.event is not None
    data = out.event.model_dump()
    assert data["lead"]["nickname"] is None
    assert data["lead"]["extra"] == {"deep": [None, "kept"]}
    assert data["lead"]["custom_fields"][0]["field_value"] is None
    assert data["lead"]["custom_fields"][0]["note"] is None
    assert data["survey"]["questions"][0]["answer"] is None
