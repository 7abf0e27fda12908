"""The per-purchase cost arithmetic of ``make bench`` (tests/bench/cost.py, issue 13)."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

_spec = importlib.util.spec_from_file_location("bench_cost", Path(__file__).with_name("cost.py"))
assert _spec and _spec.loader
cost = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(cost)

METRICS = """\
# HELP kxflow_store_commands_total MongoDB commands
# TYPE kxflow_store_commands_total counter
kxflow_store_commands_total{collection="runs",command="update"} 30.0
kxflow_store_commands_total{collection="runs",command="insert"} 10.0
kxflow_store_commands_created{collection="runs",command="insert"} 1.7e9
kxflow_dead_letters_total{topic="x",error="E"} 4.0
"""


def test_store_commands_are_read_from_the_metrics_page() -> None:
    assert cost.store_commands(METRICS) == {"update runs": 30.0, "insert runs": 10.0}


def test_idle_work_is_subtracted_at_its_rate() -> None:
    # 10 s idle cost 1 s of CPU; a 20 s phase cost 12 s: 10 s are the purchases'.
    assert cost.net({"router": 12.0}, {"router": 1.0}, phase_s=20.0, idle_s=10.0) == {"router": 10.0}
    assert cost.net({"kafka": 1.0}, {"kafka": 5.0}, 10.0, 10.0) == {"kafka": 0.0}  # never below zero
    assert cost.per_purchase({"a": 10.0, "b": 30.0, "c": 0.0}, 10) == {"b": 3.0, "a": 1.0}


def test_xero_calls_by_method_and_resource() -> None:
    log = [
        {"method": "GET", "path": "/api.xro/2.0/Contacts"},
        {"method": "GET", "path": "/api.xro/2.0/Contacts/8c1b"},
        {"method": "PUT", "path": "/api.xro/2.0/Invoices"},
    ]
    assert cost.xero_calls(log) == {"GET Contacts": 2, "PUT Invoices": 1}


def test_hops_and_own_overhead_from_the_points_of_each_purchase() -> None:
    full = {"accepted": 1000.0, "command_sent": 1030.0, "xero_request": 1100.0, "finished": 1300.0}
    traces = [{**full, "sandbox_ms": 40.0}, {**full, "command_sent": None, "sandbox_ms": 60.0}]
    hops = cost.hops(traces)
    first = hops["webhook accepted → run stored, first command sent (xero.commands.v1)"]
    assert first["p50"] == 30.0 and first["n"] == 1  # a purchase without the point is left out
    assert hops["webhook accepted → first Xero request received"]["p50"] == 100.0
    assert math.isnan(hops["result applied → next command sent"]["p50"])
    assert cost.own_overhead(traces)["p50"] == 250.0  # 300 − 40 and 300 − 60
