"""Xero ids put into URL paths are encoded and checked (issue 11, item 5): ``../`` cannot reach
another endpoint, a control character is refused before anything is sent."""

from __future__ import annotations

import pytest

from xero_gateway.domain import actions as act
from xero_gateway.domain.ids import InvalidXeroId, checked_path, path_segment


def test_ids_are_encoded_as_one_segment() -> None:
    assert path_segment("8138a266-fb42-49b2-a104-014b7045753d") == "8138a266-fb42-49b2-a104-014b7045753d"
    assert path_segment("INV-0001") == "INV-0001"
    assert path_segment("a/b?c#d") == "a%2Fb%3Fc%23d"
    assert path_segment("my file.pdf") == "my%20file.pdf"


@pytest.mark.parametrize("bad", ["", " ", ".", "..", "abc\x01", "\x7f", "a" * 256, "x\u0085y"])
def test_bad_ids_are_refused(bad: str) -> None:
    with pytest.raises(InvalidXeroId):
        path_segment(bad)


@pytest.mark.parametrize(
    "path",
    [
        "/api.xro/2.0/Invoices/../Contacts",
        "/api.xro/2.0/Invoices/%2e%2E/Contacts",
        "/a/b\x01",
        "/a?b=1",
        "/a b",
    ],
)
def test_paths_that_change_the_endpoint_are_refused(path: str) -> None:
    with pytest.raises(InvalidXeroId):
        checked_path(path)


def test_a_simple_action_encodes_its_path_ids() -> None:
    spec = act.SPECS["xero.quote.update"]
    req = act.build_request(spec, {"QuoteID": "../Contacts", "Reference": "r"})
    assert req.path == "/api.xro/2.0/Quotes/..%2FContacts"
    checked_path(req.path)
    with pytest.raises(InvalidXeroId, match="control character"):
        act.build_request(spec, {"QuoteID": "q\x00", "Reference": "r"})
