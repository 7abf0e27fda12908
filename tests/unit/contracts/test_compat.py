"""The compatibility checker catches every kind of breaking change and allows additive ones."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel

from kxflow_contracts.compat import breaking_changes


class Color(StrEnum):
    red = "red"
    blue = "blue"


class Color2(StrEnum):
    red = "red"


class Inner(BaseModel):
    amount: float


class V1(BaseModel):
    id: str
    inner: Inner
    color: Color
    note: str | None = None


def _s(model: type[BaseModel]) -> dict:
    return model.model_json_schema()


def test_additive_optional_field_is_compatible() -> None:
    class V1b(V1):
        extra: int | None = None

    assert breaking_changes(_s(V1), _s(V1b)) == []


def test_removed_field_breaks() -> None:
    class NoNote(BaseModel):
        id: str
        inner: Inner
        color: Color

    assert any("note: field removed" in p for p in breaking_changes(_s(V1), _s(NoNote)))


def test_new_required_field_breaks() -> None:
    class Req(V1):
        must: str

    assert any("must: field became required" in p for p in breaking_changes(_s(V1), _s(Req)))


def test_nested_type_change_breaks() -> None:
    class Inner2(BaseModel):
        amount: str

    class V2(BaseModel):
        id: str
        inner: Inner2
        color: Color
        note: str | None = None

    assert any("inner.amount: type changed" in p for p in breaking_changes(_s(V1), _s(V2)))


def test_enum_change_breaks() -> None:
    class V2(BaseModel):
        id: str
        inner: Inner
        color: Color2
        note: str | None = None

    assert any("enum changed" in p for p in breaking_changes(_s(V1), _s(V2)))


def test_required_becoming_optional_breaks_consumers() -> None:
    class V2(BaseModel):
        id: str | None = None
        inner: Inner
        color: Color
        note: str | None = None

    assert any("id" in p for p in breaking_changes(_s(V1), _s(V2)))
