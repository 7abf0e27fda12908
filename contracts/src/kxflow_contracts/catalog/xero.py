"""Xero catalog entries (filled in by the xero-gateway work)."""

from kxflow_contracts.catalog.base import CatalogEntry

ENTRIES: list[CatalogEntry] = []
