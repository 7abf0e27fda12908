"""The per-purchase cost table of ``make bench`` (issue 13): pure arithmetic over what the
end-to-end benchmark collects before and after a fixed-rate phase below saturation.

* CPU-ms per purchase per process, net of the same processes' idle CPU over the same time;
* store commands per purchase by service and command (``kxflow_store_commands_total``, counted by
  ``kxflow_contracts.runtime.mongo`` when ``STORE_COMMAND_METRICS`` is on), net of idle;
* Kafka records per purchase by topic (end offsets before and after);
* Xero calls per purchase (the sandbox's ``api_calls``) and by method and resource;
* a latency breakdown per hop from timestamps the system already writes (see :func:`hops`).
"""

from __future__ import annotations

import math
import re
import statistics
from collections.abc import Iterable, Mapping
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

STORE_METRIC = "kxflow_store_commands"
SANDBOXES = ("kartra-sandbox", "xero-sandbox")

# (name, from, to): the hops of one purchase's first Xero step and the step after it. The names of
# the points are the keys of a trace (see bench_e2e.Timeline.points).
HOPS: tuple[tuple[str, str, str], ...] = (
    ("webhook accepted → run stored, first command sent (xero.commands.v1)", "accepted", "command_sent"),
    ("  (command sent → runs.v1 started published, after it)", "command_sent", "run_stored"),
    ("command sent → consumed and claimed (ledger created_at)", "command_sent", "claimed"),
    ("claimed → Xero request received (sandbox)", "claimed", "xero_request"),
    ("Xero request → answered (inside the sandbox)", "xero_request", "xero_answered"),
    ("Xero answered → answer stored (ledger updated_at)", "xero_answered", "answer_stored"),
    ("answer stored → result published (action-results.v1)", "answer_stored", "result_published"),
    ("result published → result applied (runs.v1 step_done)", "result_published", "result_applied"),
    ("result applied → next command sent", "result_applied", "next_command"),
)
TOTALS: tuple[tuple[str, str, str], ...] = (
    ("webhook accepted → first Xero request received", "accepted", "xero_request"),
    ("webhook accepted → run finished (3 steps)", "accepted", "finished"),
)


def pct(values: list[float], p: int) -> float:
    if not values:
        return math.nan
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[p - 1]


def spread(values: list[float], percentiles: tuple[int, ...] = (50, 99)) -> dict[str, float]:
    """The chosen percentiles and the count (the one definition every bench script uses)."""
    return {**{f"p{p}": pct(values, p) for p in percentiles}, "n": len(values)}


def store_commands(metrics_text: str) -> dict[str, float]:
    """``{"command collection": count}`` from a service's ``/metrics`` page."""
    out: dict[str, float] = {}
    for family in text_string_to_metric_families(metrics_text):
        if family.name != STORE_METRIC:
            continue
        for sample in family.samples:
            if sample.name.endswith("_total"):
                key = f"{sample.labels['command']} {sample.labels['collection']}".strip()
                out[key] = out.get(key, 0.0) + sample.value
    return out


def delta(after: Mapping[str, float], before: Mapping[str, float]) -> dict[str, float]:
    return {k: after[k] - before.get(k, 0.0) for k in after if after[k] - before.get(k, 0.0)}


def net(
    phase: Mapping[str, float], idle: Mapping[str, float], phase_s: float, idle_s: float
) -> dict[str, float]:
    """``phase`` minus the idle rate over the phase's duration (never below zero)."""
    scale = phase_s / idle_s if idle_s > 0 else 0.0
    keys = set(phase) | set(idle)
    return {k: max(0.0, phase.get(k, 0.0) - scale * idle.get(k, 0.0)) for k in keys}


def per_purchase(counts: Mapping[str, float], purchases: int, digits: int = 2) -> dict[str, float]:
    return {k: round(v / purchases, digits) for k, v in sorted(counts.items(), key=lambda kv: -kv[1]) if v}


def xero_resource(method: str, path: str) -> str:
    """``GET Contacts``: the method and the first resource of an API path (ids dropped)."""
    parts = [p for p in path.split("/") if p and not p.endswith(".xro") and not re.match(r"^\d+\.\d+$", p)]
    return f"{method} {parts[0] if parts else path}"


def xero_calls(log: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    out: dict[str, int] = {}
    for entry in log:
        key = xero_resource(str(entry["method"]), str(entry["path"]))
        out[key] = out.get(key, 0) + 1
    return out


def hops(traces: list[dict[str, float | None]]) -> dict[str, dict[str, float]]:
    """p50/p99 in ms of every hop and total over the traces that have both points (ms since epoch)."""
    out: dict[str, dict[str, float]] = {}
    for name, a, b in (*HOPS, *TOTALS):
        values = [float(t[b]) - float(t[a]) for t in traces if t.get(a) is not None and t.get(b) is not None]  # type: ignore[arg-type]
        out[name] = spread(values)
    return out


def own_overhead(traces: list[dict[str, float | None]]) -> dict[str, float]:
    """A run's own overhead: finished − webhook accepted − the time inside the Xero sandbox (the
    sum of its calls' answering times, ``sandbox_ms``)."""
    values = [
        float(t["finished"]) - float(t["accepted"]) - float(t["sandbox_ms"])  # type: ignore[arg-type]
        for t in traces
        if t.get("finished") is not None and t.get("accepted") is not None and t.get("sandbox_ms") is not None
    ]
    return spread(values)
