"""The assembled catalog of every Kartra and Xero trigger, action and search.

Each app's entries live in their own module (``catalog/kartra.py``, ``catalog/xero.py``) and
register themselves into :data:`CATALOG` through their ``ENTRIES`` list.
"""

from kxflow_contracts.catalog.base import (
    Catalog,
    CatalogEntry,
    CatalogError,
    Delivery,
    Kind,
    NoParams,
    OpenModel,
)


def _build() -> Catalog:
    from kxflow_contracts.catalog import kartra, xero

    catalog = Catalog()
    for module in (kartra, xero):
        catalog.register(*module.ENTRIES)
    return catalog


CATALOG = _build()

__all__ = ["CATALOG", "Catalog", "CatalogEntry", "CatalogError", "Delivery", "Kind", "NoParams", "OpenModel"]
