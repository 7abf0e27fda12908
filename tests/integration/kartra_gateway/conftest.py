"""Fixtures of the kartra-gateway integration tests (defined in kartra_stack.py)."""

from integration.kartra_gateway.kartra_stack import stack

__all__ = ["stack"]
