"""Fault drills: the whole system as OS processes (tests/system_harness.py) under injected faults."""
