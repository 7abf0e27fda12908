"""docs/operator-guide.md lists every setting of every service as the code defines it."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]


def _tool() -> ModuleType:
    path = ROOT / "deploy" / "tools" / "settings_docs.py"
    spec = importlib.util.spec_from_file_location("settings_docs", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_operator_guide_settings_tables_are_current() -> None:
    assert _tool().main(["--check"]) == 0, "run: uv run python deploy/tools/settings_docs.py"


def test_the_check_fails_on_a_missing_setting() -> None:
    tool = _tool()
    text = tool.GUIDE.read_text()
    stale = "\n".join(line for line in text.splitlines() if "XERO_GW_SHARED_RATE_LIMITS" not in line) + "\n"
    assert tool.updated(stale) != stale
    assert tool.updated(text) == text
