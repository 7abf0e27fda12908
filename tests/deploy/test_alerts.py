"""The chart's alert rules pass Prometheus' own checker (promtool, built into the cache from the Go
module proxy like helm) and name only metrics; the dashboard's queries too. That each of these
metrics is really exported by the services' /metrics is proven against the running system in
tests/e2e/test_console_browser.py::test_every_alert_and_dashboard_metric_is_exported."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml
from deploy.alert_metrics import RULES, metric_names, used_metrics

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def promtool() -> str:
    out = subprocess.run(
        [str(ROOT / "deploy" / "local" / "promtool.sh")],
        check=True,
        capture_output=True,
        text=True,
        timeout=2400,
    )
    return out.stdout.strip().splitlines()[-1]


def check(promtool: str, path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([promtool, "check", "rules", str(path)], capture_output=True, text=True, timeout=60)


def test_promtool_accepts_the_rules(promtool: str) -> None:
    result = check(promtool, RULES)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_promtool_rejects_a_broken_rule(promtool: str, tmp_path: Path) -> None:
    rules = yaml.safe_load(RULES.read_text())
    rules["groups"][0]["rules"][0]["expr"] = "sum by (group (kxflow_consumer_lag)"
    broken = tmp_path / "broken.yaml"
    broken.write_text(yaml.safe_dump(rules))
    assert check(promtool, broken).returncode != 0


def test_every_alert_of_the_issue_is_there() -> None:
    names = {r["alert"] for g in yaml.safe_load(RULES.read_text())["groups"] for r in g["rules"]}
    assert {
        "KxflowConsumerLagHigh",
        "KxflowDeadLettersGrowing",
        "KxflowRunFailureRatioHigh",
        "KxflowXeroConnectionNeedsReauth",
        "KxflowXeroRateLimited",
        "KxflowXeroDailyBudgetExhausted",
    } <= names


def test_metric_names_are_read_from_promql() -> None:
    expr = (
        'sum by (topic) (increase(a_total{x="y", z=~"w"}[5m]) or rate(b_seconds_bucket[1m]))'
        " / clamp_min(c, 1e-9)"
    )
    assert metric_names(expr) == {"a_total", "b_seconds_bucket", "c"}
    assert {"kxflow_consumer_lag", "kxflow_router_runs_total", "xero_budget_day_remaining"} <= used_metrics()
