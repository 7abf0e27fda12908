"""``zapctl catalog`` never cuts a key: the key is the one thing a user copies from the table."""

from __future__ import annotations

from typing import Any

import pytest
from typer.testing import CliRunner

from kxflow_contracts.catalog import CATALOG
from zap_router.entrypoints import cli


@pytest.mark.parametrize("columns", [40, 80, 120])
def test_catalog_table_shows_every_key_whole_at_any_terminal_width(
    columns: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    items = [e.public() for e in CATALOG.of(None, None)]
    assert any(len(e["key"]) > 30 for e in items)  # long keys exist (xero.bank_transaction.…)

    def fake_call(method: str, path: str, **_: Any) -> dict[str, Any]:
        assert (method, path) == ("GET", "/v1/catalog")
        return {"items": items}

    monkeypatch.setattr(cli, "call", fake_call)
    monkeypatch.setenv("COLUMNS", str(columns))
    monkeypatch.setattr(cli, "out", cli.Console(width=columns))
    result = CliRunner().invoke(cli.app, ["catalog"])
    assert result.exit_code == 0, result.output
    cells = {cell.strip() for line in result.output.splitlines() for cell in line.split("│")}
    missing = [e["key"] for e in items if e["key"] not in cells]
    assert missing == []
    assert "…" not in result.output
