"""Keep the garbage collector off the startup heap.

A service's imports and wiring (pydantic schemas of the catalog, FastAPI routes, OpenTelemetry,
aiokafka…) leave ~100 MB of long-lived objects, and every full (generation 2) collection walks
all of them: in the Kartra intake benchmark those pauses alone made p99 64 ms against 15 ms with
the startup heap frozen (same throughput). ``gc.freeze()`` moves what is alive at the end of
startup to a permanent generation the collector no longer scans; collecting first keeps startup
garbage out of it.
"""

from __future__ import annotations

import gc


def freeze_startup_heap() -> None:
    """Call once, when startup is complete (end of the lifespan's setup)."""
    gc.collect()
    gc.freeze()
