"""``docs/catalog.md`` lists every entry's fields and is regenerated from the catalog."""

from __future__ import annotations

from kxflow_contracts.catalog import CATALOG
from kxflow_contracts.catalog.docs import default_path, render


def test_docs_catalog_is_up_to_date() -> None:
    on_disk = default_path().read_text(encoding="utf-8")
    assert on_disk == render(), "regenerate: uv run python -m kxflow_contracts.catalog.docs"


def test_every_entry_and_declared_field_is_documented() -> None:
    text = render()
    for entry in CATALOG:
        assert f"`{entry.key}`" in text
    assert "| `Phones[].PhoneNumber` | Phone Number (PhoneType=DEFAULT), Fax - Number (PhoneType=FAX)" in text
    assert "`TaxDeclaration.TaxFileNumber` | Tax File Number |" in text
