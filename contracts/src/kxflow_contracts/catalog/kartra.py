"""Kartra catalog entries (filled in by the kartra-gateway work)."""

from kxflow_contracts.catalog.base import CatalogEntry

ENTRIES: list[CatalogEntry] = []
