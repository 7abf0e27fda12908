"""Console sessions (signed cookie, CSRF, token removal) and business-key search, without a server."""

from __future__ import annotations

import base64
import json
import time

from zap_router.domain.run_search import business_keys, run_matches
from zap_router.entrypoints.console.session import Sessions

TOKENS = {"tok-a": "acme", "tok-b": "globex"}


def test_a_session_names_its_tenant_and_token_and_resists_tampering() -> None:
    sessions = Sessions(b"k" * 32, dict(TOKENS))
    cookie = sessions.open("tok-a")
    assert cookie is not None and "tok-a" not in cookie  # the token itself is never in the cookie
    session = sessions.read(cookie)
    assert session is not None and session.tenant == "acme" and session.token == "tok-a"
    assert sessions.open("nope") is None
    payload, _, sig = cookie.rpartition(".")
    assert sessions.read(payload + "." + sig[:-2] + "AA") is None
    body = json.loads(base64.urlsafe_b64decode(payload))
    forged = base64.urlsafe_b64encode(json.dumps({**body, "t": "globex"}).encode()).decode()
    assert sessions.read(f"{forged}.{sig}") is None  # another tenant under the same signature
    assert Sessions(b"x" * 32, dict(TOKENS)).read(cookie) is None  # another key
    assert sessions.read("x" * 5000) is None


def test_csrf_is_per_session_and_removing_the_token_ends_the_session() -> None:
    tokens = dict(TOKENS)
    sessions = Sessions(b"k" * 32, tokens)
    one, two = sessions.read(sessions.open("tok-a")), sessions.read(sessions.open("tok-a"))
    assert one and two and one.csrf != two.csrf
    cookie = sessions.open("tok-b")
    del tokens["tok-b"]
    assert sessions.read(cookie) is None


def test_an_expired_session_is_refused() -> None:
    sessions = Sessions(b"k" * 32, dict(TOKENS), lifetime_s=-1)
    assert sessions.read(sessions.open("tok-a")) is None
    assert time.time() > 0


def test_the_sign_in_form_token_must_match_its_cookie() -> None:
    sessions = Sessions(b"k" * 32, dict(TOKENS))
    cookie, form = sessions.pre_token()
    assert sessions.pre_ok(cookie, form)
    other, _ = sessions.pre_token()
    assert not sessions.pre_ok(other, form) and not sessions.pre_ok(None, form)


RUN = {
    "trigger": {"lead": {"email": "Ada@Example.com"}, "transaction": {"id": "T-9001", "amount": 97}},
    "steps": {
        "contact": {"output": {"ContactID": "C-1", "Name": "Ada Lovelace"}},
        "invoice": {"output": {"InvoiceNumber": "INV-0042"}},
        "pending": {"output": None},
    },
}


def test_business_keys_come_from_the_trigger_and_the_outputs() -> None:
    keys = business_keys(RUN)
    assert {"ada@example.com", "t-9001", "inv-0042", "ada lovelace", "c-1"} <= set(keys)
    assert run_matches(RUN, "ada@example.com") and run_matches(RUN, "INV-0042")
    assert run_matches(RUN, "lovelace")  # a part of a key, from 3 characters
    assert not run_matches(RUN, "bob@example.com") and not run_matches(RUN, "c-")
    assert run_matches(RUN, "  ")
