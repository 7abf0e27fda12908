"""The settings tables of docs/operator-guide.md, generated from the services' settings classes.

``uv run python deploy/tools/settings_docs.py`` rewrites the block between the two markers;
``--check`` exits 1 when the document is out of date (tests/deploy/test_settings_docs.py runs it),
so a new or changed setting cannot be left undocumented.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from pydantic_settings import BaseSettings

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs" / "operator-guide.md"
BEGIN, END = "<!-- settings:begin -->", "<!-- settings:end -->"
PER_SERVICE_FIRST = ("service_name", "mongodb_database", "http_port")  # common fields each overrides
MAX_DEFAULT = 42


def _default(field: Any) -> str:
    value = field.get_default(call_default_factory=True)
    text = "" if value in ({}, "") else str(value)
    text = text.replace("|", "\\|")
    return text if len(text) <= MAX_DEFAULT else text[:MAX_DEFAULT] + "…"


def _table(rows: list[tuple[str, Any]], prefix: str) -> list[str]:
    lines = ["| variable | default | meaning |", "|---|---|---|"]
    for name, field in rows:
        meaning = (field.description or "").replace("|", "\\|")
        lines.append(f"| `{prefix}{name.upper()}` | `{_default(field)}` | {meaning} |")
    return lines


def render() -> str:
    from kartra_gateway.settings import GatewaySettings
    from kxflow_contracts.runtime.settings import ServiceSettings
    from xero_gateway.settings import XeroGatewaySettings
    from zap_router.settings import RouterSettings

    common = ServiceSettings.model_fields
    services: list[tuple[str, str, type[BaseSettings]]] = [
        ("router", "ROUTER_", RouterSettings),
        ("kartra-gateway", "KARTRA_GW_", GatewaySettings),
        ("xero-gateway", "XERO_GW_", XeroGatewaySettings),
    ]
    prefixes = ", ".join(f"`{p}`" for _, p, _ in services)
    out = [f"Every service (with its prefix: {prefixes}):", ""]
    out += _table([(n, f) for n, f in common.items() if n not in PER_SERVICE_FIRST], "")
    for name, prefix, cls in services:
        fields = cls.model_fields
        own = [n for n in PER_SERVICE_FIRST] + [n for n in fields if n not in common]
        out += ["", f"#### {name} (`{prefix}`)", ""]
        out += _table([(n, fields[n]) for n in own], prefix)
    return "\n".join(out)


def updated(text: str) -> str:
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{BEGIN}\n{render()}\n{END}{tail}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the guide is out of date")
    args = parser.parse_args(argv)
    text = GUIDE.read_text()
    new = updated(text)
    if args.check:
        if new != text:
            print(f"{GUIDE.relative_to(ROOT)}: settings tables out of date; run {Path(__file__).name}")
            return 1
        return 0
    GUIDE.write_text(new)
    return 0


if __name__ == "__main__":
    sys.exit(main())
