"""``make bench``'s kxflow-beside-n8n table (issue 13): n8n is never run in CI, so the table is
proven here on figures shaped as ``bench_n8n.py`` and ``bench_e2e.py`` write them."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("make_bench", ROOT / "deploy" / "local" / "bench.py")
assert _spec and _spec.loader
bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench)


def _step(rate: float, p50: float, key: str, rate_key: str) -> dict:
    return {rate_key: rate, key: {"p50": p50, "p99": 2 * p50}, "answer_ms": {"p50": 3.0, "p99": 9.0}}


def test_a_skipped_n8n_says_why_and_no_n8n_says_nothing() -> None:
    assert bench.side_by_side({"services": {}}) == ""
    text = bench.side_by_side({"services": {}, "n8n": {"skipped": "npm/node not on PATH"}})
    assert "not measured in this run (npm/node not on PATH)" in text


def test_both_systems_side_by_side() -> None:
    kx = [_step(3, 400, "pipeline_ms", "target_rate"), _step(4.5, 450, "pipeline_ms", "target_rate")]
    n8n = [_step(3, 40, "last_xero_ms", "rate"), _step(4.5, 45, "last_xero_ms", "rate")]
    results = {
        "services": {"bench_kartra_intake": {"p99_ms": 12.5, "concurrency": 24}},
        "e2e": {
            "throughput_mode": {"ladder": kx, "max_sustainable": kx[1], "max_sustainable_rate": 4.5},
            "cost": {"rate": 2.0, "cpu_ms_kxflow_all": 95.0, "xero_calls_per_purchase": 5.3},
        },
        "n8n": {
            "version": "1.123.81",
            "guarantees": {"kxflow": "ledger", "n8n": "none"},
            "ladder": n8n,
            "max_sustainable": n8n[1],
            "max_sustainable_rate": 4.5,
            "cost": {"cpu_ms_per_purchase": 50.0, "xero_calls_per_purchase": 4.0},
        },
    }
    text = bench.side_by_side(results)
    assert "| highest sustainable rate | 4.5/s | 4.5/s |" in text
    assert "at 4.5/s: p50 450 ms, p99 900 ms | at 4.5/s: p50 45 ms, p99 90 ms" in text  # nearest 5/s
    assert "95.0 ms" in text and "50.0 ms" in text and "| 5.30 | 4.00 |" in text
    assert "| what it guarantees | ledger | none |" in text
