"""CI proof that ``make bench`` works: ``deploy/local/bench.py --smoke`` with the end-to-end benchmark
(the per-service benchmarks have their own smoke tests) writes every figure to its JSON file and
rewrites the table section of a copy of docs/performance.md. The figures themselves come from the
full run; what must hold even in a tiny run is that nothing was lost, duplicated or dead-lettered
and that the Xero scheduler drew no 429 under the real limits."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.bench, pytest.mark.kafka, pytest.mark.mongo]

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "deploy" / "local" / "bench.py"


def figure(data: dict[str, Any], path: str) -> Any:
    value: Any = data
    for key in path.split("."):
        assert isinstance(value, dict) and key in value, f"{path}: no {key!r}"
        value = value[key]
    return value


def number(data: dict[str, Any], path: str) -> float:
    value = figure(data, path)
    assert isinstance(value, int | float) and not math.isnan(value), f"{path} = {value!r}"
    return float(value)


@pytest.mark.timeout(420)
def test_make_bench_smoke_writes_every_figure(kafka_bootstrap: str, mongodb_url: str, tmp_path: Path) -> None:
    doc = tmp_path / "performance.md"
    doc.write_text("# Performance\n\n<!-- bench:begin -->\nold table\n<!-- bench:end -->\n\nprose stays\n")
    out = tmp_path / "latest.json"
    env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap, "MONGODB_URL": mongodb_url}
    args = ["--smoke", "--only", "bench_e2e", "--json", str(out), "--update-docs", "--docs", str(doc)]
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=400,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    data = json.loads(out.read_text())

    for key in ("date", "nproc", "memory_gb", "cpu", "python", "kafka", "ferretdb", "load_average_end"):
        figure(data, f"machine.{key}")
    floors = ("kafka.produce_per_s", "kafka.consume_per_s", "kafka.single_send_p99_ms", "mongo.inserts_per_s")
    for path in floors:
        assert number(data, f"floors.{path}") > 0

    t = figure(data, "e2e.throughput_mode")
    for q in ("p50", "p95", "p99"):
        number(t, f"fixed_100.first_xero_ms.{q}")
        number(t, f"fixed_100.pipeline_ms.{q}")
    assert figure(t, "fixed_100.finished") == figure(t, "fixed_100.accepted") > 0
    assert t["ladder"], "no rate step ran"
    number(t, "max_sustainable_rate")
    if t["max_sustainable"] is not None:
        number(t, "max_sustainable.pipeline_ms.p99")
    assert number(t, "pipeline_runs_per_s") > 0 and number(t, "xero_calls_per_s") > 0
    for name in ("kartra-gateway", "router", "xero-gateway", "kartra-sandbox", "xero-sandbox"):
        assert number(t, f"peak_rss_mb.{name}") > 20
        number(t, f"cpu_percent_fixed_100.{name}")
    assert t["runs_not_succeeded"] == 0 and t["dlq_records"] == 0

    # Issue 13's per-purchase cost table: every figure there and a number.
    c = figure(data, "e2e.cost")
    assert figure(c, "finished") == figure(c, "accepted") == figure(c, "purchases") > 0
    for name in ("kartra-gateway", "router", "xero-gateway", "kartra-sandbox", "xero-sandbox"):
        assert number(c, f"cpu_ms_per_purchase.{name}") >= 0
    assert number(c, "cpu_ms_services") > 0 and number(c, "cpu_ms_kxflow_all") >= number(c, "cpu_ms_services")
    stores = figure(c, "store_commands_per_purchase")
    assert set(stores) == {"kartra-gateway", "router", "xero-gateway"}
    assert all(stores[s] and all(v > 0 for v in stores[s].values()) for s in stores), stores
    assert number(c, "store_commands_per_purchase_total") > 0
    records = figure(c, "kafka_records_per_purchase")
    assert records.get("kartra.events.v1", 0) >= 1 and number(c, "kafka_records_per_purchase_total") > 0
    assert records.get("xero.commands.v1", 0) >= 3  # contact, invoice, payment
    assert number(c, "xero_calls_per_purchase") >= 3
    assert number(c, "xero_calls_by_resource.PUT Payments") == 1
    for hop, spread in figure(c, "hops_ms").items():
        assert spread["n"] == c["accepted"], f"{hop}: {spread['n']} of {c['accepted']} purchases"
        number(spread, "p50")
        number(spread, "p99")
    number(c, "own_overhead_ms.p50")
    assert number(c, "sandbox_ms_per_purchase.p50") > 0

    r = figure(data, "e2e.real_limits")
    assert 0 < number(r, "utilization") <= 1.0 and number(r, "calls_per_minute") > 0
    assert r["rate_limited_429"] == 0, "the gateway's scheduler drew 429s under Xero's real limits"
    assert r["runs_succeeded"] == r["purchases"]

    measures = [row["measure"] for row in data["table"]]
    assert any("100 purchases/s" in m for m in measures) and any("real limits" in m for m in measures)
    assert any("CPU-ms per purchase" in m for m in measures) and any(m.startswith("hop:") for m in measures)
    text = doc.read_text()
    assert "old table" not in text and "prose stays" in text
    assert "| area | measure | figure |" in text and "Machine:" in text
