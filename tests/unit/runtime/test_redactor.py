"""The redactor is bounded (size and time) and linear: registering never recompiles, and scrubbing
costs the same with 2,000 secrets as with one (issue 11, item 4)."""

from __future__ import annotations

import secrets
import time

import pytest

from kxflow_contracts.runtime.logging import MASK, Redactor


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize("length", [6, 7, 15, 16, 17, 24, 43, 1200])
def test_every_occurrence_at_every_offset_is_scrubbed(length: int) -> None:
    r = Redactor()
    value = secrets.token_urlsafe(length)[:length]
    r.register(value)
    for left in range(0, 20):
        text = "x" * left + value + "/y" + value
        assert r.scrub(text) == "x" * left + MASK + "/y" + MASK


def test_overlapping_and_nested_secrets_leave_nothing() -> None:
    r = Redactor()
    outer = "abcdefghijklmnopqrstuvwxyz0123456789"
    r.register(outer, outer[5:30], "short1")
    out = r.scrub(f"[{outer}] [{outer[5:30]}] short1 {outer[:20]}")
    assert outer[5:30] not in out and "short1" not in out
    assert out.startswith(f"[{MASK}] [{MASK}] {MASK} ")


def test_size_is_bounded_and_old_secrets_are_forgotten() -> None:
    clock = Clock()
    r = Redactor(max_secrets=100, ttl_seconds=60, clock=clock)
    values = [secrets.token_urlsafe(24) for _ in range(5000)]
    r.register(*values)
    assert len(r) == 100
    assert r.scrub(values[-1]) == MASK and r.scrub(values[0]) == values[0]
    clock.now = 30
    r.register(values[-1])  # in use: registered again, kept
    clock.now = 61
    r.register("z" * 20)  # registration drops what expired
    assert r.scrub(values[-1]) == MASK and r.scrub(values[-2]) == values[-2]
    assert len(r) == 2


def test_registering_and_scrubbing_stay_fast_at_2000_secrets() -> None:
    r = Redactor()
    line = "request to /v1/webhooks/kartra/kc_0123456789abcdef/" + "q" * 32 + " " + "w" * 400
    started = time.perf_counter()
    for _ in range(2000):
        r.register(secrets.token_urlsafe(24), secrets.token_urlsafe(16))
        r.scrub(line)  # interleaved, as in a live service: no rebuild may hide behind a scrub
    per_registration = (time.perf_counter() - started) / 2000
    assert per_registration < 0.001, f"{per_registration * 1000:.2f} ms per registration + scrub"
    started = time.perf_counter()
    for _ in range(1000):
        r.scrub(line)
    per_line = (time.perf_counter() - started) / 1000
    assert per_line < 0.0005, f"{per_line * 1000:.3f} ms per log line at 4,000 secrets"
