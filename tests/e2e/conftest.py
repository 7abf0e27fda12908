"""System tests: the whole of kxflow as real processes (tests/system_harness.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from system_harness import System, running_system


@pytest.fixture(scope="module")
def system(kafka_bootstrap: str, mongodb_url: str) -> Iterator[System]:
    """One running system shared by a module's tests (starting it costs a few seconds)."""
    with running_system(kafka_bootstrap, mongodb_url) as sys_:
        yield sys_
