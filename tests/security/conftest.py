"""Security tests: one in-process kxflow (both sandboxes, gateways, router) per module that asks."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from security.inprocess_system import System, threaded_system


@pytest.fixture(scope="module")
def system(kafka_bootstrap: str, mongodb_url: str) -> Iterator[System]:
    with threaded_system(kafka_bootstrap, mongodb_url) as running:
        yield running
