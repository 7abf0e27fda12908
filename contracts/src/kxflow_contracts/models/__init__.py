"""Typed request and response models shared by the catalog (Xero and Kartra resources)."""
