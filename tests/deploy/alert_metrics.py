"""The metric names the chart's alert rules and Grafana dashboard use (read from the files)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

CHART = Path(__file__).resolve().parents[2] / "deploy" / "helm" / "kxflow"
RULES = CHART / "alerts" / "kxflow-rules.yaml"
DASHBOARD = CHART / "dashboards" / "kxflow.json"

KEYWORDS = {
    "and",
    "or",
    "unless",
    "by",
    "without",
    "on",
    "ignoring",
    "bool",
    "offset",
    "group_left",
    "group_right",
}


def rule_exprs() -> list[str]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return [str(rule["expr"]) for group in groups for rule in group["rules"]]


def panel_exprs() -> list[str]:
    panels = json.loads(DASHBOARD.read_text())["panels"]
    return [target["expr"] for panel in panels for target in panel.get("targets", [])]


def metric_names(expr: str) -> set[str]:
    """Identifiers of a PromQL expression that name series: not functions, keywords, labels or numbers."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', "", expr)  # strings
    text = re.sub(r"\{[^}]*\}", "", text)  # label matchers
    text = re.sub(r"\[[^\]]*\]", "", text)  # ranges
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", text)
    text = re.sub(r"(?<![a-zA-Z0-9_:])\d+(\.\d+)?([eE][+-]?\d+)?", "", text)  # numbers
    names = set()
    for match in re.finditer(r"[a-zA-Z_:][a-zA-Z0-9_:]*", text):
        word = match.group(0)
        rest = text[match.end() :].lstrip()
        if word in KEYWORDS or rest.startswith("("):
            continue
        names.add(word)
    return names


def used_metrics() -> set[str]:
    return {name for expr in rule_exprs() + panel_exprs() for name in metric_names(expr)}


def exported_names(exposition: str) -> set[str]:
    """Every sample name a /metrics page can carry, from its ``# TYPE`` lines (a labelled metric that
    has not been observed yet still has its TYPE line)."""
    out: set[str] = set()
    suffixes = {"counter": ["_total", "_created"], "histogram": ["_bucket", "_sum", "_count", "_created"]}
    for line in exposition.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(maxsplit=3)
            out.add(name)
            out.update(name + s for s in suffixes.get(kind, []))
    return out
